// ops::linear, linear_multi and linear_swiglu: check shapes and dispatch on the weight dtypes and the
// number of rows of x. Few rows go to the streaming kernels (linear_stream.cpp), all outputs of one
// call in one parallel section; more rows go to sgemm on W or on dequantized panels of it.
#include <algorithm>

#include "ops/gemv.h"
#include "ops/linear_kernels.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

namespace {
// Up to this many rows of x, the streaming kernels (one pass over W per kGemvTokens rows) beat
// sgemm on W or on dequantized panels of it (bench_kernels gemv_vs_gemm, docs/kernels.md): on an
// L2-resident 1536x576 the two are even at ~24 rows for f32 on two threads (~128 on one), ~64 for
// f16/bf16/q8_0/q4_0, ~128 for q4_k, ~16 for q6_k; streaming wins further when W comes from memory.
int64_t max_streaming_rows(DType dtype) {
  switch (dtype) {
    case DType::Q6_K: return 16;
    default: return 32;
  }
}

bool streams(int64_t T, std::span<const LinearOutput> outputs) {
  return std::all_of(outputs.begin(), outputs.end(), [&](const LinearOutput& o) {
    return T <= max_streaming_rows(o.W->dtype) && (!o.B || T <= max_streaming_rows(o.B->dtype));
  });
}

// y[T, N] (+)= x[T, K] · W[N, K]ᵀ with the fastest kernel for W's dtype and T.
void multiply(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate) {
  if (T <= max_streaming_rows(W.dtype) && linear_streaming(x, T, {{LinearOutput{&W, y, accumulate}}}, false)) return;
  if (W.dtype == DType::F32)
    sgemm_xwt(x, T, static_cast<const float*>(W.data), W.dim(0), W.dim(1), y, W.dim(0), accumulate);
  else
    linear_dequantized_panels(x, T, W, y, accumulate);
}

// One output on its own: the product, then the bias, then the low-rank term; f32 W and B without a
// bias in one product where linear_lora_fused takes them.
void linear_one(const float* x, int64_t T, const LinearOutput& o) {
  const Tensor& W = *o.W;
  const int64_t N = W.shape[0], K = W.shape[1];
  if (T == 0 || N == 0) return;
  const bool low_rank = o.B && o.B->shape[1] > 0;
  if (low_rank && K > 0 && !o.bias && W.dtype == DType::F32 && o.B->dtype == DType::F32 &&
      linear_lora_fused(x, T, static_cast<const float*>(W.data), N, K, o.u, static_cast<const float*>(o.B->data),
                        o.B->shape[1], o.y, o.accumulate))
    return;
  if (K == 0) {
    if (!o.accumulate) std::fill(o.y, o.y + T * N, 0.0f);
  } else {
    multiply(x, T, W, o.y, o.accumulate);
  }
  if (o.bias)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) o.y[t * N + n] += o.bias[n];
  if (low_rank) multiply(o.u, T, *o.B, o.y, /*accumulate=*/true);
}

// Checks every output against x[T, K], K taken from the first weight. The messages are built only
// on failure (the checks run for every call of a decode step).
int64_t check_outputs(const char* op, const float* x, int64_t T, std::span<const LinearOutput> outputs) {
  int64_t K = 0;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const LinearOutput& o = outputs[i];
    if (!o.W) fail(op, ": output ", i, " has no weight");
    const Tensor& W = *o.W;
    if (W.rank() != 2) fail(op, ": W must be [N, K], got ", dtype_name(W.dtype), " ", W.shape_str());
    const int64_t N = W.shape[0];
    if (i == 0) K = W.shape[1];
    if (W.shape[1] != K)
      fail(op, ": W ", W.shape_str(), " does not take the same x as the first weight ", outputs[0].W->shape_str());
    if (T < 0) fail(op, ": negative row count T = ", T, " for W ", W.shape_str());
    if (W.dtype == DType::I32) fail(op, ": W ", W.shape_str(), " holds i32, not a float storage type");
    if (K % dtype_info(W.dtype).block_size != 0)
      fail(op, ": W ", dtype_name(W.dtype), " ", W.shape_str(), ": K is not a multiple of the block size ",
           dtype_info(W.dtype).block_size);
    if (W.data == nullptr && N * K != 0) fail(op, ": W ", W.shape_str(), " has no data");
    if (T > 0 && N > 0 && (x == nullptr || o.y == nullptr))
      fail(op, ": null input or output for x [", T, ", ", K, "] · W ", W.shape_str());
    if (!o.B && !o.u) continue;
    if (!o.B || !o.u) fail(op, ": the low-rank term of W ", W.shape_str(), " needs both u and B");
    const Tensor& B = *o.B;
    if (B.dtype != DType::F32 || B.rank() != 2 || B.shape[0] != N)
      fail(op, ": the low-rank B of W ", W.shape_str(), " must be f32 [", N, ", r], got ", dtype_name(B.dtype), " ",
           B.shape_str());
    if (B.data == nullptr && N * B.shape[1] != 0) fail(op, ": the low-rank B ", B.shape_str(), " has no data");
  }
  return K;
}

}  // namespace

void linear(const float* x, int64_t T, const Tensor& W, const float* bias, float* y, bool accumulate) {
  const LinearOutput out{&W, y, accumulate, bias};
  check_outputs("linear", x, T, {&out, 1});
  linear_one(x, T, out);
}

void linear_multi(const float* x, int64_t T, std::span<const LinearOutput> outputs) {
  const int64_t K = check_outputs("linear_multi", x, T, outputs);
  if (T == 0) return;
  if (K > 0 && streams(T, outputs) && linear_streaming(x, T, outputs, false)) return;
  for (const LinearOutput& o : outputs) linear_one(x, T, o);
}

void linear_swiglu(const float* x, int64_t T, const LinearOutput& gate, const LinearOutput& up) {
  const LinearOutput outputs[] = {gate, up};
  const int64_t K = check_outputs("linear_swiglu", x, T, outputs);
  const int64_t N = gate.W->shape[0];
  if (up.W->shape[0] != N)
    fail("linear_swiglu: gate ", gate.W->shape_str(), " and up ", up.W->shape_str(), " differ in rows");
  if (gate.accumulate || up.accumulate) fail("linear_swiglu: gate and up are written, not accumulated");
  if (T == 0 || N == 0) return;
  if (K > 0 && streams(T, outputs) && linear_streaming(x, T, outputs, true)) return;
  linear_one(x, T, gate);
  linear_one(x, T, up);
  swiglu(gate.y, up.y, gate.y, T * N);
}

}  // namespace tunekit::ops
