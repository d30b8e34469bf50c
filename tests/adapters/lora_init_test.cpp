// init_lora: PEFT's initial distributions, the layer subset, and the config errors raised before
// any work.
#include <gtest/gtest.h>

#include <cmath>

#include "adapter_test_util.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/error.h"

using namespace tunekit;

namespace {

struct Moments {
  double mean = 0, var = 0, max_abs = 0;
};

Moments moments(const Tensor& t) {
  const float* p = t.as<float>();
  Moments m;
  for (int64_t i = 0; i < t.numel(); ++i) m.mean += p[i];
  m.mean /= double(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) {
    m.var += (p[i] - m.mean) * (p[i] - m.mean);
    m.max_abs = std::max(m.max_abs, std::fabs(double(p[i])));
  }
  m.var /= double(t.numel() - 1);
  return m;
}

std::string init_error(const LoraConfig& cfg) {
  try {
    init_lora(test::wide_config(), cfg, 1);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LoraInit, PeftDefaultIsKaimingUniformAAndZeroB) {
  const ModelConfig c = test::wide_config();  // d_model 256, d_ff 512
  LoraConfig cfg;
  cfg.rank = 16;
  cfg.targets = {"all-linear"};
  LoraAdapter a = init_lora(c, cfg, 7);
  ASSERT_EQ(a.targets.size(), size_t(kNumLinearModules));
  ASSERT_EQ(a.layers.size(), size_t(c.n_layer));
  for (int l = 0; l < c.n_layer; ++l)
    for (int i = 0; i < kNumLinearModules; ++i) {
      const LoraPair* p = a.find(l, LinearModule(i));
      ASSERT_NE(p, nullptr);
      const auto [d_out, d_in] = module_shape(c, LinearModule(i));
      ASSERT_EQ(p->A.shape, (std::vector<int64_t>{16, d_in}));
      ASSERT_EQ(p->B.shape, (std::vector<int64_t>{d_out, 16}));
      // U(-b, b) with b = 1/sqrt(d_in): inside the bound, mean 0, variance b²/3 (n >= 4096 samples).
      const double bound = 1.0 / std::sqrt(double(d_in));
      Moments m = moments(p->A);
      EXPECT_LE(m.max_abs, bound);
      EXPECT_GT(m.max_abs, 0.97 * bound);
      EXPECT_NEAR(m.mean, 0.0, 0.05 * bound);
      EXPECT_NEAR(m.var, bound * bound / 3, 0.06 * bound * bound / 3);
      EXPECT_EQ(moments(p->B).max_abs, 0.0);
    }
  EXPECT_FLOAT_EQ(a.scale(), 1.0f);  // 16 / 16
}

TEST(LoraInit, GaussianAndBStd) {
  LoraConfig cfg;
  cfg.rank = 4;
  cfg.init = "gaussian";
  cfg.b_std = 0.3;
  cfg.targets = {"down_proj"};
  LoraAdapter a = init_lora(test::wide_config(), cfg, 3);
  const LoraPair* p = a.find(0, LinearModule::down);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(a.find(0, LinearModule::q), nullptr);
  Moments ma = moments(p->A), mb = moments(p->B);  // A ~ N(0, (1/r)²): 2048 samples; B ~ N(0, 0.3²): 1024
  EXPECT_NEAR(std::sqrt(ma.var), 0.25, 0.25 * 0.05);
  EXPECT_NEAR(std::sqrt(mb.var), 0.3, 0.3 * 0.07);
}

TEST(LoraInit, SameSeedSameWeightsAndLayerSubset) {
  LoraConfig cfg;
  cfg.b_std = 0.1;
  cfg.layers = {1};
  cfg.rslora = true;
  const ModelConfig c = test::wide_config();
  LoraAdapter a = init_lora(c, cfg, 11), b = init_lora(c, cfg, 11), d = init_lora(c, cfg, 12);
  EXPECT_EQ(a.find(0, LinearModule::q), nullptr);
  ASSERT_NE(a.find(1, LinearModule::q), nullptr);
  ASSERT_NE(a.find(1, LinearModule::v), nullptr);
  EXPECT_EQ(a.find(1, LinearModule::k), nullptr);
  const Tensor& x = a.find(1, LinearModule::v)->B;
  EXPECT_EQ(0, std::memcmp(x.data, b.find(1, LinearModule::v)->B.data, x.nbytes()));
  EXPECT_NE(0, std::memcmp(x.data, d.find(1, LinearModule::v)->B.data, x.nbytes()));
  EXPECT_FLOAT_EQ(a.scale(), float(16 / std::sqrt(8.0)));
}

TEST(LoraInit, BadConfigsAreClearErrors) {
  auto with = [](auto edit) {
    LoraConfig cfg;
    edit(cfg);
    return init_error(cfg);
  };
  std::string e = with([](LoraConfig& c) { c.targets = {"q_proj", "embed_tokens"}; });
  EXPECT_NE(e.find("unknown target module 'embed_tokens'"), std::string::npos) << e;
  EXPECT_NE(e.find("q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, all-linear"), std::string::npos) << e;
  // wide_config: k/v are [128, 256], so rank 129 does not fit v_proj.
  e = with([](LoraConfig& c) { c.rank = 129; });
  EXPECT_NE(e.find("rank 129 is larger than v_proj"), std::string::npos) << e;
  EXPECT_EQ(with([](LoraConfig& c) { c.rank = 128; }), "");
  EXPECT_NE(with([](LoraConfig& c) { c.rank = 0; }).find("rank must be >= 1"), std::string::npos);
  EXPECT_NE(with([](LoraConfig& c) { c.alpha = 0; }).find("alpha must be positive"), std::string::npos);
  EXPECT_NE(with([](LoraConfig& c) { c.dropout = 1.0; }).find("dropout must be in [0, 1)"), std::string::npos);
  EXPECT_NE(with([](LoraConfig& c) { c.dropout = -0.1; }).find("dropout must be in [0, 1)"), std::string::npos);
  EXPECT_NE(with([](LoraConfig& c) { c.init = "pissa"; }).find("unknown init 'pissa'"), std::string::npos);
  EXPECT_NE(with([](LoraConfig& c) { c.layers = {2}; }).find("layer 2 is outside"), std::string::npos);
  EXPECT_NE(with([](LoraConfig& c) { c.layers = {0, 0}; }).find("listed twice"), std::string::npos);
  EXPECT_NE(with([](LoraConfig& c) { c.targets = {}; }).find("no target modules"), std::string::npos);
}

}  // namespace
