#include "tunekit/adapters/lora_gguf.h"

#include "models/weight_names.h"
#include "tunekit/error.h"
#include "tunekit/io/gguf.h"

namespace tunekit {

namespace {

const LayerSlot& slot_of(LinearModule m) {
  for (const LayerSlot& s : layer_slots())
    if (s.member == module_weight(m)) return s;
  fail("LoRA GGUF: no GGUF name for ", module_name(m));
}

}  // namespace

void save_lora_gguf(const LoraAdapter& adapter, const ModelConfig& model, const std::filesystem::path& path) {
  adapter.validate(model, path.string());
  const bool interleaved = model.gguf_arch() == "llama";  // save_gguf permutes q/k rows for this arch
  GgufWriter out;
  out.set_string("general.architecture", model.gguf_arch());
  out.set_string("general.type", "adapter");
  out.set_string("general.name", adapter.base_model.empty() ? "tunekit LoRA" : adapter.base_model + " LoRA");
  out.set_string("adapter.type", "lora");
  out.set_f32("adapter.lora.alpha", adapter.scale() * float(adapter.rank));
  int n = 0;
  for (int l = 0; l < model.n_layer; ++l)
    for (int i = 0; i < kNumLinearModules; ++i) {
      const LinearModule m = LinearModule(i);
      const LoraPair* p = adapter.find(l, m);
      if (!p) continue;
      Tensor B = p->B;  // [d_out, r]
      if (interleaved && (m == LinearModule::q || m == LinearModule::k))
        B = rope_rows_half_to_interleaved(B, m == LinearModule::q ? model.n_head : model.n_head_kv);
      const std::string base = gguf_layer_name(l, slot_of(m));
      out.add_tensor(base + ".lora_a", p->A);  // [r, d_in]
      out.add_tensor(base + ".lora_b", B);     // [d_out, r]
      ++n;
    }
  check(n > 0, path.string(), ": the adapter has no LoRA factors to write");
  out.write(path);
}

}  // namespace tunekit
