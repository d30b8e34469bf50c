// forward() with an unmerged LoRA: a zero B leaves the logits bit for bit unchanged, and any
// adapter gives the logits of the merged model (merge itself is checked in double in merge_test).
#include <gtest/gtest.h>

#include <cmath>

#include "adapter_test_util.h"
#include "test_paths.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/adapters/merge.h"
#include "tunekit/models/forward.h"

using namespace tunekit;

namespace {

const std::vector<int32_t> kTokens = {1, 17, 42, 99, 3, 64, 5, 118, 27, 8, 77, 13};

// Logits [T, n_vocab] for kTokens: a prefill of all but the last token, then one decode step
// (so the KV-cache path runs too); all positions of the prefill plus the step's row.
std::vector<float> logits_of(const Model& m, const LoraAdapter* adapter) {
  const int64_t T = int64_t(kTokens.size()), V = m.config.n_vocab;
  KvCache cache(m.config, T);
  Workspace ws;
  std::vector<float> out(size_t(T * V));
  forward(m, kTokens.data(), T - 1, 0, cache, ws, out.data(), true, adapter);
  forward(m, kTokens.data() + T - 1, 1, T - 1, cache, ws, out.data() + (T - 1) * V, false, adapter);
  return out;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

class Unmerged : public ::testing::TestWithParam<std::string> {
 protected:
  Model model() const { return load_model(test::golden_dir() / "models" / GetParam()); }
};

TEST_P(Unmerged, ZeroBLeavesLogitsExactlyUnchanged) {
  Model m = model();
  LoraConfig cfg;
  cfg.rank = 4;
  cfg.targets = {"all-linear"};  // b_std 0: B = 0, A random
  LoraAdapter a = init_lora(m.config, cfg, 1);
  EXPECT_EQ(logits_of(m, &a), logits_of(m, nullptr));
}

TEST_P(Unmerged, MatchesTheMergedModel) {
  Model m = model();
  LoraConfig cfg;
  cfg.rank = 4;
  cfg.alpha = 8;
  cfg.targets = {"all-linear"};
  cfg.b_std = 0.05;
  LoraAdapter a = init_lora(m.config, cfg, 2);
  std::vector<float> unmerged = logits_of(m, &a);
  std::vector<float> merged = logits_of(merge_adapter(m, a, {.dtype = DType::F32}), nullptr);
  std::vector<float> base = logits_of(m, nullptr);
  RecordProperty("unmerged_vs_merged", test::sci(max_abs_diff(unmerged, merged)));
  RecordProperty("adapter_effect", test::sci(max_abs_diff(unmerged, base)));
  EXPECT_LE(max_abs_diff(unmerged, merged), 1e-5f);
  EXPECT_GT(max_abs_diff(unmerged, base), 1e-2f);  // the adapter matters far more than the tolerance
}

// The bf16 golden model has bf16 weights: merged into f32 (W exact in f32 plus the f32 delta).
INSTANTIATE_TEST_SUITE_P(GoldenModels, Unmerged,
                         ::testing::Values("llama_gqa_tied", "mistral_swa", "qwen2_bias", "llama3_rope",
                                           "llama_gqa_tied_bf16"));

TEST(UnmergedQ8, QuantizedBaseWithF32Adapter) {
  // A q8_0 base stays quantized; unmerged LoRA on it equals merging into an f32 copy of the
  // dequantized weights (the same W values the kernels see).
  Model m = convert_weights(load_model(test::golden_dir() / "models/qwen2_bias"), DType::Q8_0);
  LoraConfig cfg;
  cfg.rank = 2;
  cfg.targets = {"q_proj", "down_proj"};
  cfg.b_std = 0.05;
  LoraAdapter a = init_lora(m.config, cfg, 3);
  std::vector<float> unmerged = logits_of(m, &a);
  std::vector<float> merged = logits_of(merge_adapter(m, a, {.dtype = DType::F32}), nullptr);
  // The q8_0 kernels also quantize activations to 8 bits, the f32 merged model does not.
  RecordProperty("unmerged_vs_merged", test::sci(max_abs_diff(unmerged, merged)));
  RecordProperty("adapter_effect", test::sci(max_abs_diff(unmerged, logits_of(m, nullptr))));
  EXPECT_LE(max_abs_diff(unmerged, merged), 1e-2f);  // measured 5e-3
  EXPECT_GT(max_abs_diff(unmerged, logits_of(m, nullptr)), 5e-2f);
}

}  // namespace
