// bench_serve_speed: the server's engine in process (no HTTP) on a SmolLM2-135M-shaped random f32
// model. Two questions, each a ratio of aggregate decode tokens/s (greedy, stop_at_eos off, so
// every request yields exactly --max-tokens tokens):
//   concurrency  --concurrent (16) requests submitted at once  vs  one request alone   (target >= 4)
//   adapters     the same 16 requests spread over --adapters (8) random LoRA adapters (rank 8, every
//                linear module, non-zero B)  vs  the 16 requests on a model with one of them merged
//                into the weights                                                     (target >= 0.7)
// Decode tokens/s comes from two runs of as many requests, one with --max-tokens and one with
// --short-tokens: requests x (max - short) / (wall(max) - wall(short)), so the prefills, queueing and
// first tokens cancel out and only the decode steps remain. The line also gives end-to-end tokens/s
// (all tokens / wall of the long run). Every request of every run has its own random prompt of
// --prompt tokens (no prefix is shared or cached between them).
// Prints one JSON line per case and one per ratio; docs/benchmarks.md ("Serving") explains them.
//   bench_serve_speed [--engine batch|serial] [--threads 2] [--repeat 1] [--prompt 32] [--max-tokens 64]
//                     [--short-tokens 16] [--concurrent 16] [--adapters 8] [--rank 8] [--tokenizer PATH]
#include <CLI/CLI.hpp>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "model_shapes.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/adapters/merge.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/server/batch_engine.h"
#include "tunekit/server/engine.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace {

using namespace tunekit;
using bench::median;
using bench::now_seconds;
using bench::print_json_line;
using json = nlohmann::ordered_json;

struct Options {
  std::string engine = "batch";
  int threads = 2;
  int repeat = 1;
  int prompt = 32;
  int max_tokens = 64;
  int short_tokens = 16;
  int concurrent = 16;
  int adapters = 8;
  int rank = 8;
  uint64_t seed = 1;
  // The StarCoder vocabulary has SmolLM2's 49152 entries, so every id the model emits decodes.
  std::string tokenizer = "../shared/tokenizers/llama.cpp-vocab-tests/ggml-vocab-starcoder.gguf";
};

std::unique_ptr<server::Engine> make_engine(const std::string& kind, const Model& model, const Tokenizer& tokenizer) {
  if (kind == "batch") return std::make_unique<server::BatchEngine>(model, tokenizer);
  return std::make_unique<server::SerialEngine>(model, tokenizer);
}

// One request per prompt, submitted at once; request i uses adapters[i % size] (none when empty).
// Returns the wall seconds from the first submit to the last result. Checks that every request
// produced exactly max_tokens tokens, which the decode-rate difference relies on.
double run_requests(server::Engine& engine, const std::vector<std::vector<int32_t>>& prompts,
                    const std::vector<const LoraAdapter*>& adapters, int max_tokens) {
  std::vector<std::future<GenerateResult>> results;
  const double t0 = now_seconds();
  for (size_t i = 0; i < prompts.size(); ++i) {
    server::EngineRequest request;
    request.prompt = prompts[i];
    request.options.max_tokens = max_tokens;
    request.options.sampling.temperature = 0;  // greedy
    request.options.stop_at_eos = false;
    request.options.adapter = adapters.empty() ? nullptr : adapters[i % adapters.size()];
    results.push_back(engine.submit(std::move(request)));
  }
  for (auto& result : results) {
    const GenerateResult r = result.get();
    check(int64_t(r.tokens.size()) == max_tokens, "a request stopped after ", r.tokens.size(), " of ", max_tokens,
          " tokens (finish_reason ", r.finish_reason, "); the decode rate needs every request to run to max_tokens");
  }
  return now_seconds() - t0;
}

// Random prompts of one length, a new set at every call: no two runs share a prompt, so an engine
// that keeps the KV blocks of earlier prompts (prefix caching) cannot skip a prefill.
class PromptSource {
 public:
  PromptSource(int length, int64_t n_vocab, uint64_t seed)
      : length_(length), rng_(seed), id_(0, int32_t(n_vocab - 1)) {}
  std::vector<std::vector<int32_t>> next(int count) {
    std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(count));
    for (auto& prompt : prompts) {
      prompt.resize(static_cast<size_t>(length_));
      for (int32_t& t : prompt) t = id_(rng_);
    }
    return prompts;
  }

 private:
  int length_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<int32_t> id_;
};

// A case's figures over the repeats: each repeat runs the short and the long requests once.
struct CaseResult {
  std::vector<double> decode_tokens_per_s, end_to_end_tokens_per_s, wall_s;
};

void measure_case(server::Engine& engine, PromptSource& prompts, int requests,
                  const std::vector<const LoraAdapter*>& adapters, const Options& o, CaseResult& out) {
  const double short_s = run_requests(engine, prompts.next(requests), adapters, o.short_tokens);
  const double long_s = run_requests(engine, prompts.next(requests), adapters, o.max_tokens);
  const double n = double(requests);
  out.decode_tokens_per_s.push_back(n * (o.max_tokens - o.short_tokens) / (long_s - short_s));
  out.end_to_end_tokens_per_s.push_back(n * o.max_tokens / long_s);
  out.wall_s.push_back(long_s);
}

void print_case(const char* name, const CaseResult& r, int64_t requests, int64_t n_adapters, const Options& o) {
  print_json_line({{"bench", "serve_speed"}, {"engine", o.engine}, {"case", name}, {"requests", requests},
                   {"adapters", n_adapters}, {"prompt", o.prompt}, {"max_tokens", o.max_tokens},
                   {"short_tokens", o.short_tokens}, {"threads", o.threads},
                   {"decode_tokens_per_s", median(r.decode_tokens_per_s)},
                   {"end_to_end_tokens_per_s", median(r.end_to_end_tokens_per_s)},
                   {"wall_s", median(r.wall_s)},
                   {"runs_decode_tokens_per_s", r.decode_tokens_per_s},
                   {"runs_end_to_end_tokens_per_s", r.end_to_end_tokens_per_s}});
}

// The median of the same-repeat ratios a[i] / b[i].
double median_ratio(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> ratios;
  for (size_t i = 0; i < a.size(); ++i) ratios.push_back(a[i] / b[i]);
  return median(ratios);
}

void print_ratio(const char* name, const CaseResult& a, const CaseResult& b, double target, const Options& o) {
  const double decode = median_ratio(a.decode_tokens_per_s, b.decode_tokens_per_s);
  print_json_line({{"bench", "serve_speed_ratio"}, {"engine", o.engine}, {"ratio", name},
                   {"decode", decode},
                   {"end_to_end", median_ratio(a.end_to_end_tokens_per_s, b.end_to_end_tokens_per_s)},
                   {"target", target}, {"pass", decode >= target}});
}

void run(const Options& o) {
  check(o.short_tokens < o.max_tokens, "--short-tokens ", o.short_tokens, " must be below --max-tokens ", o.max_tokens);
  set_num_threads(o.threads);
  json machine = {{"bench", "machine"}, {"threads", o.threads}};
  machine.update(bench::machine_info());
  print_json_line(machine);

  const ModelConfig config = bench::smollm2_135m_config();
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(o.tokenizer);
  check(tokenizer->vocab_size() == config.n_vocab, "--tokenizer ", o.tokenizer, " has ", tokenizer->vocab_size(),
        " ids; the SmolLM2-135M shape needs ", config.n_vocab, " (the default StarCoder GGUF vocabulary has them)");
  const Model base = init_random_model(config, o.seed);
  std::vector<LoraAdapter> adapters;
  LoraConfig lora;
  lora.rank = o.rank;
  lora.alpha = 2.0 * o.rank;
  lora.targets = {"all-linear"};
  lora.b_std = 0.02;  // non-zero B: each adapter changes the model
  for (int a = 0; a < o.adapters; ++a) adapters.push_back(init_lora(config, lora, o.seed + 100 + uint64_t(a)));
  std::vector<const LoraAdapter*> adapter_ptrs;
  for (const LoraAdapter& a : adapters) adapter_ptrs.push_back(&a);
  const Model merged = merge_adapter(base, adapters[0]);

  PromptSource prompts(o.prompt, config.n_vocab, o.seed);
  CaseResult single, concurrent, mixed_adapters, on_merged;
  for (int rep = 0; rep < o.repeat; ++rep) {
    {
      const std::unique_ptr<server::Engine> engine = make_engine(o.engine, base, *tokenizer);
      run_requests(*engine, prompts.next(1), adapter_ptrs, 2);  // warm-up (the workspace, the adapter path)
      measure_case(*engine, prompts, 1, {}, o, single);
      measure_case(*engine, prompts, o.concurrent, {}, o, concurrent);
      measure_case(*engine, prompts, o.concurrent, adapter_ptrs, o, mixed_adapters);
    }
    const std::unique_ptr<server::Engine> engine = make_engine(o.engine, merged, *tokenizer);
    run_requests(*engine, prompts.next(1), {}, 2);
    measure_case(*engine, prompts, o.concurrent, {}, o, on_merged);
  }
  print_case("single", single, 1, 0, o);
  print_case("concurrent", concurrent, o.concurrent, 0, o);
  print_case("mixed_adapters", mixed_adapters, o.concurrent, o.adapters, o);
  print_case("merged", on_merged, o.concurrent, 0, o);
  print_ratio("concurrent_vs_single", concurrent, single, 4.0, o);
  print_ratio("mixed_adapters_vs_merged", mixed_adapters, on_merged, 0.7, o);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Serving engine speed on a SmolLM2-135M-shaped model: concurrency and mixed-adapter ratios"};
  app.add_option("--engine", o.engine, "batch (BatchEngine) or serial (SerialEngine)")
      ->check(CLI::IsMember({"batch", "serial"}))->capture_default_str();
  app.add_option("--threads", o.threads, "threads")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--repeat", o.repeat, "rounds of every case (medians reported)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--prompt", o.prompt, "prompt tokens per request")->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--max-tokens", o.max_tokens, "new tokens per request (long run)")
      ->check(CLI::Range(2, 1024))->capture_default_str();
  app.add_option("--short-tokens", o.short_tokens, "new tokens per request (short run)")
      ->check(CLI::Range(1, 1023))->capture_default_str();
  app.add_option("--concurrent", o.concurrent, "requests submitted at once")
      ->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--adapters", o.adapters, "different LoRA adapters in the mixed batch")
      ->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--rank", o.rank, "LoRA rank")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the weights, adapters and prompts")->capture_default_str();
  app.add_option("--tokenizer", o.tokenizer, "a tokenizer with 49152 ids")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    run(o);
  } catch (const tunekit::Error& e) {
    std::cerr << "bench_serve_speed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
