// The kernels behind ops::linear (all compute y[T, N] (+)= x[T, K] · W[N, K]ᵀ, no bias). The
// front-end (linear.cpp) checks shapes, picks one, and adds the bias.
#pragma once
#include <cstdint>

#include "tunekit/tensor.h"

namespace tunekit::ops {

// oneDNN sgemm with W transposed; threads come from the shared OpenMP pool.
void sgemm_xwt(const float* x, int64_t T, const float* W, int64_t N, int64_t K, float* y, int64_t ldy,
               bool accumulate);

// Dequantizes panels of W rows into a thread-local f32 buffer and multiplies each with sgemm.
void linear_dequantized_panels(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate);

}  // namespace tunekit::ops
