// bench_kernels: the ops layer's kernels against this machine's measured limits. One JSON object
// per line (docs/kernels.md explains them):
//   read_bandwidth   bench::measure_read_bandwidth over a 1 GiB buffer on all threads, best (and median) of 9 passes
//   fma_peak         16 independent zmm FMA chains per thread, 1 thread and all threads
//   parallel_for     cost of one parallel_for call with no work (decode makes ~300 per token)
//   gemv             ops::linear with T = 1 on the SmolLM2-135M whole-model weight matrix
//                    [233472 x 576] (every matmul weight of one decoded token) per dtype
//   gemv_vs_gemm     streaming kernel against the GEMM path for small T (picks the switch-over)
//   gemm             ops::linear with T = 512 on the MLP and lm_head shapes against the FMA peak
//   attention        prefill of 512 tokens and one decode step at position 511 (SmolLM2 heads)
//   bench_kernels [--threads 2] [--dtypes f32,q8_0,q4_0,bf16] [--reps 7] [--quick] [--only gemv,gemm]
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "bench_util.h"
#include "ops/gemv.h"
#include "ops/linear_kernels.h"
#include "ops/simd_math.h"
#include "tunekit/core/parallel.h"
#include "tunekit/ops/ops.h"

namespace {

using namespace tunekit;
using bench::median;
using bench::now_seconds;
using bench::print_json_line;
using bench::random_values;
using bench::time_it;
using bench::Timing;
using nlohmann::json;

Tensor random_weights(DType dtype, int64_t N, int64_t K, uint64_t seed) {
  auto values = random_values(N * K, 0.07f, seed);
  Tensor f32 = Tensor::view(DType::F32, {N, K}, values.data(), nullptr);
  return ops::convert(f32, dtype);
}

struct Options {
  int threads = 2;
  std::vector<std::string> dtypes = {"f32", "q8_0", "q4_0", "bf16"};
  int reps = 7;
  bool quick = false;
  std::vector<std::string> only;  // bench names to run; empty: all

  bool runs(const std::string& name) const { return only.empty() || std::count(only.begin(), only.end(), name); }
};

// T = 1 on the whole-model matrix (streamed from memory) and on one gate/up matrix (in cache).
// The k-quants need K % 256 == 0: they get K = 768 and as many weights (N scaled by 576/768).
void bench_gemv(const Options& opt, double bw_gbs) {
  for (int64_t N_576 : {int64_t(233472), int64_t(1536)}) {  // SmolLM2-135M: 30 x 3,538,944 + 49152 x 576
    for (const auto& name : opt.dtypes) {
      const DType dtype = dtype_from_name(name);
      const int64_t K = 576 % dtype_info(dtype).block_size == 0 ? 576 : 768, N = N_576 * 576 / K;
      auto x = random_values(K, 1.0f, 7);
      std::vector<float> y(static_cast<size_t>(N));
      Tensor W = random_weights(dtype, N, K, 1);
      const bool cached = N_576 == 1536;
      const int reps = cached ? opt.reps * 100 : opt.reps;
      Timing t = time_it(reps, [&] { ops::linear(x.data(), 1, W, nullptr, y.data()); });
      double gbs = double(W.nbytes()) / t.best_s / 1e9;
      print_json_line({{"bench", cached ? "gemv_cached" : "gemv"},
                       {"shape", "1x" + std::to_string(N) + "x" + std::to_string(K)},
                       {"dtype", name}, {"weight_mb", W.nbytes() / 1e6},
                       {"ms_best", t.best_s * 1e3}, {"ms_median", t.median_s * 1e3}, {"gbs", gbs},
                       {"gbs_median", double(W.nbytes()) / t.median_s / 1e9}, {"fraction_of_bandwidth", gbs / bw_gbs},
                       {"tokens_per_s_equivalent", 1.0 / t.best_s}, {"threads", num_threads()}});
    }
  }
}

// The streaming kernel (one pass over W per 4 tokens) against the GEMM path for small T.
void bench_gemv_vs_gemm(const Options& opt) {
  const int64_t K = 576;
  for (int64_t N : {int64_t(49152), int64_t(1536)})  // the lm_head (113 MB in f32) and gate/up (cached)
  for (const char* name : {"f32", "q8_0"}) {
    Tensor W = random_weights(dtype_from_name(name), N, K, 2);
    for (int64_t T : {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64}) {
      auto x = random_values(T * K, 1.0f, 3);
      std::vector<float> y(static_cast<size_t>(T * N));
      Timing stream = time_it(opt.reps, [&] {
        if (!ops::gemv_float(x.data(), T, W, y.data(), false)) ops::gemv_int8(x.data(), T, W, y.data(), false);
      });
      Timing gemm = time_it(opt.reps, [&] {
        if (W.dtype == DType::F32)
          ops::sgemm_xwt(x.data(), T, W.as<float>(), N, K, y.data(), N, false);
        else
          ops::linear_dequantized_panels(x.data(), T, W, y.data(), false);
      });
      print_json_line({{"bench", "gemv_vs_gemm"}, {"dtype", name},
                       {"shape", std::to_string(T) + "x" + std::to_string(N) + "x576"},
                       {"stream_ms", stream.median_s * 1e3}, {"gemm_ms", gemm.median_s * 1e3}});
    }
  }
}

void bench_gemm(const Options& opt, double peak_gflops) {
  struct Shape {
    int64_t T, N, K;
    const char* what;
  };
  const int64_t T = opt.quick ? 128 : 512;
  for (Shape s : {Shape{T, 1536, 576, "gate/up"}, Shape{T, 576, 1536, "down"}, Shape{T, 49152, 576, "lm_head"}}) {
    auto x = random_values(s.T * s.K, 1.0f, 4);
    std::vector<float> y(static_cast<size_t>(s.T * s.N));
    for (const auto& name : opt.dtypes) {
      const DType dtype = dtype_from_name(name);
      if ((s.N == 49152 && dtype != DType::F32) || s.K % dtype_info(dtype).block_size != 0) continue;
      Tensor W = random_weights(dtype, s.N, s.K, 5);
      Timing t = time_it(std::max(3, opt.reps / 2), [&] { ops::linear(x.data(), s.T, W, nullptr, y.data()); });
      double gflops = 2.0 * double(s.T * s.N * s.K) / t.median_s / 1e9;
      print_json_line({{"bench", "gemm"}, {"what", s.what}, {"dtype", name},
                       {"shape", std::to_string(s.T) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K)},
                       {"ms_median", t.median_s * 1e3}, {"ms_best", t.best_s * 1e3}, {"gflops", gflops},
                       {"fraction_of_fma_peak", gflops / peak_gflops}});
    }
  }
}

void bench_attention(const Options& opt) {
  const int64_t n_head = 9, n_head_kv = 3, d_head = 64, T = opt.quick ? 128 : 512;
  auto q = random_values(T * n_head * d_head, 1.0f, 8);
  auto k = random_values(T * n_head_kv * d_head, 1.0f, 9);
  auto v = random_values(T * n_head_kv * d_head, 1.0f, 10);
  std::vector<float> out(q.size());
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(t);
  Timing prefill = time_it(opt.reps, [&] {
    ops::attention(q.data(), k.data(), v.data(), out.data(), T, pos.data(), n_head, n_head_kv, d_head);
  });
  double flops = 4.0 * double(n_head * d_head) * double(T) * double(T + 1) / 2;  // QKᵀ and PV, causal
  print_json_line({{"bench", "attention"}, {"what", "prefill"}, {"T", T}, {"heads", "9/3x64"},
                   {"ms_median", prefill.median_s * 1e3}, {"gflops", flops / prefill.median_s / 1e9}});
  Timing decode = time_it(opt.reps * 10, [&] {
    ops::attention(q.data(), k.data(), v.data(), out.data(), 1, pos.data() + T - 1, n_head, n_head_kv, d_head);
  });
  print_json_line({{"bench", "attention"}, {"what", "decode"}, {"position", T - 1}, {"heads", "9/3x64"},
                   {"us_median", decode.median_s * 1e6}});
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"tunekit kernel benchmarks (JSON lines)"};
  app.add_option("--threads", opt.threads, "threads (default 2)");
  app.add_option("--dtypes", opt.dtypes, "weight dtypes for gemv/gemm")->delimiter(',');
  app.add_option("--reps", opt.reps, "timed repetitions per figure");
  app.add_flag("--quick", opt.quick, "smaller shapes and buffers, for a smoke test");
  app.add_option("--only", opt.only, "run only these benches (gemv, gemv_vs_gemm, gemm, attention)")->delimiter(',');
  CLI11_PARSE(app, argc, argv);
  set_num_threads(opt.threads);

  const size_t bw_bytes = opt.quick ? (size_t(256) << 20) : (size_t(1) << 30);
  bench::ReadBandwidth bw = bench::measure_read_bandwidth(bw_bytes, opt.quick ? 3 : 9);
  print_json_line({{"bench", "read_bandwidth"}, {"buffer_mib", bw_bytes >> 20}, {"threads", num_threads()},
                   {"gbs_best", bw.best_gbs}, {"gbs_median", median(bw.passes_gbs)}});

  double peak1 = bench::fp32_peak_gflops(1), peak = bench::fp32_peak_gflops(num_threads());
  print_json_line({{"bench", "fma_peak"}, {"gflops_1_thread", peak1}, {"gflops_all_threads", peak},
                   {"threads", num_threads()}});

  std::vector<double> per_call;
  for (int round = 0; round < 9; ++round) {
    const int calls = 20000;
    double t0 = now_seconds();
    for (int i = 0; i < calls; ++i) parallel_for(num_threads(), [](int64_t, int64_t) {});
    per_call.push_back((now_seconds() - t0) / calls);
  }
  print_json_line({{"bench", "parallel_for"}, {"us_per_call_median", median(per_call) * 1e6},
                   {"us_per_call_best", *std::min_element(per_call.begin(), per_call.end()) * 1e6}});

  if (opt.runs("gemv")) bench_gemv(opt, bw.best_gbs);
  if (opt.runs("gemv_vs_gemm") && !opt.quick) bench_gemv_vs_gemm(opt);
  if (opt.runs("gemm")) bench_gemm(opt, peak);
  if (opt.runs("attention")) bench_attention(opt);
  return 0;
}
