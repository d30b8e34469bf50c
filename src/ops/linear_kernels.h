// The kernels behind ops::linear (all compute y[T, N] (+)= x[T, K] · W[N, K]ᵀ, no bias) and the one
// sgemm entry point of the ops layer. The front-end (linear.cpp) checks shapes, picks a kernel, and
// adds the bias.
#pragma once
#include <cstdint>

#include "tunekit/tensor.h"

namespace tunekit::ops {

// Row-major C[M, N] = alpha · op(A) · op(B) + beta · C, op(A) = Aᵀ (transa 'T', A is [K, M]) or A
// ('N', A is [M, K]), op(B) = Bᵀ (transb 'T', B is [N, K]) or B ('N', B is [K, N]): oneDNN's sgemm on
// the calling thread only (parallelism comes from our pool).
void sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
inline void sgemm(char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm('N', transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Sets oneDNN's OpenMP team on the calling thread to 1 (once per thread): our pool is the only source
// of parallelism.
void single_threaded_onednn();

// y[M, N] (+)= x[M, K] · W[N, K]ᵀ on the calling thread by a oneDNN matmul primitive for this shape
// (made on first use, ~0.2-0.6 ms, and kept per thread).
void matmul_xwt(const float* x, int64_t M, const float* W, int64_t N, int64_t K, float* y, int64_t ldy,
                bool accumulate);

// The same product on the pool, one sgemm per chunk of at least max(64, rows / (2 · threads)) rows
// of C (or columns, when C has few rows and more columns): for the training kernels' GEMMs, whose
// shapes vary more than linear's. Row chunks keep every sgemm as wide as C (narrow column chunks
// run ~10-20% slower).
void parallel_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                    int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// y[T, N] (+)= x[T, K] · W[N, K]ᵀ for f32 W: the longer side of y split over the pool, one sgemm per
// chunk, each packing the whole of the other operand: rows of y when T >= N (the LoRA's x·Aᵀ; q, k,
// v, o and down at training sizes), else columns (gate/up when T < d_ff; a chunk of vocabulary
// logits). At T = 1024, in CPU time per product with the pool's chunks for 2 threads, this split
// was 4-10% cheaper than the other one on the SmolLM2 shapes where the two differ. Chunks as
// parallel_sgemm's: 3 for 2 threads (n/2, n/4, n/4) where n allows. A chunk of 64 to 512 rows goes
// to matmul_xwt, the others to sgemm.
void sgemm_xwt(const float* x, int64_t T, const float* W, int64_t N, int64_t K, float* y, int64_t ldy,
               bool accumulate);

// y[T, N] (+)= x[T, K] · W[N, K]ᵀ + u[T, r] · B[N, r]ᵀ in one pass over y (linear_lora_fused.cpp): the
// low-rank term joins each tile of y in registers. With r = 0 (u and B unused) it is the plain
// product, which beats oneDNN's where W streams from memory (the vocabulary logits). AVX-512 builds,
// T >= kLoraFusedMinRows (up to 32 rows linear streams W instead), K <= kLoraFusedMaxK and
// r <= kLoraFusedMaxRank (a packed panel of W and B stays in L2); returns false, having written
// nothing, elsewhere.
constexpr int64_t kLoraFusedMinRows = 33, kLoraFusedMaxK = 4096, kLoraFusedMaxRank = 256;
bool linear_lora_fused(const float* x, int64_t T, const float* W, int64_t N, int64_t K, const float* u,
                       const float* B, int64_t r, float* y, bool accumulate);

// Dequantizes panels of W rows into a thread-local f32 buffer and multiplies each with sgemm.
void linear_dequantized_panels(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate);

}  // namespace tunekit::ops
