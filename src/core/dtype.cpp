#include "tunekit/dtype.h"

#include <cmath>

#include "tunekit/error.h"

namespace tunekit {

namespace {
// Indexed by DType.
constexpr DTypeInfo kInfo[] = {
    {"f32", 1, 4},    {"f16", 1, 2},    {"bf16", 1, 2},   {"i32", 1, 4},  {"q8_0", 32, 34},
    {"q4_0", 32, 18}, {"q4_k", 256, 144}, {"q6_k", 256, 210}, {"nf4", 64, 36},
};
constexpr DType kAll[] = {DType::F32,  DType::F16,  DType::BF16, DType::I32, DType::Q8_0,
                          DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::NF4};

struct GgmlId {
  DType dtype;
  uint32_t id;
};
// ggml_type values from the GGUF specification. NF4 has no GGUF type.
constexpr GgmlId kGgml[] = {{DType::F32, 0},  {DType::F16, 1},   {DType::Q4_0, 2}, {DType::Q8_0, 8},
                            {DType::Q4_K, 12}, {DType::Q6_K, 14}, {DType::I32, 26}, {DType::BF16, 30}};
}  // namespace

const DTypeInfo& dtype_info(DType t) { return kInfo[static_cast<int>(t)]; }

bool is_quantized(DType t) { return dtype_info(t).block_size > 1; }

DType dtype_from_name(const std::string& name) {
  std::string lower;
  for (char c : name) lower += char(std::tolower(static_cast<unsigned char>(c)));
  for (DType t : kAll)
    if (lower == dtype_info(t).name) return t;
  fail("unknown dtype '", name, "' (choose f32, f16, bf16, q8_0, q4_0, q4_k, q6_k or nf4)");
}

size_t dtype_bytes(DType t, int64_t n) {
  const auto& info = dtype_info(t);
  check(n >= 0 && n % info.block_size == 0, dtype_name(t), ": ", n, " values is not a multiple of the block size ",
        info.block_size);
  size_t bytes;
  check(!__builtin_mul_overflow(size_t(n / info.block_size), size_t(info.block_bytes), &bytes), dtype_name(t), ": ", n,
        " values do not fit in memory (the byte count overflows)");
  return bytes;
}

uint32_t dtype_to_ggml(DType t) {
  for (auto g : kGgml)
    if (g.dtype == t) return g.id;
  fail("dtype ", dtype_name(t), " has no GGUF type");
}

DType dtype_from_ggml(uint32_t id) {
  for (auto g : kGgml)
    if (g.id == id) return g.dtype;
  fail("GGUF tensor type ", id, " is not supported (supported: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)");
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | mant << 13;
  } else {
    bits = sign | (exp + 112) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  uint32_t abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;       // NaN
  if (abs >= 0x477ff000) return sign | 0x7c00;      // overflow (after rounding) -> inf
  if (abs < 0x38800000) {                           // subnormal or zero in f16
    if (abs < 0x33000000) return sign;              // rounds to zero
    uint32_t mant = (abs & 0x7fffff) | 0x800000;
    int shift = 126 - int(abs >> 23);               // 14 .. 24
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return sign | uint16_t(half);
  }
  uint32_t r = abs + 0xfff + ((abs >> 13) & 1);     // round to nearest even at bit 13
  return sign | uint16_t(((r >> 13) - (112u << 10)) & 0xffff);
}

}  // namespace tunekit
