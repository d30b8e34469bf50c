// bench_train: whole training steps on a SmolLM2-135M-shaped random model (hidden 576, 30 layers, 9
// heads / 3 kv heads of 64, d_ff 1536, vocabulary 49152, tied, RoPE theta 100000), as
// ../shared/bench/torch_llama_lora.py measures PyTorch: LoRA r 8, alpha 16 on all 7 linear modules
// (PEFT init) or full fine-tuning, batch rows of seq random tokens (one sample per row, next-token
// targets), a step = zero_grad + forward + loss + backward + AdamW step; mean of --steps steps after
// --warmup. One JSON line:
//   tokens_per_s, step_s_mean/min/max, cpu_s_per_step (process user + system CPU seconds per timed
//   step, min and mean: what A/B comparisons on a loaded machine should use), peak_rss_mib (getrusage ru_maxrss: run one configuration per
//   process), rss_after_model_mib, trainable params, model GFLOP per step and GFLOP/s, and the
//   model-FLOPs utilisation against a GEMM roofline measured here (ops::linear on the
//   [T, 576] x [1536, 576]ᵀ shape, best of 10, all threads): mfu_vs_gemm; and against the FP32 peak
//   measured here on --threads threads at once (512-bit FMA chains, bench_util.h): mfu_vs_fp32_peak.
// Model FLOPs per step (as ../shared/bench/BASELINE.md §7 counts them): 2 per multiply-add of the
// forward, the input gradients through every linear layer (the lm_head's included), the LoRA
// weight gradients (or, for full fine-tuning, every weight gradient), and causal attention
// 4·d_q·(L+1)/2 per token and layer forward, 3x that forward + backward. Recomputation under
// checkpointing is not model FLOPs; hfu_vs_gemm counts it too.
//   bench_train [--batch 4] [--seq 256] [--ckpt] [--full] [--threads 2] [--steps 5] [--warmup 2]
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "bench_util.h"
#include "model_shapes.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/ops/ops.h"
#include "tunekit/train/optimizer.h"
#include "tunekit/train/trainable.h"

namespace {

using namespace tunekit;
using bench::fp32_peak_gflops;
using bench::now_seconds;

struct Options {
  int64_t batch = 4, seq = 256;
  bool ckpt = false, full = false;
  int threads = 2, steps = 5, warmup = 2;
};

double rss_mib(bool peak) {
  if (peak) {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
  }
  long pages = 0, resident = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// User + system CPU seconds of this process so far (all threads).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// batch rows of seq random tokens, one sample per row, each token's target the next random token
// (as torch_llama_lora.py draws seq + 1 ids per row).
Batch random_batch(const ModelConfig& c, int64_t rows, int64_t seq, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Batch b;
  b.n_row = rows;
  b.seq_len = seq;
  for (int64_t r = 0; r < rows; ++r) {
    int32_t next = int32_t(rng() % uint64_t(c.n_vocab));
    for (int64_t t = 0; t < seq; ++t) {
      b.tokens.push_back(next);
      next = int32_t(rng() % uint64_t(c.n_vocab));
      b.targets.push_back(next);
      b.weights.push_back(1.0f);
      b.positions.push_back(int32_t(t));
      b.seg_start.push_back(int32_t(r * seq));
    }
  }
  return b;
}

// Model FLOPs of one step (see the header comment); recompute: checkpointing's extra forward (every
// layer but the top one, without its down product).
struct StepFlops {
  double model = 0, recompute = 0;
};
StepFlops step_flops(const ModelConfig& c, const Options& o, int64_t trainable) {
  const double T = double(o.batch * o.seq), layer_w = double(c.d_model) * double(2 * c.d_q() + 2 * c.d_kv()) +
                                                      3.0 * double(c.d_model) * double(c.d_ff);
  const double matmul = double(c.n_layer) * layer_w + double(c.n_vocab) * double(c.d_model);
  const double attention_fwd = 4.0 * double(c.d_q()) * (double(o.seq) + 1) / 2 * double(c.n_layer);  // per token
  const double recomputed = double(c.n_layer - 1) / double(c.n_layer);  // the share of layers recomputed
  const double recompute_w = double(c.n_layer - 1) * (layer_w - double(c.d_model) * double(c.d_ff));
  StepFlops f;
  if (o.full) {
    f.model = T * (6 * matmul + 3 * attention_fwd);
    f.recompute = T * (2 * recompute_w + recomputed * attention_fwd);
  } else {
    const double lora = double(trainable);  // forward, input gradient and weight gradient: 6 per weight
    f.model = T * (4 * matmul + 6 * lora + 3 * attention_fwd);
    f.recompute = T * (2 * recompute_w + recomputed * (2 * lora + attention_fwd));
  }
  return f;
}

// GFLOP/s of ops::linear on the fastest training shape, [T, 576] x [1536, 576]ᵀ, best of 10.
double gemm_roofline(int64_t T) {
  const int64_t N = 1536, K = 576;
  std::vector<float> x(size_t(T * K), 0.01f), y(size_t(T * N));
  Tensor W = Tensor::zeros(DType::F32, {N, K});
  std::fill(W.as<float>(), W.as<float>() + N * K, 0.02f);
  double best = 0;
  for (int r = 0; r < 11; ++r) {
    const double t0 = now_seconds();
    ops::linear(x.data(), T, W, nullptr, y.data());
    if (r > 0) best = std::max(best, 2.0 * double(T * N * K) / (now_seconds() - t0) / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench_train: LoRA / full fine-tuning steps on a SmolLM2-135M-shaped model"};
  app.add_option("--batch", o.batch, "rows per micro-batch");
  app.add_option("--seq", o.seq, "tokens per row");
  app.add_flag("--ckpt", o.ckpt, "gradient checkpointing (recompute each layer in backward)");
  app.add_flag("--full", o.full, "full fine-tuning instead of LoRA");
  app.add_option("--threads", o.threads, "threads");
  app.add_option("--steps", o.steps, "timed steps");
  app.add_option("--warmup", o.warmup, "untimed steps first");
  CLI11_PARSE(app, argc, argv);
  try {
    set_num_threads(o.threads);
    const ModelConfig c = bench::smollm2_135m_config();
    Model base = init_random_model(c, 42);
    LoraConfig lc;
    lc.rank = 8;
    lc.alpha = 16;
    lc.targets = {"all-linear"};
    Trainable tr = o.full ? Trainable::full(std::move(base)) : Trainable::lora(std::move(base), init_lora(c, lc, 7));
    const double rss_model = rss_mib(false);
    const Batch b = random_batch(c, o.batch, o.seq, 1);
    AdamW opt(tr.n_values(), {.weight_decay = 0.01});
    const double lr = o.full ? 1e-5 : 1e-4;
    std::vector<double> times, cpu_times, losses;
    for (int s = 0; s < o.warmup + o.steps; ++s) {
      const double t0 = now_seconds(), c0 = cpu_seconds();
      tr.zero_grads();
      const LossSum sums = tr.forward_backward(b, float(1.0 / b.weight_sum()), {.checkpointing = o.ckpt});
      opt.step(tr.values(), tr.grads(), tr.params(), lr);
      if (s >= o.warmup) {
        times.push_back(now_seconds() - t0);
        cpu_times.push_back(cpu_seconds() - c0);
      }
      losses.push_back(sums.loss / sums.weight);
    }
    const double mean = std::accumulate(times.begin(), times.end(), 0.0) / double(times.size());
    const StepFlops flops = step_flops(c, o, tr.n_values());
    const double roofline = gemm_roofline(o.batch * o.seq);
    const double peak = fp32_peak_gflops(o.threads);
    nlohmann::ordered_json line = {{"bench", "train"},
                                   {"impl", "tunekit"},
                                   {"mode", o.full ? "full" : "lora"},
                                   {"batch", o.batch},
                                   {"seq", o.seq},
                                   {"ckpt", o.ckpt},
                                   {"threads", o.threads},
                                   {"tokens_per_s", double(o.batch * o.seq) / mean},
                                   {"step_s_mean", mean},
                                   {"step_s_min", *std::min_element(times.begin(), times.end())},
                                   {"step_s_max", *std::max_element(times.begin(), times.end())},
                                   {"cpu_s_per_step_min", *std::min_element(cpu_times.begin(), cpu_times.end())},
                                   {"cpu_s_per_step_mean",
                                    std::accumulate(cpu_times.begin(), cpu_times.end(), 0.0) / double(cpu_times.size())},
                                   {"peak_rss_mib", rss_mib(true)},
                                   {"rss_after_model_mib", rss_model},
                                   {"trainable_params", tr.n_values()},
                                   {"parts", tr.parts_of(b)},
                                   {"loss_first", losses.front()},
                                   {"loss_last", losses.back()},
                                   {"model_gflop_per_step", flops.model / 1e9},
                                   {"model_gflops", flops.model / mean / 1e9},
                                   {"gemm_roofline_gflops", roofline},
                                   {"mfu_vs_gemm", flops.model / mean / 1e9 / roofline},
                                   {"fp32_peak_gflops", peak},
                                   {"mfu_vs_fp32_peak", peak > 0 ? flops.model / mean / 1e9 / peak : 0.0},
                                   {"hfu_vs_gemm", (flops.model + (o.ckpt ? flops.recompute : 0)) / mean / 1e9 / roofline}};
    line.update(bench::machine_info());
    bench::print_json_line(line);
  } catch (const std::exception& e) {
    std::cerr << "bench_train: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
