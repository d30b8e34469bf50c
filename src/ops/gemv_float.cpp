// Streaming GEMV for weights that dequantize straight to f32 lanes: f32, f16, bf16 and NF4.
// Each pass takes 4 rows of W against up to 4 rows of x (2 rows against up to 8) with 16-lane FMAs;
// software prefetch runs two row groups ahead.
#include <algorithm>
#include <cstring>

#include "ops/gemv.h"
#include "ops/quant_blocks.h"
#include "ops/simd_math.h"

namespace tunekit::ops {

#ifdef __AVX512F__
namespace {

// A decoder turns `vectors` x 16 consecutive weights of a row, starting at value k (a multiple of
// `step`), into f32 lanes. Rows of plain types may end in a partial step (masked with `tail`).
struct F32Decoder {
  static constexpr int step = 16, vectors = 1;
  static size_t bytes_at(int64_t k) { return size_t(k) * 4; }
  static void decode(const uint8_t* row, int64_t k, __m512* w, __mmask16 tail) {
    w[0] = _mm512_maskz_loadu_ps(tail, reinterpret_cast<const float*>(row) + k);
  }
};
struct F16Decoder {
  static constexpr int step = 16, vectors = 1;
  static size_t bytes_at(int64_t k) { return size_t(k) * 2; }
  static void decode(const uint8_t* row, int64_t k, __m512* w, __mmask16 tail) {
    w[0] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tail, reinterpret_cast<const uint16_t*>(row) + k));
  }
};
struct BF16Decoder {
  static constexpr int step = 16, vectors = 1;
  static size_t bytes_at(int64_t k) { return size_t(k) * 2; }
  static void decode(const uint8_t* row, int64_t k, __m512* w, __mmask16 tail) {
    __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(tail, reinterpret_cast<const uint16_t*>(row) + k));
    w[0] = _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
};
struct NF4Decoder {
  static constexpr int step = 64, vectors = 4;
  static size_t bytes_at(int64_t k) { return size_t(k / 64) * sizeof(BlockNF4); }
  static void decode(const uint8_t* row, int64_t k, __m512* w, __mmask16) {
    const auto* block = reinterpret_cast<const BlockNF4*>(row) + k / 64;
    const __m512 levels = _mm512_mul_ps(_mm512_loadu_ps(kNF4Levels), _mm512_set1_ps(block->absmax));
    // vpermps reads only the low 4 bits of each index: the low nibble needs no mask.
    __m512i lo0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block->qs)));
    __m512i lo1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block->qs + 16)));
    w[0] = _mm512_permutexvar_ps(lo0, levels);
    w[1] = _mm512_permutexvar_ps(lo1, levels);
    w[2] = _mm512_permutexvar_ps(_mm512_srli_epi32(lo0, 4), levels);
    w[3] = _mm512_permutexvar_ps(_mm512_srli_epi32(lo1, 4), levels);
  }
};

// y[t, n0 + r] (+)= Σ_k x[t, k] · W[n0 + r, k] for R rows and NT tokens.
template <class Dec, int R, int NT>
void dot_group(const float* x, int64_t K, const uint8_t* w_rows, size_t row_bytes, float* y, int64_t ldy,
               bool accumulate) {
  // Every loop over r, t and v is fully unrolled so that acc and w stay in registers: GCC keeps an
  // array in memory as soon as one loop indexes it at run time, and stops unrolling by itself at 16.
  __m512 acc[R][NT];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  const size_t prefetch_ahead = 2 * R * row_bytes;  // the same place two row groups ahead
  for (int64_t k = 0; k < K; k += Dec::step) {
    const __mmask16 tail = K - k >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (K - k)) - 1);
    __m512 w[R][Dec::vectors];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const uint8_t* row = w_rows + r * row_bytes;
      _mm_prefetch(reinterpret_cast<const char*>(row + Dec::bytes_at(k) + prefetch_ahead), _MM_HINT_T0);
      Dec::decode(row, k, w[r], tail);
    }
#pragma GCC unroll 4
    for (int v = 0; v < Dec::vectors; ++v)
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        __m512 xv = _mm512_maskz_loadu_ps(tail, x + t * K + k + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(w[r][v], xv, acc[r][t]);
      }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      float sum = _mm512_reduce_add_ps(acc[r][t]);
      y[t * ldy + r] = accumulate ? y[t * ldy + r] + sum : sum;
    }
}

template <class Dec, int NT>
void dot_rows(const float* x, int64_t K, const uint8_t* W, size_t row_bytes, int64_t n0, int64_t n1, float* y,
              int64_t ldy, bool accumulate) {
  constexpr int R = gemv_rows_per_pass(NT);
  int64_t n = n0;
  for (; n + R <= n1; n += R) dot_group<Dec, R, NT>(x, K, W + n * row_bytes, row_bytes, y + n, ldy, accumulate);
  for (; n < n1; ++n) dot_group<Dec, 1, NT>(x, K, W + n * row_bytes, row_bytes, y + n, ldy, accumulate);
}

// Rows [n0, n1) of y[T, N] for every token, in passes of up to kGemvTokens.
template <class Dec>
void rows_with(const GemvX& x, const Tensor& W, int64_t n0, int64_t n1, float* y, bool accumulate) {
  const int64_t N = W.shape[0];
  const size_t row_bytes = dtype_bytes(W.dtype, x.K);
  const auto* w = static_cast<const uint8_t*>(W.data);
  for (int64_t t0 = 0; t0 < x.T; t0 += kGemvTokens)
    with_token_count(std::min<int64_t>(kGemvTokens, x.T - t0), [&](auto NT) {
      dot_rows<Dec, NT.value>(x.x + t0 * x.K, x.K, w, row_bytes, n0, n1, y + t0 * N, N, accumulate);
    });
}

}  // namespace

GemvKernel gemv_float_kernel(DType dtype) {
  switch (dtype) {
    case DType::F32: return {rows_with<F32Decoder>};
    case DType::F16: return {rows_with<F16Decoder>};
    case DType::BF16: return {rows_with<BF16Decoder>};
    case DType::NF4: return {rows_with<NF4Decoder>};
    default: return {};
  }
}
#else
GemvKernel gemv_float_kernel(DType) { return {}; }
#endif

bool gemv_float(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate) {
  return gemv_float_kernel(W.dtype).rows && linear_streaming(x, T, {{LinearOutput{&W, y, accumulate}}}, false);
}

}  // namespace tunekit::ops
