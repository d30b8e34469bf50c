// Storage types. Compute is always f32; every other type is a storage format that kernels
// dequantize on the fly (never into an f32 copy of a whole model).
// Block layouts follow ggml so GGUF tensors map 1:1 onto our buffers:
//   Q8_0: 32 values  = f16 d, int8 qs[32]                                 (34 bytes)
//   Q4_0: 32 values  = f16 d, uint8 qs[16] (low nibbles = values 0..15)   (18 bytes)
//   Q4_K: 256 values = f16 d, f16 dmin, uint8 scales[12], uint8 qs[128]   (144 bytes)
//   Q6_K: 256 values = uint8 ql[128], uint8 qh[64], int8 scales[16], f16 d (210 bytes)
//   NF4 : 64 values  = f32 absmax, uint8 qs[32] (QLoRA's 16-level normal-float code) (36 bytes)
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace tunekit {

enum class DType : uint8_t { F32, F16, BF16, I32, Q8_0, Q4_0, Q4_K, Q6_K, NF4 };

struct DTypeInfo {
  const char* name;      // "f32", "q8_0", ...
  int64_t block_size;    // values per block (1 for plain types)
  size_t block_bytes;    // bytes per block
};

const DTypeInfo& dtype_info(DType t);
inline const char* dtype_name(DType t) { return dtype_info(t).name; }
bool is_quantized(DType t);
DType dtype_from_name(const std::string& name);  // throws Error naming the valid choices

// Bytes that n values occupy; n must be a multiple of the block size (throws Error otherwise).
size_t dtype_bytes(DType t, int64_t n);

// GGUF (ggml_type) ids; throws Error for a type we do not support.
uint32_t dtype_to_ggml(DType t);
DType dtype_from_ggml(uint32_t ggml_type);

// Scalar conversions (exact IEEE semantics, round-to-nearest-even on narrowing).
inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffff) > 0x7f800000) return uint16_t((bits >> 16) | 0x40);  // keep NaN a NaN
  bits += 0x7fff + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace tunekit
