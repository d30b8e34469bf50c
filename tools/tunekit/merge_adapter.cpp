// tunekit merge-adapter: fold a PEFT LoRA adapter into its base model and write the result as a
// Hugging Face folder and/or a GGUF; or export the adapter itself as a llama.cpp LoRA GGUF.
#include <cstdio>
#include <optional>

#include "tunekit/adapters/lora_gguf.h"
#include "tunekit/adapters/merge.h"
#include "tunekit/adapters/peft.h"
#include "tunekit/error.h"
#include "tunekit/infer/model_files.h"
#include "tunekit/io/gguf.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

struct MergeArgs {
  std::string model, adapter, tokenizer, out, dtype, gguf, gguf_type, lora_gguf;
};

// --dtype's default: the base's own float type, f32 for a quantized base.
DType default_dtype(const Model& m) {
  const DType t = m.layers.at(0).wq.dtype;
  return t == DType::F16 || t == DType::BF16 ? t : DType::F32;
}

void run(const MergeArgs& a) {
  check(!a.out.empty() || !a.gguf.empty() || !a.lora_gguf.empty(),
        "merge-adapter: nothing to write; pass --out DIR (HF folder), --gguf FILE and/or --lora-gguf FILE");
  std::optional<std::filesystem::path> tok_path;
  if (!a.tokenizer.empty()) tok_path = a.tokenizer;
  Model base = load_model(a.model);
  const LoraAdapter adapter = load_peft_adapter(a.adapter, base.config);
  if (!a.lora_gguf.empty()) {
    save_lora_gguf(adapter, base.config, a.lora_gguf);
    std::fprintf(stderr, "wrote %s (llama.cpp LoRA adapter, r %lld, %zu target modules)\n", a.lora_gguf.c_str(),
                 (long long)adapter.rank, adapter.targets.size());
  }
  if (a.out.empty() && a.gguf.empty()) return;

  const DType dtype = a.dtype.empty() ? default_dtype(base) : dtype_from_name(a.dtype);
  const DType gguf_type = a.gguf_type.empty() ? dtype : dtype_from_name(a.gguf_type);
  // Merged in f32 so that the one rounding happens when each output is written.
  const Model merged = merge_adapter(base, adapter, {.dtype = DType::F32});
  if (!a.out.empty()) {
    std::error_code ec;
    check(!std::filesystem::exists(a.out) || std::filesystem::is_directory(a.out), a.out,
          ": exists and is not a folder (--out is an HF model folder)");
    check(!std::filesystem::exists(a.model) || !std::filesystem::equivalent(a.out, a.model, ec), a.out,
          ": is the base model's own folder; choose a new --out folder");
    save_hf(merged, a.out, dtype);
    int n = copy_tokenizer_files(a.model, tok_path, a.out);
    std::fprintf(stderr, "wrote %s (merged model, %s%s)\n", a.out.c_str(), dtype_name(dtype),
                 n ? ", tokenizer files" : "; no tokenizer files: pass --tokenizer to include them");
  }
  if (!a.gguf.empty()) {
    auto tok = load_tokenizer_for_model(a.model, tok_path);
    save_gguf(merged, a.gguf, gguf_type,
              [&](GgufWriter& w) { write_gguf_vocab_for_model(*tok, w, merged.config.n_vocab); });
    std::fprintf(stderr, "wrote %s (merged model GGUF, %s, with tokenizer)\n", a.gguf.c_str(), dtype_name(gguf_type));
  }
}

}  // namespace

void add_merge_adapter(CLI::App& app) {
  auto a = std::make_shared<MergeArgs>();
  auto* cmd = app.add_subcommand(
      "merge-adapter",
      "Merge a PEFT LoRA adapter into its base model (W + alpha/r * B*A) and write an HF folder and/or a GGUF;\n"
      "or write the adapter as a llama.cpp LoRA GGUF (--lora-gguf) to apply at run time with llama.cpp --lora.\n"
      "Example: tunekit merge-adapter --model base/ --adapter my-lora/ --out merged/ --gguf merged.gguf");
  cmd->add_option("--model,-m", a->model, "base model: HF folder, .gguf file or llama2.c .bin checkpoint")->required();
  cmd->add_option("--adapter,-a", a->adapter, "PEFT adapter folder (adapter_config.json + adapter_model.safetensors)")
      ->required();
  cmd->add_option("--out,-o", a->out, "write the merged model as an HF folder (config.json, model.safetensors, tokenizer)");
  cmd->add_option("--dtype", a->dtype, "weight type of --out: f32, f16, bf16 (default: the base's, f32 for a quantized base)")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
  cmd->add_option("--gguf", a->gguf, "write the merged model as a GGUF file (with the tokenizer)");
  cmd->add_option("--gguf-type", a->gguf_type, "weight type of --gguf: f32, f16, bf16, q8_0, q4_0 (default: as --dtype)")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0"}));
  cmd->add_option("--lora-gguf", a->lora_gguf, "write the adapter (not merged) as a llama.cpp LoRA GGUF file");
  cmd->add_option("--tokenizer,-t", a->tokenizer, "tokenizer to include (default: the base model's own)");
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
