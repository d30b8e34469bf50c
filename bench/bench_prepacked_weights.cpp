// bench_prepacked_weights: would storing the frozen weights in oneDNN's own blocked layout speed up
// the forward products y[M, N] = x[M, K] · W[N, K]ᵀ? Times oneDNN's matmul primitive on one thread
// with W as we keep it (row-major [N, K], read as the transposed [K, N]) against W reordered once
// into the layout the primitive picks for itself (format "any"), on SmolLM2-135M's shapes and the
// row counts of the training step's chunks. "hot": best of the repetitions with everything in cache;
// "cold": a 256 MiB buffer is read between repetitions, as each layer's weights arrive from memory
// in a step. One JSON line per shape and cache state.
//   bench_prepacked_weights [--reps 30]
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <random>

#include "bench_util.h"

namespace {

using namespace tunekit;
using dnnl::memory;
using Dims = memory::dims;

struct Shape {
  const char* name;
  int64_t N, K;
};

}  // namespace

int main(int argc, char** argv) {
  int reps = 30;
  CLI::App app{"bench_prepacked_weights: plain against pre-packed weights for x·Wᵀ (one thread)"};
  app.add_option("--reps", reps, "timed repetitions per case")->check(CLI::Range(1, 10000));
  CLI11_PARSE(app, argc, argv);
  omp_set_num_threads(1);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  std::vector<float> flush(size_t(64) << 20, 1.0f);  // 256 MiB
  volatile float flush_sum = 0;  // keeps the reads
  auto evict_caches = [&] {
    float sum = 0;
    for (size_t i = 0; i < flush.size(); i += 16) sum += flush[i];  // a float per 64-byte line
    flush_sum = sum;
  };
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1, 1);
  const Shape shapes[] = {{"q/o", 576, 576}, {"k/v", 192, 576}, {"gate/up", 1536, 576}, {"down", 576, 1536}};
  for (int64_t M : {128, 256, 512})
    for (const Shape& s : shapes) {
      const int64_t N = s.N, K = s.K;
      std::vector<float> x(size_t(M * K)), W(size_t(N * K)), y(size_t(M * N));
      for (float& v : x) v = uniform(rng);
      for (float& v : W) v = uniform(rng);
      const memory::desc src({M, K}, memory::data_type::f32, Dims{K, 1});
      const memory::desc plain({K, N}, memory::data_type::f32, Dims{1, K});  // W[N, K] read as Wᵀ
      const memory::desc any({K, N}, memory::data_type::f32, memory::format_tag::any);
      const memory::desc dst({M, N}, memory::data_type::f32, Dims{N, 1});
      const dnnl::matmul::primitive_desc pd_plain(dnnl::matmul::desc(src, plain, dst), engine);
      const dnnl::matmul::primitive_desc pd_packed(dnnl::matmul::desc(src, any, dst), engine);
      dnnl::matmul mm_plain(pd_plain), mm_packed(pd_packed);
      memory xm(src, engine, x.data()), wm(plain, engine, W.data()), ym(dst, engine, y.data());
      memory packed(pd_packed.weights_desc(), engine);
      dnnl::reorder(wm, packed).execute(stream, wm, packed);
      stream.wait();
      for (bool cold : {false, true}) {
        // Alternates the two so that both see the same machine; best of reps for each.
        double best_plain = 1e30, best_packed = 1e30;
        for (int r = 0; r < reps; ++r)
          for (int which = 0; which < 2; ++which) {
            if (cold) evict_caches();
            dnnl::matmul& mm = which == 0 ? mm_plain : mm_packed;
            memory& w = which == 0 ? wm : packed;
            const double t0 = bench::now_seconds();
            mm.execute(stream, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, ym}});
            stream.wait();
            double& best = which == 0 ? best_plain : best_packed;
            best = std::min(best, bench::now_seconds() - t0);
          }
        const double flop = 2.0 * double(M) * double(N) * double(K);
        nlohmann::ordered_json line = {{"bench", "prepacked_weights"},
                                       {"shape", s.name},
                                       {"M", M},
                                       {"N", N},
                                       {"K", K},
                                       {"cache", cold ? "cold" : "hot"},
                                       {"plain_ms", best_plain * 1e3},
                                       {"packed_ms", best_packed * 1e3},
                                       {"plain_gflops", flop / best_plain / 1e9},
                                       {"packed_gflops", flop / best_packed / 1e9},
                                       {"speedup", best_plain / best_packed}};
        line.update(bench::machine_info());
        bench::print_json_line(line);
      }
    }
}
