// A real PEFT adapter (shared/adapters/peft-lora-qwen2.5-0.5b-instruct-r8-qv: r 8, alpha 16, q_proj
// and v_proj of 24 layers) on a random base of Qwen2.5-0.5B's shapes (bf16 to save memory).
#include <gtest/gtest.h>

#include <cmath>

#include "adapter_test_util.h"
#include "test_paths.h"
#include "tunekit/adapters/merge.h"
#include "tunekit/adapters/peft.h"
#include "tunekit/io/safetensors.h"
#include "tunekit/models/forward.h"

using namespace tunekit;

namespace {

constexpr const char* kAdapter = "adapters/peft-lora-qwen2.5-0.5b-instruct-r8-qv";

ModelConfig qwen25_05b() {
  ModelConfig c;
  c.arch = "qwen2";
  c.n_vocab = 151936;
  c.d_model = 896;
  c.d_ff = 4864;
  c.n_layer = 24;
  c.n_head = 14;
  c.n_head_kv = 2;
  c.d_head = 64;
  c.n_ctx = 32768;
  c.rms_eps = 1e-6;
  c.rope.theta = 1000000.0;
  c.tied_embeddings = true;
  c.qkv_bias = true;
  c.bos_id = 151643;
  c.eos_id = 151645;
  return c;
}

// One test, so that ctest's process per test builds the 0.5B-parameter base once (~20 s).
TEST(RealAdapter, LoadsMergesAsWPlusAlphaOverRTimesBAAndRunsUnmerged) {
  TUNEKIT_REQUIRE_SHARED(kAdapter);
  const auto dir = test::shared_dir() / kAdapter;
  const Model base = convert_weights(init_random_model(qwen25_05b(), 5), DType::BF16);
  LoraAdapter a = load_peft_adapter(dir, base.config);
  EXPECT_EQ(a.rank, 8);
  EXPECT_EQ(a.alpha, 16);
  EXPECT_EQ(a.targets, (std::vector<LinearModule>{LinearModule::q, LinearModule::v}));
  EXPECT_EQ(a.base_model, "Qwen/Qwen2.5-0.5B-Instruct");

  Model merged = merge_adapter(base, a);  // bf16, like the base
  Model merged32 = merge_adapter(base, a, {.dtype = DType::F32});
  // The factors straight from the file (not through load_peft_adapter).
  TensorFile file = read_safetensors(dir / "adapter_model.safetensors");
  for (int l : {0, 11, 23})
    for (LinearModule m : {LinearModule::q, LinearModule::v}) {
      const std::string stem = "base_model.model.model.layers." + std::to_string(l) + ".self_attn." + module_name(m);
      const Tensor& B = file.get(stem + ".lora_B.weight");
      std::vector<double> want = test::merged_reference(base.layers[l].*module_weight(m),
                                                        file.get(stem + ".lora_A.weight"), B, 16.0 / 8.0);
      std::vector<float> got = test::values_of(merged.layers[l].*module_weight(m));
      std::vector<float> got32 = test::values_of(merged32.layers[l].*module_weight(m));
      std::vector<float> w = test::values_of(base.layers[l].*module_weight(m));
      double worst = 0, worst32 = 0, change = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        const double mag = std::max(std::fabs(want[i]), 1e-30);
        worst = std::max(worst, std::fabs(got[i] - want[i]) / mag);
        worst32 = std::max(worst32, std::fabs(got32[i] - want[i]) / mag);
        change = std::max(change, std::fabs(want[i] - w[i]));
      }
      EXPECT_LE(worst, 0x1p-8 + 0x1p-23) << stem;  // rounded once to bf16
      EXPECT_LE(worst32, 0x1p-23) << stem;         // rounded once to f32
      EXPECT_GT(change, 1e-4) << stem;             // the trained B is not zero
    }
  // Modules without a LoRA are the base's own tensors.
  for (int l = 0; l < 24; ++l)
    for (LinearModule m : {LinearModule::k, LinearModule::o, LinearModule::gate, LinearModule::up, LinearModule::down})
      ASSERT_EQ((merged.layers[l].*module_weight(m)).data, (base.layers[l].*module_weight(m)).data);
  EXPECT_EQ(merged.tok_embeddings.data, base.tok_embeddings.data);
  EXPECT_EQ(merged.layers[5].bq.data, base.layers[5].bq.data);

  // Unmerged on the bf16 base vs the f32-merged model: the same logits.
  const std::vector<int32_t> tokens = {151643, 785, 6722, 315, 9625, 374};
  auto run = [&](const Model& m, const LoraAdapter* lora) {
    KvCache cache(m.config, int64_t(tokens.size()));
    Workspace ws;
    std::vector<float> logits(size_t(m.config.n_vocab));
    forward(m, tokens.data(), int64_t(tokens.size()), 0, cache, ws, logits.data(), false, lora);
    return logits;
  };
  std::vector<float> unmerged = run(base, &a), want = run(merged32, nullptr), plain = run(base, nullptr);
  float diff = 0, effect = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::fabs(unmerged[i] - want[i]));
    effect = std::max(effect, std::fabs(plain[i] - want[i]));
  }
  RecordProperty("unmerged_vs_merged", test::sci(diff));
  RecordProperty("adapter_effect", test::sci(effect));
  EXPECT_LE(diff, 1e-4f);
  EXPECT_GT(effect, 1e-2f);
}

}  // namespace
