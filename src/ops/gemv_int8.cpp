// Streaming GEMV for the integer block formats (Q8_0, Q4_0, Q4_K, Q6_K) with AVX512-VNNI: x is
// quantized once per parallel section to int8 per 32 values (d = amax/127, like Q8_0), and each
// 32-value block of a W row is a vpdpbusd (u8 x s8 -> int32) followed by an f32 FMA with the
// block's scales (two 32-value blocks per 512-bit instruction).
//   Q8_0: signed weights (s8) against x + 128 (u8); the row's accumulator starts at -128·Σw.
//   Q4_0, Q6_K: unsigned codes q with value (q - offset) · scale; the dpbusd accumulator starts at
//               -offset · Σq (per 4 lanes, precomputed with x), so it yields Σ (q - offset)·x.
//   Q4_K: unsigned 4-bit codes; the per-sub-block min term uses the exact f32 sums of x.
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/gemv.h"
#include "ops/quant_blocks.h"
#include "ops/simd_math.h"

namespace tunekit::ops {

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512BW__)
namespace {

// x[T, K] quantized per 32 values into thread-local buffers that live until the next call on this
// thread (one quantization serves every integer format: the offsets only scale Σq).
QuantizedX quantize_x(const float* x, int64_t T, int64_t K) {
  thread_local std::vector<int8_t> q;
  thread_local std::vector<uint8_t> q_plus_128;
  thread_local std::vector<float> d, d_pairs, sum;
  thread_local std::vector<int32_t> minus_8_sum4, minus_32_sum4;
  const int64_t nb = K / 32, pairs = QuantizedX::pairs(K);
  q.resize(size_t(T * K) + 64);  // slack: kernels may read one block past the end
  q_plus_128.resize(size_t(T * K) + 64);
  d.resize(size_t(T * nb));
  d_pairs.assign(size_t(T * pairs * 16), 0.0f);  // an odd last block pairs with scale 0
  sum.resize(size_t(T * nb));
  minus_8_sum4.resize(size_t(T * K / 4) + 16);
  minus_32_sum4.resize(size_t(T * K / 4) + 16);
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
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q_plus_128.data() + 32 * b),
                        _mm256_xor_si256(qv, _mm256_set1_epi8(char(0x80))));
    d[size_t(b)] = scale;
    const int64_t t = b / nb, i = b % nb;  // token t, block i
    std::fill_n(d_pairs.data() + (t * pairs + i / 2) * 16 + i % 2 * 8, 8, scale);
    sum[size_t(b)] = _mm512_reduce_add_ps(_mm512_add_ps(lo, hi));
    __m256i lane_sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, qv);  // Σ of each 4 q
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(minus_8_sum4.data() + 8 * b),
                        _mm256_mullo_epi32(lane_sums, _mm256_set1_epi32(-8)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(minus_32_sum4.data() + 8 * b),
                        _mm256_mullo_epi32(lane_sums, _mm256_set1_epi32(-32)));
  }
  return QuantizedX{K,         q.data(),   q_plus_128.data(),   d.data(),
                    d_pairs.data(), sum.data(), minus_8_sum4.data(), minus_32_sum4.data()};
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
// Software prefetch runs a whole number of row groups (R rows) ahead: at least two and at least
// kPrefetchBytes. The hardware prefetcher alone streams these interleaved rows at half the speed;
// ~8 KB ahead measured best on the EPYC VMs (7% faster decode matmuls than the 4.9 KB of two
// groups of Q8_0 rows of 576; 12 and 16 KB were slower).
constexpr size_t kPrefetchBytes = 8192;
inline size_t prefetch_distance(int R, size_t row_bytes) {
  const size_t group = size_t(R) * row_bytes;
  return std::max<size_t>(2, (kPrefetchBytes + group - 1) / group) * group;
}
// Prefetches the block at `blk` of the row `ahead` bytes further.
template <class Block>
inline void prefetch_ahead(const Block* blk, size_t ahead) {
  const char* p = reinterpret_cast<const char*>(blk) + ahead;
  for (size_t line = 0; line < sizeof(Block); line += 64) _mm_prefetch(p + line, _MM_HINT_T0);
}

// Every loop over rows r, tokens t and sub-blocks is fully unrolled (#pragma GCC unroll) so that the
// accumulators stay in registers: GCC keeps an array in memory as soon as one loop indexes it at
// run time, and stops unrolling by itself at 16 iterations.
template <int R, int NT>
void zero(__m512 (&acc)[R][NT]) {
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
}

template <int R, int NT>
void store(__m512 (&acc)[R][NT], float* y, int64_t ldy, bool accumulate) {
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      float sum = _mm512_reduce_add_ps(acc[r][t]);
      y[t * ldy + r] = accumulate ? y[t * ldy + r] + sum : sum;
    }
}

// Scales of blocks b and b + 1 as 16 lanes: d0 in lanes 0-7, d1 in lanes 8-15.
inline __m512 pair_of_halves(uint16_t d0, uint16_t d1) {
  return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(short(d0))),
                                                 _mm_set1_epi16(short(d1)), 1));
}

// Q8_0 and Q4_0 take two 32-value blocks per 512-bit vpdpbusd; an odd last block pairs with zero
// weights and a zero scale (x may be read past its last block: quantize_x leaves slack).
// Q8_0's signed weights meet x + 128 (u8): vpdpbusd yields Σ (x + 128)·w, so each row's accumulator
// starts at -128·Σw (one vpdpbusd of 0x80 bytes with w, shared by all tokens).
struct Q8_0Kernel {
  template <int R, int NT>
  static void group(const QuantizedX& x, const uint8_t* w_rows, size_t row_bytes, float* y, int64_t ldy, bool acc_out) {
    __m512 acc[R][NT];
    zero(acc);
    const size_t ahead = prefetch_distance(R, row_bytes);
    const int64_t nb = x.K / 32, pairs = QuantizedX::pairs(x.K);
    const __m512i minus_128 = _mm512_set1_epi8(char(0x80));  // as u8: 128
    for (int64_t b = 0; b < nb; b += 2) {
      const bool pair = b + 1 < nb;
      __m512i w[R], start[R];
      __m512 d[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const BlockQ8_0* blk = reinterpret_cast<const BlockQ8_0*>(w_rows + r * row_bytes) + b;
        prefetch_ahead(blk, ahead);
        prefetch_ahead(blk + 1, ahead);
        w[r] = _mm512_inserti64x4(_mm512_castsi256_si512(load256(blk[0].qs)),
                                  pair ? load256(blk[1].qs) : _mm256_setzero_si256(), 1);
        start[r] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), minus_128, w[r]));
        d[r] = pair_of_halves(blk[0].d, pair ? blk[1].d : 0);
      }
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m512i xv = _mm512_loadu_si512(x.q_plus_128 + t * x.K + 32 * b);
        const __m512 dx = _mm512_loadu_ps(x.d_pairs + (t * pairs + b / 2) * 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          __m512i dot = _mm512_dpbusd_epi32(start[r], xv, w[r]);
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(d[r], dx), acc[r][t]);
        }
      }
    }
    store(acc, y, ldy, acc_out);
  }
};

struct Q4_0Kernel {
  template <int R, int NT>
  static void group(const QuantizedX& x, const uint8_t* w_rows, size_t row_bytes, float* y, int64_t ldy, bool acc_out) {
    __m512 acc[R][NT];
    zero(acc);
    const size_t ahead = prefetch_distance(R, row_bytes);
    const int64_t nb = x.K / 32;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m512i value_order = _mm512_setr_epi64(0, 1, 4, 5, 2, 3, 6, 7);
    for (int64_t b = 0; b < nb; b += 2) {
      const bool pair = b + 1 < nb;
      __m512i codes[R];
      __m512 d[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const BlockQ4_0* blk = reinterpret_cast<const BlockQ4_0*>(w_rows + r * row_bytes) + b;
        prefetch_ahead(blk, ahead);
        prefetch_ahead(blk + 1, ahead);
        __m256i packed = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[0].qs))),
            pair ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[1].qs)) : _mm_setzero_si128(), 1);
        __m256i lo = _mm256_and_si256(packed, low4), hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
        // [lo_b, lo_b+1, hi_b, hi_b+1] in 16-byte quarters -> [lo_b, hi_b, lo_b+1, hi_b+1]: values in order
        codes[r] = _mm512_permutexvar_epi64(value_order, _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
        d[r] = pair_of_halves(blk[0].d, pair ? blk[1].d : 0);
      }
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m512i xv = _mm512_loadu_si512(x.q + t * x.K + 32 * b);
        const __m512i start = _mm512_loadu_si512(x.minus_8_sum4 + (t * x.K + 32 * b) / 4);
        const __m512 dx = _mm512_loadu_ps(x.d_pairs + (t * QuantizedX::pairs(x.K) + b / 2) * 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          __m512i dot = _mm512_dpbusd_epi32(start, codes[r], xv);
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(d[r], dx), acc[r][t]);
        }
      }
    }
    store(acc, y, ldy, acc_out);
  }
};

// Lanes 0-7 pick element a of a vector, lanes 8-15 element b.
inline __m512i lanes_from(int a, int b) {
  return _mm512_add_epi32(_mm512_set1_epi32(a), _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, b - a, b - a, b - a, b - a,
                                                                   b - a, b - a, b - a, b - a));
}

// The k-quants take 64 values (two sub-blocks of 32, resp. four of 16) per 512-bit vpdpbusd.
struct Q4_KKernel {
  template <int R, int NT>
  static void group(const QuantizedX& x, const uint8_t* w_rows, size_t row_bytes, float* y, int64_t ldy, bool acc_out) {
    __m512 acc[R][NT];
    zero(acc);
    const size_t ahead = prefetch_distance(R, row_bytes);
    const int64_t nb = x.K / 256, nb32 = x.K / 32;
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i nibble_shift = _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4);  // low half: low nibbles
    for (int64_t b = 0; b < nb; ++b) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const BlockQ4_K* blk = reinterpret_cast<const BlockQ4_K*>(w_rows + r * row_bytes) + b;
        prefetch_ahead(blk, ahead);
        const __m256 scales = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(
                                                q4_k_scales(blk->scales))))),
                                            _mm256_set1_ps(_cvtsh_ss(blk->d)));
        const __m256 mins = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(
                                              q4_k_mins(blk->scales))))),
                                          _mm256_set1_ps(_cvtsh_ss(blk->dmin)));
        __m512 sub_scale[NT];  // lanes 0-7: d · sc_j · dx_j of the 8 sub-blocks
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const int64_t at = t * nb32 + 8 * b;
          sub_scale[t] = _mm512_castps256_ps512(_mm256_mul_ps(scales, _mm256_loadu_ps(x.d + at)));
          acc[r][t] = _mm512_fnmadd_ps(_mm512_zextps256_ps512(mins), _mm512_zextps256_ps512(_mm256_loadu_ps(x.sum + at)),
                                       acc[r][t]);
        }
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {  // 64 values: sub-block 2c in the low nibbles, 2c + 1 in the high
          const __m512i codes =
              _mm512_and_si512(_mm512_srlv_epi64(_mm512_broadcast_i64x4(load256(blk->qs + 32 * c)), nibble_shift), low4);
          const __m512i pick = lanes_from(2 * c, 2 * c + 1);
#pragma GCC unroll 8
          for (int t = 0; t < NT; ++t) {
            __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes,
                                              _mm512_loadu_si512(x.q + t * x.K + 256 * b + 64 * c));
            acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(pick, sub_scale[t]), acc[r][t]);
          }
        }
      }
    }
    store(acc, y, ldy, acc_out);
  }
};

struct Q6_KKernel {
  template <int R, int NT>
  static void group(const QuantizedX& x, const uint8_t* w_rows, size_t row_bytes, float* y, int64_t ldy, bool acc_out) {
    __m512 acc[R][NT];
    zero(acc);
    const size_t ahead = prefetch_distance(R, row_bytes);
    const int64_t nb = x.K / 256;
    const __m512i low4 = _mm512_set1_epi8(0x0F), low2 = _mm512_set1_epi8(0x03);
    // qh bits of quarters 0 | 1 and 2 | 3 of 128 values (each 256-bit half its own shift)
    const __m512i high_shift[2] = {_mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2), _mm512_setr_epi64(4, 4, 4, 4, 6, 6, 6, 6)};
    for (int64_t b = 0; b < nb; ++b) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const BlockQ6_K* blk = reinterpret_cast<const BlockQ6_K*>(w_rows + r * row_bytes) + b;
        prefetch_ahead(blk, ahead);
        // d · scale of the 16 sub-blocks of 16 values
        const __m512 scales = _mm512_mul_ps(
            _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk->scales)))),
            _mm512_set1_ps(_cvtsh_ss(blk->d)));
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {  // 128 values from ql[64 h ..], qh[32 h ..]
          const __m512i ql = _mm512_loadu_si512(blk->ql + 64 * h);  // quarters 0 | 1 low nibbles, 2 | 3 high
          const __m512i qh = _mm512_broadcast_i64x4(load256(blk->qh + 32 * h));
#pragma GCC unroll 2
          for (int p = 0; p < 2; ++p) {  // 64 values: quarters 2p and 2p + 1
            const __m512i low = p == 0 ? ql : _mm512_srli_epi16(ql, 4);
            const __m512i codes = _mm512_or_si512(
                _mm512_and_si512(low, low4),
                _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh, high_shift[p]), low2), 4));
            const int s0 = 8 * h + 4 * p;  // first of the four sub-blocks (4 lanes each)
            const __m512 scale = _mm512_permutexvar_ps(
                _mm512_setr_epi32(s0, s0, s0, s0, s0 + 1, s0 + 1, s0 + 1, s0 + 1, s0 + 2, s0 + 2, s0 + 2, s0 + 2,
                                  s0 + 3, s0 + 3, s0 + 3, s0 + 3),
                scales);
            const int64_t k = 256 * b + 128 * h + 64 * p;
#pragma GCC unroll 8
            for (int t = 0; t < NT; ++t) {
              __m512i dot = _mm512_dpbusd_epi32(_mm512_loadu_si512(x.minus_32_sum4 + (t * x.K + k) / 4), codes,
                                                _mm512_loadu_si512(x.q + t * x.K + k));
              const __m512 dx = _mm512_loadu_ps(x.d_pairs + (t * x.K / 64 + k / 64) * 16);  // blocks k/32, k/32 + 1
              acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(scale, dx), acc[r][t]);
            }
          }
        }
      }
    }
    store(acc, y, ldy, acc_out);
  }
};

template <class Kernel, int NT>
void group_rows(const QuantizedX& x, const uint8_t* W, size_t row_bytes, int64_t n0, int64_t n1, float* y,
                int64_t ldy, bool accumulate) {
  constexpr int R = gemv_rows_per_pass(NT);
  // The first groups of the range, which no group before them prefetched.
  const char* first = reinterpret_cast<const char*>(W + n0 * row_bytes);
  const size_t head = std::min(prefetch_distance(R, row_bytes), size_t(n1 - n0) * row_bytes);
  for (size_t at = 0; at < head; at += 64) _mm_prefetch(first + at, _MM_HINT_T0);
  int64_t n = n0;
  for (; n + R <= n1; n += R) Kernel::template group<R, NT>(x, W + n * row_bytes, row_bytes, y + n, ldy, accumulate);
  for (; n < n1; ++n) Kernel::template group<1, NT>(x, W + n * row_bytes, row_bytes, y + n, ldy, accumulate);
}

// Rows [n0, n1) of y[T, N] for every token, in passes of up to kGemvTokens.
template <class Kernel>
void rows_with(const GemvX& x, const Tensor& W, int64_t n0, int64_t n1, float* y, bool accumulate) {
  const int64_t N = W.shape[0];
  const size_t row_bytes = dtype_bytes(W.dtype, x.K);
  const auto* w = static_cast<const uint8_t*>(W.data);
  for (int64_t t0 = 0; t0 < x.T; t0 += kGemvTokens)
    with_token_count(std::min<int64_t>(kGemvTokens, x.T - t0), [&](auto NT) {
      group_rows<Kernel, NT.value>(x.q.from_token(t0), w, row_bytes, n0, n1, y + t0 * N, N, accumulate);
    });
}

}  // namespace

GemvKernel gemv_int8_kernel(DType dtype) {
  switch (dtype) {
    case DType::Q8_0: return {rows_with<Q8_0Kernel>, quantize_x};
    case DType::Q4_0: return {rows_with<Q4_0Kernel>, quantize_x};
    case DType::Q4_K: return {rows_with<Q4_KKernel>, quantize_x};
    case DType::Q6_K: return {rows_with<Q6_KKernel>, quantize_x};
    default: return {};
  }
}
#else
GemvKernel gemv_int8_kernel(DType) { return {}; }
#endif

bool gemv_int8(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate) {
  return gemv_int8_kernel(W.dtype).rows && linear_streaming(x, T, {{LinearOutput{&W, y, accumulate}}}, false);
}

}  // namespace tunekit::ops
