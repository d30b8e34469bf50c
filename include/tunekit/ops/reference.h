// Slow, obviously-correct scalar references for the kernels in ops.h: same signatures, computed in
// double precision one output at a time. The tests compare every fast kernel against these; nothing
// else should call them.
#pragma once
#include <cstdint>

#include "tunekit/tensor.h"

namespace tunekit::ops::ref {

// Dequantizes W with the codec (ops::dequantize), then a double-precision matmul.
void linear(const float* x, int64_t T, const Tensor& W, const float* bias, float* y, bool accumulate = false);
void rmsnorm(const float* x, const float* w, float* y, int64_t T, int64_t C, float eps);
void rope(float* x, int64_t T, int64_t n_head, int64_t d_head, const int32_t* positions, const float* inv_freq);
void attention(const float* q, const float* k_cache, const float* v_cache, float* out, int64_t T,
               const int32_t* positions, int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window = 0);
void swiglu(const float* gate, const float* up, float* out, int64_t n);
void softmax(float* x, int64_t n);
float log_sum_exp(const float* x, int64_t n);

}  // namespace tunekit::ops::ref
