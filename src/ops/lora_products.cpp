// A LoRA's rank-r products that oneDNN runs far below the FMA peak (an output or an inner dimension
// of r = 4 to 16 columns), as one pass over the wide operand each:
// * u = x·Aᵀ: a block of rows of x, loaded once per 16 columns, meets A's r rows as they are; each
//   of the block's r dot products keeps 16 lanes of partial sums, added across at the end.
// * du = scale · dy·B and dB += dyᵀ·u, both from one pass over dy. With g = 16 / r columns of dy per
//   vector, B's rows n .. n + g - 1 are one vector [B[n, 0..r) .. B[n + g - 1, 0..r)], and so are
//   dB's; a vector of dy values, each repeated r times (a permute of a 16-float chunk of a row),
//   multiplies both: acc_t += dy_t · B_rows (du_t's terms, in g lane groups) and dB_rows += dy_t · [u_t ..].
// Tasks own fixed blocks (rows of x, or kColumns columns of dy with their dB rows and their share of
// du, added up in block order), so every sum runs in the same order whatever the thread count.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "ops/simd_math.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

#ifdef __AVX512F__
namespace {

constexpr int64_t kColumns = 256;       // columns of dy per dB task: its B and dB rows stay in L1
constexpr int64_t kDyRowBlock = 8;      // rows of dy per pass over a block's columns (1 dB store per 16 FMAs)
constexpr int64_t kRowsPerTask = 64;    // rows of x per u task

// ---- u = x·Aᵀ --------------------------------------------------------------------------------------

// u[RB, R] = x[RB, K] (row stride K) · A[R, K]ᵀ; K a multiple of 16.
template <int R, int RB>
void project_rows(const float* x, int64_t K, const float* A, float* u) {
  __m512 acc[RB][R];
  for (auto& row : acc)
    for (__m512& v : row) v = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {
    __m512 xv[RB];
    for (int i = 0; i < RB; ++i) xv[i] = _mm512_loadu_ps(x + i * K + k);
    for (int j = 0; j < R; ++j) {
      const __m512 a = _mm512_loadu_ps(A + j * K + k);
      for (int i = 0; i < RB; ++i) acc[i][j] = _mm512_fmadd_ps(xv[i], a, acc[i][j]);
    }
  }
  for (int i = 0; i < RB; ++i)
    for (int j = 0; j < R; ++j) u[i * R + j] = _mm512_reduce_add_ps(acc[i][j]);
}

template <int R>
void project_rank(const float* x, int64_t T, int64_t K, const float* A, float* u) {
  constexpr int RB = 24 / R;  // 24 accumulators
  parallel_for(
      (T + kRowsPerTask - 1) / kRowsPerTask,
      [&](int64_t begin, int64_t end) {
        for (int64_t t = begin * kRowsPerTask, t1 = std::min(T, end * kRowsPerTask); t < t1;) {
          if (t + RB <= t1) {
            project_rows<R, RB>(x + t * K, K, A, u + t * R);
            t += RB;
          } else {
            project_rows<R, 1>(x + t * K, K, A, u + t * R);
            t += 1;
          }
        }
      },
      1);
}

// ---- du = scale · dy·B, dB += dyᵀ·u ----------------------------------------------------------------

// Rows [0, RB) of dy (row stride N) over columns [n0, n1): du_part[RB, R] = dy·B (unscaled) and
// dB_block[n1 - n0, R] += (dyᵀ·u)'s rows [n0, n1). spread[k] puts chunk value k·g + lane / R in each
// lane.
template <int R, int RB>
void dy_rows(const float* dy, int64_t N, const float* B, const float* u, int64_t n0, int64_t n1,
             const __m512i* spread, float* du_part, float* dB_block) {
  constexpr int64_t g = 16 / R;
  __m512 acc[RB], u_rep[RB];
  const __m512i lane_mod_r = _mm512_set_epi32(15 % R, 14 % R, 13 % R, 12 % R, 11 % R, 10 % R, 9 % R, 8 % R, 7 % R,
                                              6 % R, 5 % R, 4 % R, 3 % R, 2 % R, 1 % R, 0);
  for (int i = 0; i < RB; ++i) {
    acc[i] = _mm512_setzero_ps();
    u_rep[i] = _mm512_permutexvar_ps(lane_mod_r, _mm512_maskz_loadu_ps(__mmask16((1u << R) - 1), u + i * R));
  }
  for (int64_t n = n0; n < n1; n += 16) {
    __m512 chunk[RB];
    for (int i = 0; i < RB; ++i) chunk[i] = _mm512_loadu_ps(dy + i * N + n);
    for (int64_t k = 0; k < R; ++k) {  // columns n + k·g .. n + k·g + g - 1
      float* db = dB_block + (n - n0 + k * g) * R;
      const __m512 b = _mm512_loadu_ps(B + (n + k * g) * R);
      __m512 db_rows = _mm512_loadu_ps(db);
      for (int i = 0; i < RB; ++i) {
        const __m512 d = _mm512_permutexvar_ps(spread[k], chunk[i]);
        acc[i] = _mm512_fmadd_ps(d, b, acc[i]);
        db_rows = _mm512_fmadd_ps(d, u_rep[i], db_rows);
      }
      _mm512_storeu_ps(db, db_rows);
    }
  }
  for (int i = 0; i < RB; ++i) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, acc[i]);
    for (int64_t j = 0; j < R; ++j) {
      float sum = 0.0f;
      for (int64_t q = 0; q < g; ++q) sum += lanes[q * R + j];
      du_part[i * R + j] = sum;
    }
  }
}

template <int R>
void dy_rank(const float* dy, int64_t T, int64_t N, const float* B, const float* u, float scale, float* du, float* dB) {
  constexpr int64_t g = 16 / R;
  __m512i spread[R];
  for (int64_t k = 0; k < R; ++k) {
    alignas(64) int32_t index[16];
    for (int64_t lane = 0; lane < 16; ++lane) index[lane] = int32_t(k * g + lane / R);
    spread[k] = _mm512_load_si512(index);
  }
  const int64_t blocks = (N + kColumns - 1) / kColumns;
  thread_local std::vector<float> parts_buf;  // [blocks, T, R]: each block's share of du (the caller's)
  parts_buf.resize(size_t(blocks * T * R));
  float* parts = parts_buf.data();
  parallel_for(
      blocks,
      [&](int64_t begin, int64_t end) {
        for (int64_t block = begin; block < end; ++block) {
          const int64_t n0 = block * kColumns, n1 = std::min(N, n0 + kColumns);
          float* part = parts + block * T * R;
          // The block's dyᵀ·u from zero, then added to dB: the product's rounding does not depend on
          // what dB held (accumulating a micro-batch in two halves gives its gradient exactly).
          thread_local std::vector<float> block_buf;
          block_buf.assign(size_t((n1 - n0) * R), 0.0f);
          float* dB_block = block_buf.data();  // [n1 - n0, R]
          int64_t t = 0;
          for (; t + kDyRowBlock <= T; t += kDyRowBlock)
            dy_rows<R, kDyRowBlock>(dy + t * N, N, B, u + t * R, n0, n1, spread, part + t * R, dB_block);
          for (; t < T; ++t) dy_rows<R, 1>(dy + t * N, N, B, u + t * R, n0, n1, spread, part + t * R, dB_block);
          for (int64_t i = 0; i < (n1 - n0) * R; ++i) dB[n0 * R + i] += dB_block[i];
        }
      },
      1);
  for (int64_t i = 0; i < T * R; ++i) {  // du = scale · the blocks' shares, in block order
    float sum = parts[i];
    for (int64_t block = 1; block < blocks; ++block) sum += parts[block * T * R + i];
    du[i] = scale * sum;
  }
}

// The rank kernels where they apply: false, having written nothing, elsewhere.
bool project_kernel(const float* x, int64_t T, int64_t K, const float* A, int64_t r, float* u) {
  if (T <= 0 || K <= 0 || K % 16 != 0) return false;
  switch (r) {
    case 4: project_rank<4>(x, T, K, A, u); return true;
    case 8: project_rank<8>(x, T, K, A, u); return true;
    case 16: project_rank<16>(x, T, K, A, u); return true;
    default: return false;
  }
}

bool b_backward_kernel(const float* dy, int64_t T, int64_t N, const float* B, int64_t r, const float* u, float scale,
                       float* du, float* dB) {
  if (T <= 0 || N <= 0 || N % 16 != 0) return false;
  switch (r) {
    case 4: dy_rank<4>(dy, T, N, B, u, scale, du, dB); return true;
    case 8: dy_rank<8>(dy, T, N, B, u, scale, du, dB); return true;
    case 16: dy_rank<16>(dy, T, N, B, u, scale, du, dB); return true;
    default: return false;
  }
}

}  // namespace
#else
namespace {
bool project_kernel(const float*, int64_t, int64_t, const float*, int64_t, float*) { return false; }
bool b_backward_kernel(const float*, int64_t, int64_t, const float*, int64_t, const float*, float, float*, float*) {
  return false;
}
}  // namespace
#endif

void lora_project(const float* x, int64_t T, const Tensor& A, float* u) {
  check(A.rank() == 2 && A.dtype == DType::F32, "lora_project: A must be f32 [r, K], got ", dtype_name(A.dtype), " ",
        A.shape_str());
  if (!project_kernel(x, T, A.dim(1), A.as<float>(), A.dim(0), u)) linear(x, T, A, nullptr, u);
}

void lora_b_backward(const float* dy, int64_t T, const Tensor& B, const float* u, float scale, float* du, float* dB) {
  check(B.rank() == 2 && B.dtype == DType::F32, "lora_b_backward: B must be f32 [N, r], got ", dtype_name(B.dtype),
        " ", B.shape_str());
  const int64_t N = B.dim(0), r = B.dim(1);
  if (b_backward_kernel(dy, T, N, B.as<float>(), r, u, scale, du, dB)) return;
  linear_backward_weight(dy, u, T, N, r, dB, true);  // dB += dyᵀ·u
  linear_backward_input(dy, T, B, du, false);         // du = dy·B, then · scale
  for (int64_t i = 0; i < T * r; ++i) du[i] *= scale;
}

}  // namespace tunekit::ops
