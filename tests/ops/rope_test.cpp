// rope_inv_freq against the transformers formulas worked by hand, and rope against ref::rope.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops_test_util.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"
#include "tunekit/ops/reference.h"

using namespace tunekit;
using ops::RopeConfig;

TEST(Rope, DefaultInvFreq) {
  // inv_freq[i] = theta^(-2i/d): d = 8, theta = 10000 -> 1, 10^-1, 10^-2, 10^-3.
  auto f = ops::rope_inv_freq(RopeConfig{}, 8);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_FLOAT_EQ(f[0], 1.0f);
  EXPECT_FLOAT_EQ(f[1], 0.1f);
  EXPECT_FLOAT_EQ(f[2], 0.01f);
  EXPECT_FLOAT_EQ(f[3], 0.001f);
}

TEST(Rope, LinearScalingDividesByFactor) {
  RopeConfig cfg;
  cfg.scaling = "linear";
  cfg.factor = 4.0;
  auto f = ops::rope_inv_freq(cfg, 8);
  EXPECT_FLOAT_EQ(f[0], 0.25f);
  EXPECT_FLOAT_EQ(f[1], 0.025f);
  EXPECT_FLOAT_EQ(f[3], 0.00025f);
}

TEST(Rope, Llama3Scaling) {
  // theta 10000, d 8: base inv_freq 1, 0.1, 0.01, 0.001; wavelengths 2π/f = 6.283, 62.83, 628.3, 6283.
  // original_max_position 1024, low 1, high 4, factor 8: low_freq_wavelen = 1024, high_freq_wavelen = 256.
  //   i=0, i=1: wavelen < 256 -> unchanged.
  //   i=2: 256 <= 628.3 <= 1024 -> smooth = (1024/628.3 - 1)/(4 - 1) = 0.20991,
  //        f = (1 - smooth) * 0.01/8 + smooth * 0.01 = 0.0030867.
  //   i=3: wavelen > 1024 -> 0.001 / 8 = 0.000125.
  RopeConfig cfg;
  cfg.scaling = "llama3";
  cfg.factor = 8;
  cfg.low_freq_factor = 1;
  cfg.high_freq_factor = 4;
  cfg.original_max_position = 1024;
  auto f = ops::rope_inv_freq(cfg, 8);
  const double pi = 3.14159265358979323846;
  double smooth = (1024.0 / (2 * pi / 0.01) - 1.0) / 3.0;
  EXPECT_NEAR(smooth, 0.20991, 1e-5);
  EXPECT_FLOAT_EQ(f[0], 1.0f);
  EXPECT_FLOAT_EQ(f[1], 0.1f);
  EXPECT_FLOAT_EQ(f[2], float((1 - smooth) * 0.01 / 8 + smooth * 0.01));
  EXPECT_NEAR(f[2], 0.0030867, 1e-7);
  EXPECT_FLOAT_EQ(f[3], 0.000125f);
}

TEST(Rope, Llama32Config) {
  // Llama-3.2-1B: theta 500000, d 64, factor 32, low 1, high 4, original 8192. Spot values:
  //   i=0: 1 (high frequency, unchanged); i=31: 500000^(-62/64) / 32 (wavelength ~ 2.1e6 > 8192).
  RopeConfig cfg{500000.0, "llama3", 32.0, 1.0, 4.0, 8192};
  auto f = ops::rope_inv_freq(cfg, 64);
  EXPECT_FLOAT_EQ(f[0], 1.0f);
  EXPECT_FLOAT_EQ(f[31], float(std::pow(500000.0, -62.0 / 64) / 32));
  // i=20: base 500000^(-40/64) = 2.7895e-4, wavelength 22524 > 8192 -> divided by 32.
  EXPECT_FLOAT_EQ(f[20], float(std::pow(500000.0, -40.0 / 64) / 32));
  // i=12: base 500000^(-24/64) = 7.3e-3, wavelength 860 < 2048 -> unchanged.
  EXPECT_FLOAT_EQ(f[12], float(std::pow(500000.0, -24.0 / 64)));
}

TEST(Rope, RejectsBadConfig) {
  RopeConfig cfg;
  cfg.scaling = "yarn";
  EXPECT_THROW(ops::rope_inv_freq(cfg, 64), Error);
  EXPECT_THROW(ops::rope_inv_freq(RopeConfig{}, 7), Error);
}

TEST(Rope, MatchesReference) {
  for (int64_t d_head : {8, 64, 128}) {
    auto inv_freq = ops::rope_inv_freq(RopeConfig{100000.0}, d_head);
    const int64_t T = 5, n_head = 3;
    std::vector<int32_t> pos = {0, 1, 7, 300, 4095};
    auto x = test::random_normal(size_t(T * n_head * d_head), 9);
    auto want = x;
    ops::rope(x.data(), T, n_head, d_head, pos.data(), inv_freq.data());
    ops::ref::rope(want.data(), T, n_head, d_head, pos.data(), inv_freq.data());
    test::expect_close(x, want, 2e-6, 2e-6, "rope");
  }
}

TEST(Rope, RotatesHalves) {
  // One pair, position 1, inv_freq 1: (a, b) -> (a cos 1 - b sin 1, b cos 1 + a sin 1).
  float inv_freq[1] = {1.0f};
  int32_t pos[1] = {1};
  float v[2] = {2.0f, 3.0f};
  ops::rope(v, 1, 1, 2, pos, inv_freq);
  EXPECT_NEAR(v[0], 2 * std::cos(1.0) - 3 * std::sin(1.0), 1e-6);
  EXPECT_NEAR(v[1], 3 * std::cos(1.0) + 2 * std::sin(1.0), 1e-6);
}
