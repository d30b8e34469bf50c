// bench_decode: batch-1 greedy decode and a 512-token prefill of a SmolLM2-135M-shaped model (random
// weights built in memory, no files) per weight storage dtype. Decode is set next to its
// memory-bandwidth bound (matmul weight bytes per token / measured read bandwidth), prefill next to
// the measured f32 GEMM peak. Prints one JSON object per line; docs/benchmarks.md explains them.
//   bench_decode [--threads 2] [--dtypes f32,q8_0] [--reps 3] [--prompt 32] [--new 128] [--prefill 512]
//                [--breakdown]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "model_shapes.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/models/forward.h"
#include "tunekit/models/lora.h"
#include "tunekit/models/model.h"
#include "tunekit/ops/ops.h"

namespace {

using namespace tunekit;
using bench::median;
using bench::now_seconds;
using bench::print_json_line;
using json = nlohmann::ordered_json;

struct Options {
  int threads = 2;
  std::vector<std::string> dtypes = {"f32", "q8_0"};
  int reps = 3;          // timed generations (decode) and prompts (prefill) per dtype
  int prompt = 32;       // decode: prompt tokens, prefilled in one call
  int n_new = 128;       // decode: new tokens (the first comes from the prefill call)
  int prefill = 512;     // prefill benchmark: prompt tokens
  int bw_mib = 512;      // read-bandwidth buffer
  int bw_passes = 7;
  int gemm_reps = 20;
  uint64_t seed = 1;
  bool breakdown = false;  // also time the decode step's matmuls alone
};

// Every layer's matmul weights (what each token runs through), without the lm_head.
std::vector<const Tensor*> layer_matmul_weights(const Model& m) {
  std::vector<const Tensor*> out;
  for (const LayerWeights& w : m.layers)
    for (const Tensor* t : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) out.push_back(t);
  return out;
}

// Bytes one decoded token streams: every matmul weight once, the tied lm_head included, each in its
// storage dtype (the one embedding row and the KV cache are left out).
double weight_bytes_per_token(const Model& m) {
  double bytes = double(m.lm_head.nbytes());
  for (const Tensor* t : layer_matmul_weights(m)) bytes += double(t->nbytes());
  return bytes;
}

// FLOPs of a T-token prefill from position 0 with logits for the last token only: 2 per matmul
// weight per token, the lm_head once, and causal attention (q·k and p·v, 2 × 2 × d_q per visible key).
double prefill_flops(const Model& m, int64_t T) {
  double layer_params = 0;
  for (const Tensor* t : layer_matmul_weights(m)) layer_params += double(t->numel());
  const double visible_keys = double(T) * double(T + 1) / 2;
  const double attention = 4.0 * double(m.config.d_q()) * visible_keys * double(m.config.n_layer);
  return 2.0 * layer_params * double(T) + 2.0 * double(m.lm_head.numel()) + attention;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> id(0, int32_t(n_vocab - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  for (int32_t& t : tokens) t = id(rng);
  return tokens;
}

int32_t argmax(const std::vector<float>& logits) {
  return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

struct GenerationTime {
  double prefill_s = 0, decode_s = 0;
};

// Greedy generation timed as torch_llama_lora.py's generate() times it: the cache is allocated
// before the clock starts; one call prefills the prompt and yields the first new token (prefill_s),
// then n_new - 1 single-token steps follow (decode_s). Each step includes the argmax.
GenerationTime time_greedy_generation(const Model& m, const std::vector<int32_t>& prompt, int n_new) {
  const int64_t P = int64_t(prompt.size());
  KvCache cache(m.config, P + n_new);
  Workspace ws;
  std::vector<float> logits(size_t(m.config.n_vocab));  // [1, n_vocab]
  GenerationTime time;
  const double t0 = now_seconds();
  forward(m, prompt.data(), P, 0, cache, ws, logits.data(), /*all_logits=*/false);
  int32_t token = argmax(logits);
  const double t1 = now_seconds();
  for (int i = 0; i < n_new - 1; ++i) {
    forward(m, &token, 1, P + i, cache, ws, logits.data(), /*all_logits=*/false);
    token = argmax(logits);
  }
  time.prefill_s = t1 - t0;
  time.decode_s = now_seconds() - t1;
  return time;
}

json common_fields(const char* bench_name, const Model& m, const Options& o) {
  return {{"bench", bench_name}, {"impl", "tunekit"}, {"model", "SmolLM2-135M-shaped"},
          {"dtype", dtype_name(m.lm_head.dtype)}, {"threads", o.threads}};
}

// The matmuls of one decode step alone, as forward() runs them (per layer q/k/v in one section, o,
// gate/up with swiglu in one, down; then the lm_head), on stand-in activations: seconds per step,
// median of reps runs of n_steps steps. The rest of a step (embedding, norms, RoPE, the KV-cache
// copy, attention, the argmax) costs the difference to the decode line's ms_per_token.
double matmul_step_seconds(const Model& m, int n_steps, int reps) {
  const ModelConfig& c = m.config;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> h(size_t(c.d_ff)), q(size_t(c.d_q())), k(size_t(c.d_kv())), v(size_t(c.d_kv())),
      gate(size_t(c.d_ff)), up(size_t(c.d_ff)), x(size_t(c.d_model)), logits(size_t(c.n_vocab)), scratch;
  for (float& value : h) value = normal(rng);
  auto step = [&] {
    for (const LayerWeights& w : m.layers) {
      const Projection qkv[] = {{&w.wq, nullptr, nullptr, q.data()},
                                {&w.wk, nullptr, nullptr, k.data()},
                                {&w.wv, nullptr, nullptr, v.data()}};
      project_all(h.data(), 1, qkv, 0.0f, scratch);
      project(q.data(), 1, w.wo, nullptr, nullptr, 0.0f, x.data(), true, scratch);
      project_swiglu(h.data(), 1, {&w.w_gate, nullptr, nullptr, gate.data()}, {&w.w_up, nullptr, nullptr, up.data()},
                     0.0f, scratch);
      project(h.data(), 1, w.w_down, nullptr, nullptr, 0.0f, x.data(), true, scratch);
    }
    ops::linear(h.data(), 1, m.lm_head, nullptr, logits.data());
  };
  step();  // warm-up
  std::vector<double> seconds;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_seconds();
    for (int i = 0; i < n_steps; ++i) step();
    seconds.push_back((now_seconds() - t0) / n_steps);
  }
  return median(seconds);
}

// Each timed generation follows its own read-bandwidth measurement (the bandwidth a VM gets moves
// with its neighbours, so a run is judged against the bandwidth of its moment). The line reports the
// run with the median total time, as the PyTorch script does, and lists every run.
void bench_decode(const Model& m, const Options& o, bench::ReadBandwidthProbe& probe) {
  struct Run {
    GenerationTime time;
    double bandwidth_gbs;
  };
  const std::vector<int32_t> prompt = random_tokens(o.prompt, m.config.n_vocab, o.seed);
  const double bytes = weight_bytes_per_token(m);
  time_greedy_generation(m, prompt, 16);  // warm-up, as the PyTorch script does
  std::vector<Run> runs;
  json runs_tokens_per_s = json::array(), runs_bandwidth_gbs = json::array(), runs_fraction = json::array();
  for (int r = 0; r < o.reps; ++r) {
    const double bandwidth_gbs = probe.measure(o.bw_passes).best_gbs;
    runs.push_back({time_greedy_generation(m, prompt, o.n_new), bandwidth_gbs});
    const double tokens_per_s = (o.n_new - 1) / runs.back().time.decode_s;
    runs_tokens_per_s.push_back(tokens_per_s);
    runs_bandwidth_gbs.push_back(bandwidth_gbs);
    runs_fraction.push_back(tokens_per_s * bytes / (bandwidth_gbs * 1e9));
  }
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) {
    return a.time.prefill_s + a.time.decode_s < b.time.prefill_s + b.time.decode_s;
  });
  const Run mid = runs[runs.size() / 2];
  const double tokens_per_s = (o.n_new - 1) / mid.time.decode_s;
  const double bound = mid.bandwidth_gbs * 1e9 / bytes;
  json line = common_fields("decode", m, o);
  line.update({{"prompt", o.prompt},
               {"new", o.n_new},
               {"tokens_per_s", tokens_per_s},
               {"ms_per_token", 1e3 * mid.time.decode_s / (o.n_new - 1)},
               {"prefill_ms", 1e3 * mid.time.prefill_s},
               {"end_to_end_tokens_per_s", o.n_new / (mid.time.prefill_s + mid.time.decode_s)},
               {"weight_bytes_per_token", bytes},
               {"bandwidth_gbs", mid.bandwidth_gbs},
               {"bound_tokens_per_s", bound},
               {"fraction_of_bound", tokens_per_s / bound},
               {"runs_tokens_per_s", runs_tokens_per_s},
               {"runs_bandwidth_gbs", runs_bandwidth_gbs},
               {"runs_fraction_of_bound", runs_fraction}});
  if (o.breakdown) {  // the matmuls alone, against a bandwidth measured right before them
    const double bandwidth_gbs = probe.measure(o.bw_passes).best_gbs;
    const double matmul_s = matmul_step_seconds(m, o.n_new - 1, o.reps);
    line.update({{"matmul_only_ms_per_token", 1e3 * matmul_s},
                 {"matmul_only_bandwidth_gbs", bandwidth_gbs},
                 {"matmul_only_fraction_of_bound", bytes / matmul_s / (bandwidth_gbs * 1e9)},
                 {"other_ms_per_token", 1e3 * (mid.time.decode_s / (o.n_new - 1) - matmul_s)}});
  }
  print_json_line(line);
}

// One prefill of the whole prompt from position 0 into a fresh cache, last token's logits only
// (as generation prefills); median over reps after one warm-up.
void bench_prefill(const Model& m, const Options& o, double gemm_peak_gflops) {
  const std::vector<int32_t> prompt = random_tokens(o.prefill, m.config.n_vocab, o.seed);
  std::vector<float> logits(size_t(m.config.n_vocab));
  Workspace ws;
  std::vector<double> seconds;
  for (int r = 0; r <= o.reps; ++r) {
    KvCache cache(m.config, o.prefill);
    const double t0 = now_seconds();
    forward(m, prompt.data(), o.prefill, 0, cache, ws, logits.data(), /*all_logits=*/false);
    if (r > 0) seconds.push_back(now_seconds() - t0);
  }
  const double s = median(seconds);
  const double gflops = prefill_flops(m, o.prefill) / s / 1e9;
  json line = common_fields("prefill", m, o);
  line.update({{"tokens", o.prefill},
               {"tokens_per_s", o.prefill / s},
               {"seconds", s},
               {"gflop", prefill_flops(m, o.prefill) / 1e9},
               {"gflops", gflops},
               {"gemm_peak_gflops", gemm_peak_gflops},
               {"fraction_of_gemm_peak", gflops / gemm_peak_gflops}});
  print_json_line(line);
}

// f32 GEMM through ops::linear on the layer shapes of a T-token prefill, best of gemm_reps each;
// prints one line per shape and returns the best of them (the peak prefill is judged against).
double bench_gemm_peak(const ModelConfig& c, const Options& o) {
  struct Shape { const char* name; int64_t N, K; };
  const Shape shapes[] = {{"q/o_proj", c.d_q(), c.d_model}, {"k/v_proj", c.d_kv(), c.d_model},
                          {"gate/up", c.d_ff, c.d_model}, {"down", c.d_model, c.d_ff}};
  const int64_t T = o.prefill;
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  double peak = 0;
  for (const Shape& s : shapes) {
    Tensor W = Tensor::zeros(DType::F32, {s.N, s.K});
    std::vector<float> x(size_t(T * s.K)), y(size_t(T * s.N));
    for (int64_t i = 0; i < W.numel(); ++i) W.as<float>()[i] = normal(rng);
    for (float& v : x) v = normal(rng);
    std::vector<double> gflops;
    for (int r = -2; r < o.gemm_reps; ++r) {  // two warm-up calls
      const double t0 = now_seconds();
      ops::linear(x.data(), T, W, nullptr, y.data());
      if (r >= 0) gflops.push_back(2.0 * double(T * s.N * s.K) / (now_seconds() - t0) / 1e9);
    }
    const double best = *std::max_element(gflops.begin(), gflops.end());
    print_json_line({{"bench", "gemm"}, {"impl", "tunekit"}, {"op", "ops::linear f32"}, {"shape", s.name},
                     {"M", T}, {"N", s.N}, {"K", s.K}, {"threads", o.threads}, {"best_gflops", best},
                     {"median_gflops", median(gflops)}});
    peak = std::max(peak, best);
  }
  return peak;
}

void run(const Options& o) {
  std::vector<DType> dtypes;  // checked before anything runs
  for (const std::string& name : o.dtypes) dtypes.push_back(dtype_from_name(name));
  set_num_threads(o.threads);
  json machine = {{"bench", "machine"}, {"threads", o.threads}};
  machine.update(bench::machine_info());
  print_json_line(machine);
  bench::ReadBandwidthProbe probe(size_t(o.bw_mib) << 20);
  const bench::ReadBandwidth bw = probe.measure(o.bw_passes);
  print_json_line({{"bench", "read_bandwidth"}, {"threads", o.threads}, {"buffer_mib", o.bw_mib},
                   {"bandwidth_gbs", bw.best_gbs}, {"passes_gbs", bw.passes_gbs}});
  const ModelConfig config = bench::smollm2_135m_config();
  const double gemm_peak = bench_gemm_peak(config, o);
  const Model f32 = init_random_model(config, o.seed);
  for (DType dtype : dtypes) {
    const Model model = dtype == DType::F32 ? f32 : convert_weights(f32, dtype);
    bench_decode(model, o, probe);
    bench_prefill(model, o, gemm_peak);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Decode and prefill speed of a SmolLM2-135M-shaped model; one JSON line per measurement"};
  app.add_option("--threads", o.threads, "threads")->check(CLI::PositiveNumber);
  app.add_option("--dtypes", o.dtypes, "weight storage dtypes (f32, q8_0, q4_0, bf16, f16, ...)")->delimiter(',');
  app.add_option("--reps", o.reps, "timed runs per dtype (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--prompt", o.prompt, "decode: prompt tokens")->check(CLI::PositiveNumber);
  app.add_option("--new", o.n_new, "decode: new tokens")->check(CLI::Range(2, 1 << 20));
  app.add_option("--prefill", o.prefill, "prefill: prompt tokens")->check(CLI::PositiveNumber);
  app.add_option("--bw-mib", o.bw_mib, "read-bandwidth buffer, MiB")->check(CLI::PositiveNumber);
  app.add_option("--bw-passes", o.bw_passes, "read-bandwidth passes (best taken)")->check(CLI::PositiveNumber);
  app.add_option("--gemm-reps", o.gemm_reps, "GEMM calls per shape (best taken)")->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "seed of the weights and prompts");
  app.add_flag("--breakdown", o.breakdown, "decode: also time the step's matmuls alone (matmul_only_*, other_ms_per_token)");
  CLI11_PARSE(app, argc, argv);
  try {
    run(o);
  } catch (const tunekit::Error& e) {
    std::cerr << "bench_decode: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
