// y (+)= x·Wᵀ + u·Bᵀ with the low-rank term inside the product (linear_kernels.h). For each panel
// of 64 columns of y, W's 64 rows and B's are packed transposed into one [K + r, 64] block; a 6 x 64
// tile of y is then 24 registers that run K steps over x and W and r more over u and B before the
// tile is stored once. A separate y += u·Bᵀ reads and writes all of y again (2 × 3 MB per gate or
// up product of a 2 x 256 part): in a LoRA training step that pass cost more than its arithmetic.
// While a panel's tiles run, they prefetch the next panel's rows of W, so that packing it does not
// wait on memory: for the vocabulary logits (W 113 MB, read once per chunk of rows) that made the
// product ~13% faster, and LoRA steps ~1.5% faster.
// (The input gradient dy·W + du·A done the same way, W's rows packed as they are, was 1-3% slower
// than oneDNN's dy·W followed by du·A at the step's shapes: not done.)
#include <algorithm>
#include <cstdint>
#include <memory>

#include "ops/linear_kernels.h"
#include "ops/simd_math.h"
#include "tunekit/core/parallel.h"

namespace tunekit::ops {

#ifdef __AVX512F__
namespace {

constexpr int64_t kRows = 6;         // rows of a tile: 6 x 4 accumulators, 4 loads and 6 broadcasts per step
constexpr int64_t kVectors = 4;      // 16-float vectors across a tile
constexpr int64_t kPanel = 16 * kVectors;  // columns of a tile and of a packed panel

// dst[k][0, 16) = src[0, 16)[k] for k in [0, 16): one 16 x 16 block of W (row stride lds) transposed.
void transpose16(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; ++i) {  // pairs of rows interleaved
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  auto pd = [](__m512 v) { return _mm512_castps_pd(v); };
  for (int i = 0; i < 4; ++i) {  // r[4i + j]: rows 4i..4i+3 at columns j, j + 4, j + 8, j + 12 (one per lane)
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[4 * i]), pd(t[4 * i + 2])));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[4 * i]), pd(t[4 * i + 2])));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[4 * i + 1]), pd(t[4 * i + 3])));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[4 * i + 1]), pd(t[4 * i + 3])));
  }
  for (int i = 0; i < 4; ++i) {  // 128-bit lanes gathered: even lanes (0x88) and odd lanes (0xDD)
    t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
    t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xDD);
    t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
    t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {  // column i, i + 4, i + 8, i + 12 of the block
    _mm512_storeu_ps(dst + i * ldd, _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88));
    _mm512_storeu_ps(dst + (i + 8) * ldd, _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD));
    _mm512_storeu_ps(dst + (i + 4) * ldd, _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88));
    _mm512_storeu_ps(dst + (i + 12) * ldd, _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xDD));
  }
}

// packed[K + r, 64] = [W rows n0.. ; B rows n0..]ᵀ (W [N, K], B [N, r]), columns past N zero.
void pack_panel(const float* W, const float* B, int64_t N, int64_t K, int64_t r, int64_t n0, float* packed) {
  const int64_t cols = std::min(kPanel, N - n0);
  const int64_t K16 = cols == kPanel ? K / 16 * 16 : 0;  // what whole 16 x 16 blocks cover
  for (int64_t c0 = 0; c0 < kPanel && K16 > 0; c0 += 16)
    for (int64_t k0 = 0; k0 < K16; k0 += 16) transpose16(W + (n0 + c0) * K + k0, K, packed + k0 * kPanel + c0, kPanel);
  for (int64_t k = K16; k < K; ++k)
    for (int64_t c = 0; c < kPanel; ++c) packed[k * kPanel + c] = c < cols ? W[(n0 + c) * K + k] : 0.0f;
  for (int64_t j = 0; j < r; ++j)
    for (int64_t c = 0; c < kPanel; ++c) packed[(K + j) * kPanel + c] = c < cols ? B[(n0 + c) * r + j] : 0.0f;
}

// Cache lines to fetch into L2 while a tile runs: `lines` lines from `first` on.
struct Prefetch {
  const char* first;
  int64_t lines;
};

// y[rows, cols] (+)= x[rows, K] · packed[0, K) + u[rows, r] · packed[K, K + r), rows <= 6 (the last
// row is read again for the missing ones and not stored), cols <= 64 (masked stores); `ahead` is
// prefetched evenly over the K steps.
void tile(const float* x, int64_t K, const float* u, int64_t r, const float* packed, int64_t rows, int64_t cols,
          float* y, int64_t ldy, bool accumulate, Prefetch ahead) {
  __m512 acc[kRows][kVectors];
  for (auto& row : acc)
    for (__m512& v : row) v = _mm512_setzero_ps();
  const float* xr[kRows];
  const float* ur[kRows];
  for (int64_t i = 0; i < kRows; ++i) {
    xr[i] = x + std::min(i, rows - 1) * K;
    ur[i] = u + std::min(i, rows - 1) * r;
  }
  auto step = [&](const float* const* a, int64_t k, const float* b) {
    __m512 w[kVectors];
    for (int64_t v = 0; v < kVectors; ++v) w[v] = _mm512_load_ps(b + k * kPanel + 16 * v);
#pragma GCC unroll 6
    for (int64_t i = 0; i < kRows; ++i) {
      const __m512 s = _mm512_set1_ps(a[i][k]);
      for (int64_t v = 0; v < kVectors; ++v) acc[i][v] = _mm512_fmadd_ps(s, w[v], acc[i][v]);
    }
  };
  // Steps run in pairs, and the prefetches are counted once per pair (ahead.lines per pair, in units
  // of 1/pairs of a line): on the Intel Xeon VM that made the tiles ~5% faster than one step per
  // iteration with its own prefetch count. (Four steps per iteration were no faster, and made GCC
  // keep an accumulator on the stack.)
  const int64_t pairs = std::max<int64_t>(1, K / 2);
  int64_t due = 0;
  auto steps = [&](const float* const* a, int64_t n, const float* b) {
    int64_t k = 0;
    for (; k + 2 <= n; k += 2) {
      for (due += ahead.lines; due >= pairs; due -= pairs, ahead.first += 64) _mm_prefetch(ahead.first, _MM_HINT_T1);
      step(a, k, b);
      step(a, k + 1, b);
    }
    if (k < n) step(a, k, b);
  };
  steps(xr, K, packed);
  ahead.lines = 0;
  steps(ur, r, packed + K * kPanel);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t v = 0; v < kVectors; ++v) {
      const int64_t left = cols - 16 * v;
      if (left <= 0) break;
      const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
      float* dst = y + i * ldy + 16 * v;
      const __m512 sum = accumulate ? _mm512_add_ps(acc[i][v], _mm512_maskz_loadu_ps(mask, dst)) : acc[i][v];
      _mm512_mask_storeu_ps(dst, mask, sum);
    }
}

}  // namespace

bool linear_lora_fused(const float* x, int64_t T, const float* W, int64_t N, int64_t K, const float* u,
                       const float* B, int64_t r, float* y, bool accumulate) {
  if (T < kLoraFusedMinRows || N <= 0 || K <= 0 || K > kLoraFusedMaxK || r < 0 || r > kLoraFusedMaxRank)
    return false;
  const int64_t panels = (N + kPanel - 1) / kPanel, threads = threads_here();
  // Each task packs the panels it needs: split the panels when they go round evenly (or nearly: 8 or
  // more per thread), else the rows in one chunk of whole tiles per thread, each chunk then packing
  // every panel (9 panels of 64 on 2 threads would leave one thread idle for a ninth of the product).
  const bool by_panels = panels % threads == 0 || panels >= 8 * threads;
  const int64_t row_chunk = by_panels ? T : (T / threads + kRows - 1) / kRows * kRows;
  const int64_t row_chunks = (T + row_chunk - 1) / row_chunk;
  parallel_for(
      by_panels ? panels : row_chunks,
      [&](int64_t begin, int64_t end) {
        thread_local std::unique_ptr<float[]> buffer;  // the packed panel, 64-byte aligned
        thread_local int64_t capacity = 0;
        const int64_t need = (K + r) * kPanel + 16;
        if (capacity < need) buffer.reset(new float[size_t(capacity = need)]);
        float* packed = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(buffer.get()) + 63) & ~uintptr_t(63));
        for (int64_t task = begin; task < end; ++task) {
          const int64_t p0 = by_panels ? task : 0, p1 = by_panels ? task + 1 : panels;
          const int64_t t0 = by_panels ? 0 : task * row_chunk, t1 = by_panels ? T : std::min(T, t0 + row_chunk);
          for (int64_t p = p0; p < p1; ++p) {
            const int64_t n0 = p * kPanel;
            pack_panel(W, B, N, K, r, n0, packed);
            // The next panel's rows of W (whichever thread packs it), a share per tile.
            const int64_t next_rows = p + 1 < panels ? std::min(kPanel, N - n0 - kPanel) : 0;
            const int64_t lines = next_rows * K * int64_t(sizeof(float)) / 64;
            const int64_t tiles = (t1 - t0 + kRows - 1) / kRows, share = (lines + tiles - 1) / tiles;
            const char* next = reinterpret_cast<const char*>(W + (n0 + kPanel) * K);
            for (int64_t t = t0, i = 0; t < t1; t += kRows, ++i)
              tile(x + t * K, K, u + t * r, r, packed, std::min(kRows, t1 - t), std::min(kPanel, N - n0),
                   y + t * N + n0, N, accumulate,
                   {next + i * share * 64, std::clamp<int64_t>(lines - i * share, 0, share)});
          }
        }
      },
      1);
  return true;
}
#else
bool linear_lora_fused(const float*, int64_t, const float*, int64_t, int64_t, const float*, const float*, int64_t,
                       float*, bool) {
  return false;
}
#endif

}  // namespace tunekit::ops
