// Causal grouped-query attention over a KV cache. A task is one query head and a block of query rows:
//   scores S[rows, keys] = (q / sqrt(d)) · Kᵀ over the keys any of its rows can see,
//   each row's exact softmax over its visible keys (others get probability 0),
//   out[rows, d] = P · V.
// Blocks of several rows (prefill) run both products as oneDNN sgemm calls on the caches in place
// (strided, no copies); single rows (decode) use dot-product kernels. Over a paged cache, a task
// first gathers the keys and values its rows can see (one kv head's [n, d_head]) into scratch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/linear_kernels.h"
#include "ops/simd_math.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

namespace {

constexpr int64_t kBlockRows = 32;  // query rows per task in prefill
constexpr int64_t kGemmRows = 4;    // from this many rows a task uses sgemm

struct AttentionArgs {
  const float *q, *k_cache, *v_cache;
  float* out;
  const int32_t* positions;
  int64_t n_head, n_head_kv, d_head, window;
  const int32_t* block_table = nullptr;  // paged cache: position p is row p % block_size of block block_table[p / block_size]
  int64_t block_size = 0;
};

// dst[n, d] = rows [key0, key0 + n) of kv head g of a paged cache.
void gather_keys(const AttentionArgs& a, const float* pool, int64_t g, int64_t key0, int64_t n, float* dst) {
  const int64_t d = a.d_head, kv_stride = a.n_head_kv * d;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t p = key0 + j;
    const int64_t row = int64_t(a.block_table[p / a.block_size]) * a.block_size + p % a.block_size;
    std::copy_n(pool + row * kv_stride + g * d, d, dst + j * d);
  }
}

// The keys query t may see: [first, last].
struct KeyRange {
  int64_t first, last;
};
KeyRange visible_keys(int32_t position, int64_t window) {
  return {window > 0 ? std::max<int64_t>(0, position - window + 1) : 0, position};
}

float dot(const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  float sum = 0.0f;
#ifdef __AVX512F__
  __m512 acc = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  sum = _mm512_reduce_add_ps(acc);
#endif
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

#ifdef __AVX512F__
// The 16 horizontal sums of v[0..15] as one vector: lane j = Σ lanes of v[j].
__m512 reduce16(__m512 (&v)[16]) {
  __m512 pairs[8], quads[4];
  for (int i = 0; i < 8; ++i)  // per 128-bit lane: partial sums of v[2i], v[2i+1], interleaved
    pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  for (int i = 0; i < 4; ++i) {  // per 128-bit lane: partial sums of v[4i .. 4i+3] in order
    __m512d a = _mm512_castps_pd(pairs[2 * i]), b = _mm512_castps_pd(pairs[2 * i + 1]);
    quads[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  __m512 half[2];
  for (int i = 0; i < 2; ++i)  // 128-bit lanes: v[8i..8i+3] over lanes 0+1, 2+3, then v[8i+4..8i+7]
    half[i] = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], 0x88),
                            _mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(half[0], half[1], 0x88), _mm512_shuffle_f32x4(half[0], half[1], 0xDD));
}
#endif

// scores[j] = scale · q·K[j, :] for j in [0, n); K rows have stride k_stride. Sixteen keys at a
// time share the loads of q and one reduction tree.
void dot_keys(const float* q, const float* K, int64_t k_stride, int64_t n, int64_t d, float scale, float* scores) {
  int64_t j = 0;
#ifdef __AVX512F__
  for (; j + 16 <= n; j += 16) {
    __m512 acc[16];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int64_t c = 0; c < d; c += 16) {
      const __mmask16 mask = __mmask16((1u << std::min<int64_t>(16, d - c)) - 1);
      const __m512 qv = _mm512_maskz_loadu_ps(mask, q + c);
      for (int k = 0; k < 16; ++k)
        acc[k] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(mask, K + (j + k) * k_stride + c), acc[k]);
    }
    _mm512_storeu_ps(scores + j, _mm512_mul_ps(reduce16(acc), _mm512_set1_ps(scale)));
  }
#endif
  for (; j < n; ++j) scores[j] = scale * dot(q, K + j * k_stride, d);
}

// o[0..d) = scale · Σ_j p[j] · V[j, :] over j in [0, n); V rows have stride v_stride. Accumulates
// 64 lanes of d at a time in registers.
void weighted_sum(const float* p, const float* V, int64_t v_stride, int64_t n, int64_t d, float scale, float* o) {
  for (int64_t c = 0; c < d; c += 64) {
    const int64_t width = std::min<int64_t>(64, d - c);
#ifdef __AVX512F__
    __mmask16 mask[4];
    __m512 acc[4];
    for (int v = 0; v < 4; ++v) {
      mask[v] = __mmask16((1u << std::clamp<int64_t>(width - 16 * v, 0, 16)) - 1);
      acc[v] = _mm512_setzero_ps();
    }
    for (int64_t j = 0; j < n; ++j) {
      const __m512 pj = _mm512_set1_ps(p[j]);
      for (int v = 0; v < 4; ++v)
        acc[v] = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(mask[v], V + j * v_stride + c + 16 * v), acc[v]);
    }
    for (int v = 0; v < 4; ++v)
      _mm512_mask_storeu_ps(o + c + 16 * v, mask[v], _mm512_mul_ps(acc[v], _mm512_set1_ps(scale)));
#else
    for (int64_t i = 0; i < width; ++i) {
      float sum = 0.0f;
      for (int64_t j = 0; j < n; ++j) sum += p[j] * V[j * v_stride + c + i];
      o[c + i] = sum * scale;
    }
#endif
  }
}

// In place on s[first..last]: exp(s - max); returns the sum.
float exp_and_sum(float* s, int64_t first, int64_t last) {
  const float max = max_of(s + first, last - first + 1);
  int64_t j = first;
  float sum = 0.0f;
#ifdef __AVX512F__
  __m512 vmax = _mm512_set1_ps(max), acc = _mm512_setzero_ps();
  for (; j + 16 <= last + 1; j += 16) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(s + j), vmax));
    _mm512_storeu_ps(s + j, e);
    acc = _mm512_add_ps(acc, e);
  }
  sum = _mm512_reduce_add_ps(acc);
#endif
  for (; j <= last; ++j) sum += (s[j] = std::exp(s[j] - max));
  return sum;
}

// Query rows [t0, t1) of head h.
void attend_rows(const AttentionArgs& a, int64_t h, int64_t t0, int64_t t1) {
  thread_local std::vector<float> scores, inv_sums, k_gathered, v_gathered;
  const int64_t d = a.d_head, rows = t1 - t0, g = h / (a.n_head / a.n_head_kv);
  const int64_t q_stride = a.n_head * d;
  int64_t key0 = INT64_MAX, key_end = 0;
  for (int64_t t = t0; t < t1; ++t) {
    KeyRange k = visible_keys(a.positions[t], a.window);
    key0 = std::min(key0, k.first);
    key_end = std::max(key_end, k.last + 1);
  }
  const int64_t n = key_end - key0, ld = (n + 15) / 16 * 16 + 16;  // never a power of two apart
  scores.resize(size_t(rows * ld));
  float* S = scores.data();                                // [rows, ld]
  const float* q = a.q + t0 * q_stride + h * d;            // [rows, d], row stride q_stride
  int64_t kv_stride = a.n_head_kv * d;
  const float* K = a.k_cache + key0 * kv_stride + g * d;   // [n, d], row stride kv_stride
  const float* V = a.v_cache + key0 * kv_stride + g * d;   // [n, d], row stride kv_stride
  if (a.block_table) {
    k_gathered.resize(size_t(n * d));
    v_gathered.resize(size_t(n * d));
    gather_keys(a, a.k_cache, g, key0, n, k_gathered.data());
    gather_keys(a, a.v_cache, g, key0, n, v_gathered.data());
    K = k_gathered.data();
    V = v_gathered.data();
    kv_stride = d;
  }
  float* out = a.out + t0 * q_stride + h * d;              // [rows, d], row stride q_stride
  const float scale = 1.0f / std::sqrt(float(d));

  if (rows >= kGemmRows) {
    sgemm('T', rows, n, d, scale, q, q_stride, K, kv_stride, 0.0f, S, ld);
  } else {
    for (int64_t r = 0; r < rows; ++r) dot_keys(q + r * q_stride, K, kv_stride, n, d, scale, S + r * ld);
  }
  inv_sums.resize(size_t(rows));
  float* inv_sum = inv_sums.data();  // [rows]
  for (int64_t r = 0; r < rows; ++r) {
    KeyRange k = visible_keys(a.positions[t0 + r], a.window);
    float* s = S + r * ld;
    std::fill(s, s + (k.first - key0), 0.0f);
    std::fill(s + (k.last + 1 - key0), s + n, 0.0f);
    inv_sum[r] = 1.0f / exp_and_sum(s, k.first - key0, k.last - key0);
  }
  if (rows >= kGemmRows) {
    sgemm('N', rows, d, n, 1.0f, S, ld, V, kv_stride, 0.0f, out, q_stride);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < d; ++i) out[r * q_stride + i] *= inv_sum[r];
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      KeyRange k = visible_keys(a.positions[t0 + r], a.window);
      weighted_sum(S + r * ld + (k.first - key0), V + (k.first - key0) * kv_stride, kv_stride, k.last - k.first + 1,
                   d, inv_sum[r], out + r * q_stride);
    }
  }
}

}  // namespace

namespace {

void run_attention(const AttentionArgs& args, int64_t T) {
  check(T >= 0 && args.n_head > 0 && args.n_head_kv > 0 && args.d_head > 0 && args.n_head % args.n_head_kv == 0 &&
            args.window >= 0,
        "attention: bad shape q [", T, ", ", args.n_head, ", ", args.d_head, "] with ", args.n_head_kv,
        " kv heads (n_head must be a multiple of n_head_kv), window ", args.window);
  for (int64_t t = 0; t < T; ++t)
    check(args.positions[t] >= 0, "attention: negative position ", args.positions[t], " at row ", t);
  const int64_t block = std::clamp<int64_t>(T, 1, kBlockRows);
  const int64_t blocks = (T + block - 1) / block;
  parallel_for(args.n_head * blocks, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t h = task / blocks, t0 = task % blocks * block;
      attend_rows(args, h, t0, std::min(T, t0 + block));
    }
  });
}

}  // namespace

void attention(const float* q, const float* k_cache, const float* v_cache, float* out, int64_t T,
               const int32_t* positions, int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window) {
  run_attention({q, k_cache, v_cache, out, positions, n_head, n_head_kv, d_head, window}, T);
}

void attention_paged(const float* q, const float* k_pool, const float* v_pool, const int32_t* block_table,
                     int64_t block_size, float* out, int64_t T, const int32_t* positions, int64_t n_head,
                     int64_t n_head_kv, int64_t d_head, int64_t window) {
  check(block_size > 0 && block_table, "attention_paged: a block table and a positive block size are required");
  run_attention({q, k_pool, v_pool, out, positions, n_head, n_head_kv, d_head, window, block_table, block_size}, T);
}

}  // namespace tunekit::ops
