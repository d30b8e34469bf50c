// Block structs of the quantized storage types (ggml layouts, see tunekit/dtype.h) and the per-type
// row codecs. A "row" is n values, n a multiple of the type's block size.
#pragma once
#include <cstdint>

#include "tunekit/dtype.h"

namespace tunekit::ops {

struct BlockQ8_0 {
  uint16_t d;      // f16 scale
  int8_t qs[32];   // value j = d * qs[j]
};
struct BlockQ4_0 {
  uint16_t d;      // f16 scale
  uint8_t qs[16];  // value j = d * (nibble - 8); low nibbles hold values 0..15, high nibbles 16..31
};
struct BlockQ4_K {
  uint16_t d, dmin;     // f16 super-block scales
  uint8_t scales[12];   // 8 six-bit scales and 8 six-bit mins, packed (see q4_k_scale_min)
  uint8_t qs[128];      // per 64 values: 32 bytes, low nibbles = first 32 values, high = next 32
};
struct BlockQ6_K {
  uint8_t ql[128];      // low 4 bits
  uint8_t qh[64];       // high 2 bits
  int8_t scales[16];    // one per 16 values
  uint16_t d;           // f16 super-block scale
};
struct BlockNF4 {
  float absmax;         // value j = absmax * kNF4Levels[nibble]
  uint8_t qs[32];       // low nibbles hold values 0..31, high nibbles 32..63
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_K) == 144 &&
              sizeof(BlockQ6_K) == 210 && sizeof(BlockNF4) == 36);

// QLoRA's NormalFloat4 code (bitsandbytes' NF4 table): quantiles of N(0, 1) scaled to [-1, 1].
extern const float kNF4Levels[16];

// The sub-block scale and min j (0..7) of a Q4_K block, each 6 bits.
inline void q4_k_scale_min(const uint8_t* scales, int j, uint8_t& scale, uint8_t& min) {
  if (j < 4) {
    scale = scales[j] & 63;
    min = scales[j + 4] & 63;
  } else {
    scale = uint8_t((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
    min = uint8_t((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

void quantize_row_f16(const float* x, uint16_t* y, int64_t n);
void dequantize_row_f16(const uint16_t* x, float* y, int64_t n);
void quantize_row_bf16(const float* x, uint16_t* y, int64_t n);
void dequantize_row_bf16(const uint16_t* x, float* y, int64_t n);
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t n);
void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n);
void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t n);
void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n);
void quantize_row_nf4(const float* x, BlockNF4* y, int64_t n);
void dequantize_row_nf4(const BlockNF4* x, float* y, int64_t n);

// Type-erased row dequantizer for the kernels that dequantize a panel of rows.
using DequantizeRow = void (*)(const void* x, float* y, int64_t n);
DequantizeRow dequantize_row_fn(DType dtype);

}  // namespace tunekit::ops
