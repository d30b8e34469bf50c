// bench_gemm_ceiling: how much faster could any f32 product be than oneDNN's, on one core of this
// CPU? Times, on one thread:
//   * the FMA peak (bench::fp32_peak_gflops: 12 register chains, no memory);
//   * register-blocked AVX-512 microkernels (MR rows x NR columns of C in registers, one broadcast of
//     A and NR/16 loads of B per k) over operands already packed as they want them and resident in
//     L1/L2: the speed no GEMM built from such a kernel can pass, since packing, edges and memory
//     only add to it;
//   * oneDNN's products at the training step's shapes (SmolLM2-135M, T rows of one data-parallel
//     part): the forward y = x·Wᵀ (ops::linear) and the input gradient dx = dy·W
//     (ops::linear_backward_input), hot caches.
// Each figure is the best of --reps timed runs; the peak is measured before and after. One JSON line
// per figure, with its fraction of the peak measured before it.
//   taskset -c 0 bench_gemm_ceiling [--T 512] [--reps 9]
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"
#include "model_shapes.h"
#include "tunekit/core/parallel.h"
#include "tunekit/tensor.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

namespace {

using namespace tunekit;

void print(const std::string& what, double flop, double seconds, double peak_gflops, nlohmann::ordered_json extra) {
  nlohmann::ordered_json line = {{"bench", "gemm_ceiling"}, {"what", what}};
  line.update(extra);
  line["gflops"] = flop / seconds / 1e9;
  line["of_fp32_peak"] = peak_gflops > 0 ? flop / seconds / 1e9 / peak_gflops : 0.0;
  bench::print_json_line(line);
}

#ifdef __AVX512F__
// C[MR, 16·NV] += Ap[kc][MR] · Bp[kc][16·NV]: Ap and Bp packed (Bp 64-byte aligned), C row stride ldc.
template <int MR, int NV>
__attribute__((noinline)) void microkernel(int64_t kc, const float* __restrict Ap, const float* __restrict Bp,
                                           float* C, int64_t ldc) {
  constexpr int NR = 16 * NV;
  __m512 acc[MR][NV];
  for (auto& row : acc)
    for (__m512& v : row) v = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b[NV];
    for (int v = 0; v < NV; ++v) b[v] = _mm512_load_ps(Bp + k * NR + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(Ap[k * MR + i]);
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) {
      float* c = C + i * ldc + 16 * v;
      _mm512_storeu_ps(c, _mm512_add_ps(acc[i][v], _mm512_loadu_ps(c)));
    }
}

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;
AlignedFloats aligned_floats(int64_t n, float value) {
  AlignedFloats p(static_cast<float*>(std::aligned_alloc(64, size_t((n + 15) / 16 * 16) * sizeof(float))));
  std::fill(p.get(), p.get() + n, value);
  return p;
}

// The microkernel over a C of ~512 x 1536 with a depth of 288 (A: ~576 KiB, in L2; each B panel:
// 288 · NR floats, in L1 while every A strip passes it), as one block of a packed GEMM.
template <int MR, int NV>
void bench_microkernel(int reps, double peak_gflops) {
  constexpr int64_t NR = 16 * NV, kc = 288;
  const int64_t M = 512 / MR * MR, N = 1536 / NR * NR;
  const AlignedFloats A = aligned_floats(M * kc, 0.01f), B = aligned_floats(N * kc, 0.01f);
  std::vector<float> C(size_t(M * N));
  const double s = bench::time_it(reps, [&] {
    for (int64_t n0 = 0; n0 < N; n0 += NR)
      for (int64_t m0 = 0; m0 < M; m0 += MR)
        microkernel<MR, NV>(kc, A.get() + m0 * kc, B.get() + n0 * kc, C.data() + m0 * N + n0, N);
  }).best_s;
  print("microkernel " + std::to_string(MR) + "x" + std::to_string(NR), 2.0 * double(M * N * kc), s, peak_gflops,
        {{"M", M}, {"N", N}, {"K", kc}});
}
#endif

}  // namespace

int main(int argc, char** argv) {
  int64_t T = 512;
  int reps = 9;
  CLI::App app{"bench_gemm_ceiling: oneDNN's f32 products against a register-blocked microkernel's ceiling (one thread)"};
  app.add_option("--T", T, "rows of x (tokens of one data-parallel part)")->check(CLI::Range(int64_t(16), int64_t(4096)));
  app.add_option("--reps", reps, "timed runs per figure (best kept)")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  set_num_threads(1);
  bench::print_json_line({{"bench", "machine"}, {"info", bench::machine_info()}});
  const double peak = bench::fp32_peak_gflops(1);
  bench::print_json_line({{"bench", "gemm_ceiling"}, {"what", "fp32 peak before"}, {"gflops", peak}});
#ifdef __AVX512F__
  bench_microkernel<12, 2>(reps, peak);
  bench_microkernel<8, 3>(reps, peak);
  bench_microkernel<6, 4>(reps, peak);
#endif
  const ModelConfig c = bench::smollm2_135m_config();
  struct Shape {
    const char* name;
    int64_t N, K;
  };
  for (Shape s : {Shape{"q/o", c.d_q(), c.d_model}, Shape{"k/v", c.d_kv(), c.d_model}, Shape{"gate/up", c.d_ff, c.d_model},
                  Shape{"down", c.d_model, c.d_ff}}) {
    const Tensor W = bench::random_f32({s.N, s.K}, 0.05f, 1), x = bench::random_f32({T, s.K}, 1.0f, 2),
                 dy = bench::random_f32({T, s.N}, 1.0f, 3);
    std::vector<float> y(size_t(T * s.N)), dx(size_t(T * s.K));
    const double flop = 2.0 * double(T * s.N * s.K);
    const nlohmann::ordered_json shape = {{"T", T}, {"N", s.N}, {"K", s.K}};
    print(std::string("onednn forward ") + s.name, flop,
          bench::time_it(reps, [&] { ops::linear(x.as<float>(), T, W, nullptr, y.data()); }).best_s, peak, shape);
    print(std::string("onednn input gradient ") + s.name, flop,
          bench::time_it(reps, [&] { ops::linear_backward_input(dy.as<float>(), T, W, dx.data(), false); }).best_s, peak,
          shape);
  }
  bench::print_json_line({{"bench", "gemm_ceiling"}, {"what", "fp32 peak after"}, {"gflops", bench::fp32_peak_gflops(1)}});
  return 0;
}
