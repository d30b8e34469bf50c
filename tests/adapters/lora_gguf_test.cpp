// llama.cpp LoRA GGUF: the metadata llama.cpp's loader requires, and factors that, applied as
// llama.cpp applies them (W_gguf + alpha/r · lora_b·lora_a), give exactly the merged model's GGUF
// weights, which checks the q/k row permutation against save_gguf's.
#include <gtest/gtest.h>

#include <cmath>

#include "adapter_test_util.h"
#include "test_paths.h"
#include "tunekit/adapters/lora_gguf.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/adapters/merge.h"
#include "tunekit/io/gguf.h"

using namespace tunekit;

namespace {

class LoraGguf : public ::testing::TestWithParam<std::string> {};

TEST_P(LoraGguf, AppliedAsLlamaCppDoesGivesTheMergedGguf) {
  ModelConfig c = test::wide_config();
  c.arch = GetParam();
  Model base = init_random_model(c, 31);
  LoraConfig cfg;
  cfg.rank = 4;
  cfg.alpha = 6;
  cfg.rslora = true;  // llama.cpp only knows alpha / r: the file must carry alpha' = scale · r
  cfg.targets = {"all-linear"};
  cfg.b_std = 0.05;
  LoraAdapter a = init_lora(c, cfg, 32);
  auto dir = test::temp_dir("lora_gguf_" + GetParam());
  save_lora_gguf(a, c, dir / "lora.gguf");
  save_gguf(base, dir / "base.gguf", DType::F32);
  save_gguf(merge_adapter(base, a, {.dtype = DType::F32}), dir / "merged.gguf", DType::F32);

  GgufFile lora = GgufFile::open(dir / "lora.gguf");
  GgufFile g_base = GgufFile::open(dir / "base.gguf"), g_merged = GgufFile::open(dir / "merged.gguf");
  EXPECT_EQ(lora.get_string("general.type"), "adapter");
  EXPECT_EQ(lora.get_string("adapter.type"), "lora");
  EXPECT_EQ(lora.get_string("general.architecture"), g_base.get_string("general.architecture"));
  const double alpha = lora.get_float("adapter.lora.alpha");
  EXPECT_NEAR(alpha, 6.0 / std::sqrt(4.0) * 4.0, 1e-6);
  EXPECT_EQ(lora.tensor_names().size(), size_t(2 * kNumLinearModules * c.n_layer));

  for (const std::string& base_name : g_base.tensor_names()) {
    if (!lora.has_tensor(base_name + ".lora_a")) continue;
    const Tensor& A = lora.tensor(base_name + ".lora_a");  // [r, d_in]
    const Tensor& B = lora.tensor(base_name + ".lora_b");  // [d_out, r]
    const Tensor& W = g_base.tensor(base_name);
    EXPECT_EQ(A.dim(1), W.dim(1)) << base_name;
    EXPECT_EQ(B.dim(0), W.dim(0)) << base_name;
    EXPECT_EQ(A.dim(0), B.dim(1)) << base_name;
    std::vector<double> want = test::merged_reference(W, A, B, alpha / double(B.dim(1)));
    std::vector<float> got = test::values_of(g_merged.tensor(base_name));
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
    EXPECT_LE(worst, 1e-6) << base_name;
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, LoraGguf, ::testing::Values("llama", "qwen2"));

}  // namespace
