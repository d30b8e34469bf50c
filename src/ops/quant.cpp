// The codec front-end: quantize / dequantize / convert dispatch on the storage dtype.
#include <cstring>
#include <vector>

#include "ops/quant_blocks.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

namespace {

void check_codec(const char* op, DType dtype, int64_t n) {
  check(dtype != DType::I32, op, ": i32 is not a float storage type");
  check(n >= 0 && n % dtype_info(dtype).block_size == 0, op, ": ", n, " values is not a multiple of the ",
        dtype_name(dtype), " block size ", dtype_info(dtype).block_size);
}

template <class Block, void (*fn)(const Block*, float*, int64_t)>
void dequantize_erased(const void* x, float* y, int64_t n) {
  fn(static_cast<const Block*>(x), y, n);
}

void dequantize_row_f32(const float* x, float* y, int64_t n) { std::memcpy(y, x, size_t(n) * sizeof(float)); }

}  // namespace

DequantizeRow dequantize_row_fn(DType dtype) {
  switch (dtype) {
    case DType::F32: return dequantize_erased<float, dequantize_row_f32>;
    case DType::F16: return dequantize_erased<uint16_t, dequantize_row_f16>;
    case DType::BF16: return dequantize_erased<uint16_t, dequantize_row_bf16>;
    case DType::Q8_0: return dequantize_erased<BlockQ8_0, dequantize_row_q8_0>;
    case DType::Q4_0: return dequantize_erased<BlockQ4_0, dequantize_row_q4_0>;
    case DType::Q4_K: return dequantize_erased<BlockQ4_K, dequantize_row_q4_k>;
    case DType::Q6_K: return dequantize_erased<BlockQ6_K, dequantize_row_q6_k>;
    case DType::NF4: return dequantize_erased<BlockNF4, dequantize_row_nf4>;
    case DType::I32: break;
  }
  fail("dequantize: ", dtype_name(dtype), " is not a float storage type");
}

void quantize(const float* src, DType dtype, int64_t n, void* dst) {
  check_codec("quantize", dtype, n);
  switch (dtype) {
    case DType::F32: std::memcpy(dst, src, size_t(n) * sizeof(float)); return;
    case DType::F16: quantize_row_f16(src, static_cast<uint16_t*>(dst), n); return;
    case DType::BF16: quantize_row_bf16(src, static_cast<uint16_t*>(dst), n); return;
    case DType::Q8_0: quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n); return;
    case DType::Q4_0: quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n); return;
    case DType::Q4_K: quantize_row_q4_k(src, static_cast<BlockQ4_K*>(dst), n); return;
    case DType::Q6_K: quantize_row_q6_k(src, static_cast<BlockQ6_K*>(dst), n); return;
    case DType::NF4: quantize_row_nf4(src, static_cast<BlockNF4*>(dst), n); return;
    case DType::I32: break;
  }
}

void dequantize(const void* src, DType dtype, int64_t n, float* dst) {
  check_codec("dequantize", dtype, n);
  dequantize_row_fn(dtype)(src, dst, n);
}

Tensor convert(const Tensor& t, DType dtype) {
  if (t.dtype == dtype) return t.clone();
  int64_t row = t.rank() == 0 ? 1 : t.dim(-1);
  check(t.dtype != DType::I32 && dtype != DType::I32, "convert: cannot convert ", dtype_name(t.dtype), " ",
        t.shape_str(), " to ", dtype_name(dtype), " (i32 is not a float storage type)");
  check(row % dtype_info(dtype).block_size == 0, "convert: the last dimension of ", t.shape_str(),
        " is not a multiple of the ", dtype_name(dtype), " block size ", dtype_info(dtype).block_size);
  Tensor out = Tensor::zeros(dtype, t.shape);
  int64_t n_rows = row == 0 ? 0 : t.numel() / row;
  size_t src_row_bytes = dtype_bytes(t.dtype, row), dst_row_bytes = dtype_bytes(dtype, row);
  parallel_for(n_rows, [&](int64_t begin, int64_t end) {
    std::vector<float> buffer(static_cast<size_t>(row));  // [row]
    for (int64_t r = begin; r < end; ++r) {
      dequantize(static_cast<const char*>(t.data) + r * src_row_bytes, t.dtype, row, buffer.data());
      quantize(buffer.data(), dtype, row, static_cast<char*>(out.data) + r * dst_row_bytes);
    }
  });
  return out;
}

}  // namespace tunekit::ops
