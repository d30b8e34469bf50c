// CPU kernels of BERT-family encoders (f32), beside ops.h's decoder kernels: LayerNorm with bias, the
// exact (erf) GELU, and bidirectional attention over packed sequences. Slow double-precision
// references for the tests are in ops::ref (the same signatures, at the end of this file).
#pragma once
#include <cstdint>

namespace tunekit::ops {

// y[T, C] = (x - mean(x)) / sqrt(var(x) + eps) * w + b per row, biased variance (torch's LayerNorm);
// y may alias x.
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t T, int64_t C, float eps);

// out[n] = x · Φ(x) = 0.5 · x · (1 + erf(x / √2)), the exact GELU of BERT's hidden_act "gelu", with erf
// to within 1.5e-7 absolute; out may alias x.
void gelu(const float* x, float* out, int64_t n);

// Bidirectional attention within packed sequences: sequence s holds rows [seq_start[s], seq_start[s+1])
// and each of its rows attends to every row of the same sequence and none of another, so texts of
// different lengths need no padding and no mask. q, k, v, out [T, n_head, d_head] with
// T = seq_start[n_seq]; scale 1/sqrt(d_head).
void attention_bidirectional(const float* q, const float* k, const float* v, float* out, const int64_t* seq_start,
                             int64_t n_seq, int64_t n_head, int64_t d_head);

namespace ref {
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t T, int64_t C, float eps);
void gelu(const float* x, float* out, int64_t n);  // std::erf in double
void attention_bidirectional(const float* q, const float* k, const float* v, float* out, const int64_t* seq_start,
                             int64_t n_seq, int64_t n_head, int64_t d_head);
}  // namespace ref

}  // namespace tunekit::ops
