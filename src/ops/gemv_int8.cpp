// Streaming GEMV for the integer block formats (Q8_0, Q4_0, Q4_K, Q6_K) with AVX512-VNNI: x is
// quantized once per call to int8 per 32 values (d = amax/127, like Q8_0), and each 32-value block
// of a W row is one vpdpbusd (u8 x s8 -> int32) followed by one f32 FMA with the block's scales.
//   Q8_0: signed weights; the sign trick moves the sign onto x: |w| (u8) · sign(w)·x (s8).
//   Q4_0, Q6_K: unsigned codes q with value (q - offset) · scale; the dpbusd accumulator starts at
//               -offset · Σx (per 4 lanes, precomputed per call), so it yields Σ (q - offset)·x.
//   Q4_K: unsigned 4-bit codes; the per-sub-block min term uses the exact f32 sums of x.
#include <cstring>
#include <vector>

#include "ops/gemv.h"
#include "ops/quant_blocks.h"
#include "ops/simd_math.h"

namespace tunekit::ops {

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512BW__)
namespace {

// x[T, K] quantized per 32 values; all arrays are row-major over t.
struct QuantizedX {
  int64_t K = 0;
  const int8_t* q = nullptr;           // [T, K]
  const float* d = nullptr;            // [T, K/32] scale of each 32 values
  const float* sum = nullptr;          // [T, K/32] exact Σ x of each 32 values
  const int32_t* neg_offset = nullptr; // [T, K/4]  -offset · Σ q of each 4 values
};

// Quantizes x into thread-local buffers that live until the next call on this thread.
QuantizedX quantize_x(const float* x, int64_t T, int64_t K, int offset) {
  thread_local std::vector<int8_t> q;
  thread_local std::vector<float> d, sum;
  thread_local std::vector<int32_t> neg_offset;
  const int64_t nb = K / 32;
  q.resize(size_t(T * K) + 64);
  d.resize(size_t(T * nb));
  sum.resize(size_t(T * nb));
  neg_offset.resize(size_t(T * K / 4));
  const __m256i ones = _mm256_set1_epi8(1);
  for (int64_t b = 0; b < T * nb; ++b) {
    const float* v = x + 32 * b;
    __m512 lo = _mm512_loadu_ps(v), hi = _mm512_loadu_ps(v + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
    float scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    __m512 vinv = _mm512_set1_ps(inv);
    __m128i qlo = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(lo, vinv)));
    __m128i qhi = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(hi, vinv)));
    __m256i qv = _mm256_inserti128_si256(_mm256_castsi128_si256(qlo), qhi, 1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q.data() + 32 * b), qv);
    d[size_t(b)] = scale;
    sum[size_t(b)] = _mm512_reduce_add_ps(_mm512_add_ps(lo, hi));
    __m256i lane_sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, qv);  // Σ of each 4 q
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(neg_offset.data() + 8 * b),
                        _mm256_mullo_epi32(lane_sums, _mm256_set1_epi32(-offset)));
  }
  return QuantizedX{K, q.data(), d.data(), sum.data(), neg_offset.data()};
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// The eight 6-bit scales (resp. mins) of a Q4_K block as eight bytes, unpacked with 32-bit words:
// bytes 0-3 hold scales 0-3 (low 6 bits) and the top 2 bits of scales 4-7, bytes 4-7 the same for
// the mins, bytes 8-11 the low 4 bits of scales 4-7 (low nibbles) and mins 4-7 (high nibbles).
inline uint64_t q4_k_scales(const uint8_t* packed) {
  uint32_t a, c;
  std::memcpy(&a, packed, 4);
  std::memcpy(&c, packed + 8, 4);
  return uint64_t(a & 0x3F3F3F3F) | uint64_t((c & 0x0F0F0F0F) | ((a >> 2) & 0x30303030)) << 32;
}
inline uint64_t q4_k_mins(const uint8_t* packed) {
  uint32_t b, c;
  std::memcpy(&b, packed + 4, 4);
  std::memcpy(&c, packed + 8, 4);
  return uint64_t(b & 0x3F3F3F3F) | uint64_t(((c >> 4) & 0x0F0F0F0F) | ((b >> 2) & 0x30303030)) << 32;
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
// Prefetches the block at `blk` of row group two groups ahead (R rows of row_bytes each).
template <class Block>
inline void prefetch_ahead(const Block* blk, int R, size_t row_bytes) {
  const char* p = reinterpret_cast<const char*>(blk) + 2 * R * row_bytes;
  for (size_t line = 0; line < sizeof(Block); line += 64) _mm_prefetch(p + line, _MM_HINT_T0);
}

// Every loop over rows r, tokens t and sub-blocks is fully unrolled (#pragma GCC unroll) so that the
// accumulators stay in registers: GCC keeps an array in memory as soon as one loop indexes it at
// run time, and stops unrolling by itself at 16 iterations.
template <int R, int NT>
void zero(__m256 (&acc)[R][NT]) {
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
}

template <int R, int NT>
void store(__m256 (&acc)[R][NT], float* y, int64_t ldy, bool accumulate) {
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      float sum = hsum(acc[r][t]);
      y[t * ldy + r] = accumulate ? y[t * ldy + r] + sum : sum;
    }
}

struct Q8_0Kernel {
  static constexpr int offset = 0;
  template <int R, int NT>
  static void group(const QuantizedX& x, const uint8_t* w_rows, size_t row_bytes, float* y, int64_t ldy, bool acc_out) {
    __m256 acc[R][NT];
    zero(acc);
    const int64_t nb = x.K / 32;
    for (int64_t b = 0; b < nb; ++b) {
      __m256i w_abs[R], w_sign[R];
      float d[R];
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const BlockQ8_0* blk = reinterpret_cast<const BlockQ8_0*>(w_rows + r * row_bytes) + b;
        prefetch_ahead(blk, R, row_bytes);
        w_sign[r] = load256(blk->qs);
        w_abs[r] = _mm256_abs_epi8(w_sign[r]);
        d[r] = _cvtsh_ss(blk->d);
      }
      #pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        __m256i xv = load256(x.q + t * x.K + 32 * b);
        float dx = x.d[t * nb + b];
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), w_abs[r], _mm256_sign_epi8(xv, w_sign[r]));
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d[r] * dx), acc[r][t]);
        }
      }
    }
    store<R, NT>(acc, y, ldy, acc_out);
  }
};

struct Q4_0Kernel {
  static constexpr int offset = 8;
  template <int R, int NT>
  static void group(const QuantizedX& x, const uint8_t* w_rows, size_t row_bytes, float* y, int64_t ldy, bool acc_out) {
    __m256 acc[R][NT];
    zero(acc);
    const int64_t nb = x.K / 32;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int64_t b = 0; b < nb; ++b) {
      __m256i codes[R];
      float d[R];
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const BlockQ4_0* blk = reinterpret_cast<const BlockQ4_0*>(w_rows + r * row_bytes) + b;
        prefetch_ahead(blk, R, row_bytes);
        __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk->qs));
        codes[r] = _mm256_and_si256(
            _mm256_inserti128_si256(_mm256_castsi128_si256(packed), _mm_srli_epi16(packed, 4), 1), low4);
        d[r] = _cvtsh_ss(blk->d);
      }
      #pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        __m256i xv = load256(x.q + t * x.K + 32 * b);
        __m256i start = load256(x.neg_offset + t * x.K / 4 + 8 * b);
        float dx = x.d[t * nb + b];
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          __m256i dot = _mm256_dpbusd_epi32(start, codes[r], xv);
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d[r] * dx), acc[r][t]);
        }
      }
    }
    store<R, NT>(acc, y, ldy, acc_out);
  }
};

struct Q4_KKernel {
  static constexpr int offset = 0;
  template <int R, int NT>
  static void group(const QuantizedX& x, const uint8_t* w_rows, size_t row_bytes, float* y, int64_t ldy, bool acc_out) {
    __m256 acc[R][NT];
    zero(acc);
    const int64_t nb = x.K / 256, nb32 = x.K / 32;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int64_t b = 0; b < nb; ++b) {
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const BlockQ4_K* blk = reinterpret_cast<const BlockQ4_K*>(w_rows + r * row_bytes) + b;
        prefetch_ahead(blk, R, row_bytes);
        const __m256 scales = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(
                                                q4_k_scales(blk->scales))))),
                                            _mm256_set1_ps(_cvtsh_ss(blk->d)));
        const __m256 mins = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(
                                              q4_k_mins(blk->scales))))),
                                          _mm256_set1_ps(_cvtsh_ss(blk->dmin)));
        alignas(32) float sub_scale[NT][8];  // d · sc_j · dx_j for the 8 sub-blocks
        #pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const int64_t at = t * nb32 + 8 * b;
          _mm256_store_ps(sub_scale[t], _mm256_mul_ps(scales, _mm256_loadu_ps(x.d + at)));
          acc[r][t] = _mm256_fnmadd_ps(mins, _mm256_loadu_ps(x.sum + at), acc[r][t]);
        }
        #pragma GCC unroll 8
        for (int c = 0; c < 4; ++c) {  // 64 values: sub-block 2c in the low nibbles, 2c + 1 in the high
          __m256i packed = load256(blk->qs + 32 * c);
          __m256i lo = _mm256_and_si256(packed, low4), hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
          #pragma GCC unroll 8
          for (int t = 0; t < NT; ++t) {
            const int8_t* xq = x.q + t * x.K + 256 * b + 64 * c;
            __m256i dot_lo = _mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, load256(xq));
            __m256i dot_hi = _mm256_dpbusd_epi32(_mm256_setzero_si256(), hi, load256(xq + 32));
            acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_lo), _mm256_broadcast_ss(&sub_scale[t][2 * c]), acc[r][t]);
            acc[r][t] =
                _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_hi), _mm256_broadcast_ss(&sub_scale[t][2 * c + 1]), acc[r][t]);
          }
        }
      }
    }
    store<R, NT>(acc, y, ldy, acc_out);
  }
};

struct Q6_KKernel {
  static constexpr int offset = 32;
  template <int R, int NT>
  static void group(const QuantizedX& x, const uint8_t* w_rows, size_t row_bytes, float* y, int64_t ldy, bool acc_out) {
    __m256 acc[R][NT];
    zero(acc);
    const int64_t nb = x.K / 256, nb32 = x.K / 32;
    const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03);
    for (int64_t b = 0; b < nb; ++b) {
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const BlockQ6_K* blk = reinterpret_cast<const BlockQ6_K*>(w_rows + r * row_bytes) + b;
        prefetch_ahead(blk, R, row_bytes);
        // d · scale of the 16 sub-blocks of 16 values
        const __m512 scales = _mm512_mul_ps(
            _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk->scales)))),
            _mm512_set1_ps(_cvtsh_ss(blk->d)));
        #pragma GCC unroll 8
        for (int h = 0; h < 2; ++h) {  // 128 values from ql[64], qh[32]
          __m256i a = load256(blk->ql + 64 * h), c = load256(blk->ql + 64 * h + 32), hb = load256(blk->qh + 32 * h);
          __m256i codes[4] = {
              _mm256_or_si256(_mm256_and_si256(a, low4), _mm256_slli_epi16(_mm256_and_si256(hb, low2), 4)),
              _mm256_or_si256(_mm256_and_si256(c, low4),
                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), low2), 4)),
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), low4),
                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), low2), 4)),
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), low4),
                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), low2), 4)),
          };
          #pragma GCC unroll 8
          for (int i = 0; i < 4; ++i) {
            const int chunk = 4 * h + i;  // 32 values: sub-blocks 2·chunk (lanes 0-3), 2·chunk + 1 (lanes 4-7)
            const __m512i pair = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2 * chunk + 1, 2 * chunk + 1, 2 * chunk + 1,
                                                  2 * chunk + 1, 2 * chunk, 2 * chunk, 2 * chunk, 2 * chunk);
            const __m256 scale = _mm512_castps512_ps256(_mm512_permutexvar_ps(pair, scales));
            #pragma GCC unroll 8
            for (int t = 0; t < NT; ++t) {
              const int64_t k = 256 * b + 32 * chunk;
              __m256i dot = _mm256_dpbusd_epi32(load256(x.neg_offset + (t * x.K + k) / 4), codes[i],
                                                load256(x.q + t * x.K + k));
              __m256 s = _mm256_mul_ps(scale, _mm256_set1_ps(x.d[t * nb32 + k / 32]));
              acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), s, acc[r][t]);
            }
          }
        }
      }
    }
    store<R, NT>(acc, y, ldy, acc_out);
  }
};

template <class Kernel, int NT>
void group_rows(const QuantizedX& x, const uint8_t* W, size_t row_bytes, int64_t n0, int64_t n1, float* y,
                int64_t ldy, bool accumulate) {
  constexpr int R = gemv_rows_per_pass(NT);
  int64_t n = n0;
  for (; n + R <= n1; n += R) Kernel::template group<R, NT>(x, W + n * row_bytes, row_bytes, y + n, ldy, accumulate);
  for (; n < n1; ++n) Kernel::template group<1, NT>(x, W + n * row_bytes, row_bytes, y + n, ldy, accumulate);
}

template <class Kernel>
void gemv_with(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate) {
  const int64_t N = W.dim(0), K = W.dim(1);
  const size_t row_bytes = dtype_bytes(W.dtype, K);
  const auto* w = static_cast<const uint8_t*>(W.data);
  const QuantizedX all = quantize_x(x, T, K, Kernel::offset);
  gemv_split(N, T, 4, 64, [&](int64_t n0, int64_t n1, int64_t t0, int64_t nt) {
    QuantizedX xt = all;  // tokens t0 .. t0 + nt
    xt.q += t0 * K, xt.d += t0 * K / 32, xt.sum += t0 * K / 32, xt.neg_offset += t0 * K / 4;
    with_token_count(nt, [&](auto NT) { group_rows<Kernel, NT.value>(xt, w, row_bytes, n0, n1, y + t0 * N, N, accumulate); });
  });
}

}  // namespace

bool gemv_int8(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate) {
  switch (W.dtype) {
    case DType::Q8_0: gemv_with<Q8_0Kernel>(x, T, W, y, accumulate); return true;
    case DType::Q4_0: gemv_with<Q4_0Kernel>(x, T, W, y, accumulate); return true;
    case DType::Q4_K: gemv_with<Q4_KKernel>(x, T, W, y, accumulate); return true;
    case DType::Q6_K: gemv_with<Q6_KKernel>(x, T, W, y, accumulate); return true;
    default: return false;
  }
}
#else
bool gemv_int8(const float*, int64_t, const Tensor&, float*, bool) { return false; }
#endif

}  // namespace tunekit::ops
