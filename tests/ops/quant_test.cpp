// Codecs against hand-built blocks (values derived by hand from the ggml format definitions) and
// round-trip error bounds that follow from each format.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "ops/ops_test_util.h"
#include "ops/quant_blocks.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

using namespace tunekit;
using namespace tunekit::ops;

namespace {

std::vector<float> dequantized(const void* blocks, DType dtype, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize(blocks, dtype, n, out.data());
  return out;
}

std::vector<uint8_t> quantized(const std::vector<float>& x, DType dtype) {
  std::vector<uint8_t> out(dtype_bytes(dtype, int64_t(x.size())));
  quantize(x.data(), dtype, int64_t(x.size()), out.data());
  return out;
}

double rms_error(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / double(a.size()));
}

}  // namespace

TEST(Quant, Q8_0HandBuiltBlock) {
  BlockQ8_0 b{};
  b.d = 0x3800;  // f16 0.5
  b.qs[0] = 1, b.qs[1] = -127, b.qs[2] = -128, b.qs[3] = 127, b.qs[31] = 3;
  auto y = dequantized(&b, DType::Q8_0, 32);
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[1], -63.5f);
  EXPECT_EQ(y[2], -64.0f);
  EXPECT_EQ(y[3], 63.5f);
  EXPECT_EQ(y[4], 0.0f);
  EXPECT_EQ(y[31], 1.5f);
}

TEST(Quant, Q8_0QuantizesLikeGgml) {
  // amax 2.54 -> d = 0.02, q = round(x / d): 2.54 -> 127, -1.0 -> -50, 0.01 -> round(0.5) = 1.
  std::vector<float> x(32, 0.0f);
  x[0] = 2.54f, x[1] = -1.0f, x[2] = 0.01f;
  auto q = quantized(x, DType::Q8_0);
  BlockQ8_0 b;
  std::memcpy(&b, q.data(), sizeof b);
  EXPECT_EQ(b.d, f32_to_f16(2.54f / 127.0f));
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], -50);
  EXPECT_EQ(b.qs[2], 1);
  EXPECT_EQ(b.qs[3], 0);
}

TEST(Quant, Q4_0HandBuiltBlock) {
  BlockQ4_0 b{};
  b.d = 0x4000;  // f16 2.0
  for (auto& q : b.qs) q = 0x88;  // every value (8 - 8) * 2 = 0
  b.qs[0] = 0x1F;  // value 0: (15 - 8) * 2 = 14; value 16: (1 - 8) * 2 = -14
  b.qs[15] = 0x08 | 0x00;  // value 15: 0; value 31: (0 - 8) * 2 = -16
  auto y = dequantized(&b, DType::Q4_0, 32);
  EXPECT_EQ(y[0], 14.0f);
  EXPECT_EQ(y[16], -14.0f);
  EXPECT_EQ(y[15], 0.0f);
  EXPECT_EQ(y[31], -16.0f);
  EXPECT_EQ(y[5], 0.0f);
}

TEST(Quant, Q4_0QuantizesLikeGgml) {
  // The largest magnitude is -4 -> d = -4 / -8 = 0.5; x / d + 8.5 truncated: -4 -> 0, 3.5 -> 15, 1.2 -> 10.
  std::vector<float> x(32, 0.0f);
  x[0] = -4.0f, x[1] = 3.5f, x[17] = 1.2f;
  auto q = quantized(x, DType::Q4_0);
  BlockQ4_0 b;
  std::memcpy(&b, q.data(), sizeof b);
  EXPECT_EQ(b.d, 0x3800);
  EXPECT_EQ(b.qs[0] & 0xF, 0);
  EXPECT_EQ(b.qs[1] & 0xF, 15);
  EXPECT_EQ(b.qs[1] >> 4, 10);
  EXPECT_EQ(b.qs[2], 0x88);
  // When the largest magnitude is positive it maps to -8 through a negative d: the sign trick.
  x[0] = 4.0f;
  q = quantized(x, DType::Q4_0);
  std::memcpy(&b, q.data(), sizeof b);
  EXPECT_EQ(f16_to_f32(b.d), -0.5f);
  EXPECT_EQ(dequantized(&b, DType::Q4_0, 32)[0], 4.0f);
}

TEST(Quant, Q4_KHandBuiltBlock) {
  // Sub-block scales and mins (6 bits), packed by hand into the 12 bytes:
  //   sc = 1 2 3 4 17 33 63 40,  m = 0 1 5 63 16 32 48 7
  //   bytes 0-3:  sc[j] | (sc[j+4] >> 4) << 6  = 65 130 195 132
  //   bytes 4-7:  m[j]  | (m[j+4] >> 4) << 6   = 64 129 197 63
  //   bytes 8-11: (sc[j+4] & 15) | (m[j+4] & 15) << 4 = 1 1 15 120
  const int sc[8] = {1, 2, 3, 4, 17, 33, 63, 40}, m[8] = {0, 1, 5, 63, 16, 32, 48, 7};
  BlockQ4_K b{};
  b.d = 0x3C00;     // 1.0
  b.dmin = 0x3800;  // 0.5
  const uint8_t packed[12] = {65, 130, 195, 132, 64, 129, 197, 63, 1, 1, 15, 120};
  std::memcpy(b.scales, packed, 12);
  for (int i = 0; i < 128; ++i) b.qs[i] = uint8_t((i % 16) | ((15 - i % 16) << 4));
  auto y = dequantized(&b, DType::Q4_K, 256);
  for (int v = 0; v < 256; ++v) {
    int chunk = v / 64, within = v % 64, sub = v / 32;  // 64 values per 32 bytes: low nibbles, then high
    uint8_t byte = b.qs[32 * chunk + within % 32];
    int q = within < 32 ? (byte & 0xF) : (byte >> 4);
    EXPECT_EQ(y[size_t(v)], 1.0f * sc[sub] * q - 0.5f * m[sub]) << "value " << v;
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t s, mm;
    q4_k_scale_min(b.scales, j, s, mm);
    EXPECT_EQ(s, sc[j]);
    EXPECT_EQ(mm, m[j]);
  }
}

TEST(Quant, Q6_KHandBuiltBlock) {
  BlockQ6_K b{};
  b.d = 0x3400;  // 0.25
  for (int s = 0; s < 16; ++s) b.scales[s] = int8_t(s % 2 ? -(s + 1) : s + 1);
  // All-zero bits are q = 0 - 32 = -32. Byte ql[0] = 0x21 gives value 0 low bits 1 and value 64 low
  // bits 2; qh[0] = 0b11'10'01'00 gives high bits 0, 1, 2, 3 to values 0, 32, 64, 96.
  b.ql[0] = 0x21;
  b.qh[0] = 0xE4;
  // Second half: ql[64 + 37] = 0x5F -> value 128 + 32 + 5 (low 15) and value 128 + 96 + 5 (low 5);
  // qh[32 + 5] = 0b01'00'00'11 -> value 133 high 3, value 229 high 1.
  b.ql[64 + 37] = 0x5F;
  b.qh[32 + 5] = 0x43;
  auto y = dequantized(&b, DType::Q6_K, 256);
  auto expect = [&](int v, int q) { EXPECT_EQ(y[size_t(v)], 0.25f * float(b.scales[v / 16]) * float(q)) << v; };
  expect(0, (1 | 0 << 4) - 32);    // -31
  expect(32, (0 | 1 << 4) - 32);   // -16
  expect(64, (2 | 2 << 4) - 32);   // 2
  expect(96, (0 | 3 << 4) - 32);   // 16
  expect(133, (0 | 3 << 4) - 32);  // 16
  expect(165, (15 | 0 << 4) - 32); // -17
  expect(229, (5 | 1 << 4) - 32);  // -11
  expect(1, -32);
  expect(255, -32);
  EXPECT_EQ(y[1], 0.25f * 1 * -32);
  EXPECT_EQ(y[255], 0.25f * -16 * -32);
}

TEST(Quant, NF4HandBuiltBlock) {
  BlockNF4 b{};
  b.absmax = 2.0f;
  for (auto& q : b.qs) q = 0x77;  // level 7 = 0
  b.qs[0] = 0xF0;  // value 0: level 0 = -1; value 32: level 15 = 1
  b.qs[1] = 0x87;  // value 1: 0; value 33: level 8
  auto y = dequantized(&b, DType::NF4, 64);
  EXPECT_EQ(y[0], -2.0f);
  EXPECT_EQ(y[32], 2.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[33], 0.07958029955625534f * 2.0f);
  EXPECT_EQ(y[2], 0.0f);
}

TEST(Quant, NF4LevelsAreTheNormalQuantiles) {
  // QLoRA's construction: 8 positive quantiles of N(0,1) at linspace(0.5 + 0.5/... ) - checked here only
  // through the defining properties: symmetric ends, an exact zero, strictly increasing.
  EXPECT_EQ(kNF4Levels[0], -1.0f);
  EXPECT_EQ(kNF4Levels[7], 0.0f);
  EXPECT_EQ(kNF4Levels[15], 1.0f);
  for (int i = 1; i < 16; ++i) EXPECT_LT(kNF4Levels[i - 1], kNF4Levels[i]);
}

TEST(Quant, F16AndBf16VectorPathsMatchScalarConversions) {
  std::mt19937 rng(7);
  std::vector<float> x(4096);
  for (float& v : x) {
    uint32_t bits = rng();
    if ((bits & 0x7f800000) == 0x7f800000) bits &= 0xbfffffff;  // no NaN / inf patterns
    std::memcpy(&v, &bits, 4);
  }
  x[0] = 65519.0f, x[1] = 65520.0f, x[2] = 5.96e-8f, x[3] = -2.98e-8f, x[4] = 1e-40f;  // f16 edge cases
  std::vector<uint16_t> h(x.size()), bf(x.size());
  quantize(x.data(), DType::F16, int64_t(x.size()), h.data());
  quantize(x.data(), DType::BF16, int64_t(x.size()), bf.data());
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(h[i], f32_to_f16(x[i])) << i << " " << x[i];
    ASSERT_EQ(bf[i], f32_to_bf16(x[i])) << i << " " << x[i];
  }
  auto hf = dequantized(h.data(), DType::F16, int64_t(h.size()));
  auto bff = dequantized(bf.data(), DType::BF16, int64_t(bf.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(hf[i], f16_to_f32(h[i]));
    ASSERT_EQ(bff[i], bf16_to_f32(bf[i]));
  }
  float nan = std::nanf("");
  uint16_t out;
  quantize(&nan, DType::BF16, 1, &out);
  EXPECT_TRUE(std::isnan(bf16_to_f32(out)));
}

TEST(Quant, RoundTripErrorBoundsPerBlock) {
  auto x = test::random_normal(256 * 16, 11);
  for (size_t i = 0; i < 64; ++i) x[i] *= 100.0f;  // one block of large values
  for (size_t i = 64; i < 128; ++i) x[i] = 0.0f;   // one all-zero block
  const int64_t n = int64_t(x.size());
  auto check_blocks = [&](DType dtype, int64_t block, auto bound) {
    auto y = dequantized(quantized(x, dtype).data(), dtype, n);
    for (int64_t b = 0; b < n / block; ++b) {
      float amax = 0;
      for (int64_t i = 0; i < block; ++i) amax = std::max(amax, std::fabs(x[size_t(b * block + i)]));
      for (int64_t i = 0; i < block; ++i) {
        size_t k = size_t(b * block + i);
        ASSERT_LE(std::fabs(y[k] - x[k]), bound(amax)) << dtype_name(dtype) << " value " << k;
      }
    }
  };
  // Q8_0: half a step of d = amax/127, plus the f16 rounding of d (relative 2^-11) over 127 steps.
  check_blocks(DType::Q8_0, 32, [](float amax) { return amax * (0.5f / 127 + 127.0f / 127 / 2048) * 1.001f; });
  // Q4_0: |d| = amax/8; values of the sign opposite to the extreme clamp at +7, so up to one step.
  check_blocks(DType::Q4_0, 32, [](float amax) { return amax / 8 * (1 + 8.0f / 2048) * 1.001f; });
  // NF4: half the widest gap between neighbouring levels (-1 to -0.6962) times absmax.
  check_blocks(DType::NF4, 64, [](float amax) { return amax * (1.0f - 0.6961928009986877f) / 2 * 1.0001f; });
  check_blocks(DType::F16, 1, [](float amax) { return amax * (1.0f / 2048); });
  check_blocks(DType::BF16, 1, [](float amax) { return amax * (1.0f / 256); });
}

TEST(Quant, KQuantsAreCloseToTheFormatsIdeal) {
  // The ideal of each format with unquantized sub-block scales: Q4_K, 4-bit levels spanning each
  // 32-value sub-block's [min(x, 0), max x]; Q6_K, symmetric 6-bit levels (-32..31) with the
  // extreme value at -32. Our blocks (with 6-bit / int8 quantized scales) must not be worse than 3%.
  auto x = test::random_normal(256 * 64, 12);
  const int64_t n = int64_t(x.size());
  std::vector<float> ideal4(x.size()), ideal6(x.size());
  for (int64_t s = 0; s < n / 32; ++s) {
    const float* v = x.data() + 32 * s;
    float lo = 0, hi = v[0];
    for (int i = 0; i < 32; ++i) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
    float step = (hi - lo) / 15;
    for (int i = 0; i < 32; ++i) ideal4[size_t(32 * s + i)] = lo + step * std::nearbyint((v[i] - lo) / step);
  }
  for (int64_t s = 0; s < n / 16; ++s) {
    const float* v = x.data() + 16 * s;
    float max = 0;
    for (int i = 0; i < 16; ++i) max = std::fabs(v[i]) > std::fabs(max) ? v[i] : max;
    float step = max / -32;
    for (int i = 0; i < 16; ++i)
      ideal6[size_t(16 * s + i)] = step * std::clamp(std::nearbyint(v[i] / step), -32.0f, 31.0f);
  }
  double e4 = rms_error(dequantized(quantized(x, DType::Q4_K).data(), DType::Q4_K, n), x);
  double e6 = rms_error(dequantized(quantized(x, DType::Q6_K).data(), DType::Q6_K, n), x);
  EXPECT_LE(e4, 1.03 * rms_error(ideal4, x)) << "ideal " << rms_error(ideal4, x);
  EXPECT_LE(e6, 1.03 * rms_error(ideal6, x)) << "ideal " << rms_error(ideal6, x);
  RecordProperty("q4_k_rmse", std::to_string(e4));
  RecordProperty("q6_k_rmse", std::to_string(e6));
}

TEST(Quant, ConvertKeepsShapeAndRejectsBadRows) {
  auto x = test::random_normal(4 * 64, 3);
  Tensor t = Tensor::zeros(DType::F32, {4, 64});
  std::memcpy(t.data, x.data(), x.size() * 4);
  Tensor q = convert(t, DType::NF4);
  EXPECT_EQ(q.dtype, DType::NF4);
  EXPECT_EQ(q.shape, t.shape);
  Tensor back = convert(q, DType::F32);
  auto want = dequantized(quantized(x, DType::NF4).data(), DType::NF4, int64_t(x.size()));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(back.as<float>()[i], want[i]);
  EXPECT_THROW(convert(t, DType::Q4_K), Error);        // 64 is not a multiple of 256
  EXPECT_THROW(quantize(x.data(), DType::Q8_0, 33, nullptr), Error);
  EXPECT_THROW(dequantize(x.data(), DType::I32, 32, nullptr), Error);
}

// Random block bytes (finite f16 scales) decoded by the codecs against each format's definition
// written out here value by value, in the definition's own f32 operation order.
TEST(Quant, RandomBlocksDecodeAsTheFormatsDefine) {
  std::mt19937 rng(21);
  auto random_bytes = [&](void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) static_cast<uint8_t*>(p)[i] = uint8_t(rng());
  };
  auto random_half = [&] { return f32_to_f16(std::ldexp(float(rng() % 2048) / 2048.0f + 0.5f, int(rng() % 9) - 6)); };
  const int n_blocks = 8;

  std::vector<BlockQ8_0> q8(n_blocks);
  std::vector<BlockQ4_0> q4(n_blocks);
  std::vector<BlockQ4_K> q4k(n_blocks);
  std::vector<BlockQ6_K> q6k(n_blocks);
  std::vector<BlockNF4> nf4(n_blocks);
  random_bytes(q8.data(), q8.size() * sizeof(BlockQ8_0));
  random_bytes(q4.data(), q4.size() * sizeof(BlockQ4_0));
  random_bytes(q4k.data(), q4k.size() * sizeof(BlockQ4_K));
  random_bytes(q6k.data(), q6k.size() * sizeof(BlockQ6_K));
  random_bytes(nf4.data(), nf4.size() * sizeof(BlockNF4));
  for (int b = 0; b < n_blocks; ++b) {
    q8[b].d = random_half(), q4[b].d = random_half(), q4k[b].d = random_half(), q4k[b].dmin = random_half();
    q6k[b].d = random_half(), nf4[b].absmax = float(rng() % 1000) / 37.0f;
  }

  auto y = dequantized(q8.data(), DType::Q8_0, 32 * n_blocks);
  for (int v = 0; v < 32 * n_blocks; ++v)
    ASSERT_EQ(y[size_t(v)], f16_to_f32(q8[v / 32].d) * float(q8[v / 32].qs[v % 32])) << "q8_0 value " << v;

  y = dequantized(q4.data(), DType::Q4_0, 32 * n_blocks);
  for (int v = 0; v < 32 * n_blocks; ++v) {
    const BlockQ4_0& blk = q4[v / 32];
    int j = v % 32, q = j < 16 ? (blk.qs[j] & 0xF) : (blk.qs[j - 16] >> 4);
    ASSERT_EQ(y[size_t(v)], f16_to_f32(blk.d) * float(q - 8)) << "q4_0 value " << v;
  }

  y = dequantized(nf4.data(), DType::NF4, 64 * n_blocks);
  for (int v = 0; v < 64 * n_blocks; ++v) {
    const BlockNF4& blk = nf4[v / 64];
    int j = v % 64, q = j < 32 ? (blk.qs[j] & 0xF) : (blk.qs[j - 32] >> 4);
    ASSERT_EQ(y[size_t(v)], kNF4Levels[q] * blk.absmax) << "nf4 value " << v;
  }

  y = dequantized(q6k.data(), DType::Q6_K, 256 * n_blocks);
  for (int v = 0; v < 256 * n_blocks; ++v) {
    const BlockQ6_K& blk = q6k[v / 256];
    // value w of a block: half h = w / 128, quarter = (w % 128) / 32, l = w % 32; low 4 bits from
    // ql[64h + l (+32 for quarters 1, 3)] (high nibble for quarters 2, 3), high 2 bits from
    // qh[32h + l] bits 2·quarter; scale index w / 16.
    int w = v % 256, h = w / 128, quarter = (w % 128) / 32, l = w % 32;
    uint8_t low_byte = blk.ql[64 * h + l + (quarter % 2) * 32];
    int low = quarter < 2 ? (low_byte & 0xF) : (low_byte >> 4);
    int high = (blk.qh[32 * h + l] >> (2 * quarter)) & 3;
    float want = f16_to_f32(blk.d) * float(blk.scales[w / 16]) * float((low | high << 4) - 32);
    ASSERT_EQ(y[size_t(v)], want) << "q6_k value " << v;
  }

  y = dequantized(q4k.data(), DType::Q4_K, 256 * n_blocks);
  for (int v = 0; v < 256 * n_blocks; ++v) {
    const BlockQ4_K& blk = q4k[v / 256];
    int w = v % 256, sub = w / 32;
    uint8_t byte = blk.qs[32 * (w / 64) + w % 32];
    int q = (w % 64) < 32 ? (byte & 0xF) : (byte >> 4);
    uint8_t sc, m;
    q4_k_scale_min(blk.scales, sub, sc, m);
    // d·sc·q - dmin·m; the compiler may fuse the last step into one FMA (as ggml's C does when built
    // with FMA), so allow one rounding of the products.
    double want = double(f16_to_f32(blk.d) * float(sc)) * q - double(f16_to_f32(blk.dmin) * float(m));
    double ulp = std::ldexp(1.0, -23) * (std::fabs(double(f16_to_f32(blk.d) * float(sc)) * q) + std::fabs(want));
    ASSERT_NEAR(y[size_t(v)], want, ulp) << "q4_k value " << v;
  }
}
