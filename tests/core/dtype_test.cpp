#include "tunekit/dtype.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tunekit/error.h"
#include "tunekit/tensor.h"

using namespace tunekit;

TEST(DType, BlockSizesMatchGgml) {
  EXPECT_EQ(dtype_bytes(DType::Q8_0, 64), 68u);
  EXPECT_EQ(dtype_bytes(DType::Q4_0, 32), 18u);
  EXPECT_EQ(dtype_bytes(DType::Q4_K, 256), 144u);
  EXPECT_EQ(dtype_bytes(DType::Q6_K, 512), 420u);
  EXPECT_THROW(dtype_bytes(DType::Q8_0, 33), Error);
}

TEST(DType, F16RoundTripsEveryHalf) {
  // Every finite half value converts to f32 and back unchanged (independent check: exhaustive).
  for (uint32_t h = 0; h < 0x10000; ++h) {
    uint16_t x = uint16_t(h);
    if ((x & 0x7c00) == 0x7c00 && (x & 0x3ff)) continue;  // NaN payloads
    EXPECT_EQ(f32_to_f16(f16_to_f32(x)), x) << std::hex << h;
  }
}

TEST(DType, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // rounds up past the largest half
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie rounds to even
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  float tie = 1.0f + std::ldexp(1.0f, -8);  // halfway between two bf16 values
  EXPECT_EQ(f32_to_bf16(tie), 0x3f80);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(Tensor, ZerosAndTypedAccess) {
  Tensor t = Tensor::zeros(DType::F32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_EQ(t.shape_str(), "[2, 3]");
  EXPECT_EQ(t.as<float>()[5], 0.0f);
  EXPECT_THROW(t.as<int32_t>(), Error);
}

// Shapes straight from a file header: the count must neither wrap nor be undefined behaviour
// (the GGUF fuzzer found [.., 2, 5176043346732253185, 0] multiplied left to right overflowing).
TEST(Tensor, ElementCountOfExtremeShapes) {
  const int64_t big = 5176043346732253185;
  EXPECT_EQ(Tensor::view(DType::F32, {2, big, 0}, nullptr, nullptr).numel(), 0);
  EXPECT_EQ(Tensor::view(DType::F32, {2, big, 0}, nullptr, nullptr).nbytes(), 0u);
  EXPECT_THROW(Tensor::view(DType::F32, {2, big}, nullptr, nullptr).numel(), Error);
  EXPECT_THROW(Tensor::view(DType::F32, {int64_t(1) << 62}, nullptr, nullptr).nbytes(), Error);  // 2^64 bytes
}
