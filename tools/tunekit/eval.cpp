// tunekit eval: mean cross-entropy and perplexity of a model (optionally with a PEFT LoRA adapter)
// on data files, batched as training batches them. `tunekit eval retrieval` (eval_retrieval.cpp)
// measures a knowledge base's retrieval instead; --model and --data are required only without it.

#include <chrono>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "tunekit/core/progress.h"
#include "tunekit/train/trainer.h"
#include "verbs.h"

namespace tunekit::cli {

void add_eval(CLI::App& app) {
  auto c = std::make_shared<EvalConfig>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("eval", "Loss and perplexity of a model (+ adapter) on data files; "
                                          "`eval retrieval`: retrieval quality of a knowledge base");
  cmd->require_subcommand(0, 1);
  auto* model = cmd->add_option("--model,-m", c->model, "HF model folder, .gguf file or llama2.c .bin checkpoint (required)");
  cmd->add_option("--adapter,-a", c->adapter, "PEFT LoRA adapter folder (default: the model alone)");
  cmd->add_option("--tokenizer", c->tokenizer, "tokenizer (default: the model's own)");
  auto* data = cmd->add_option("--data,-d", c->data, "data files or folders (.jsonl/.json/.txt/.md/.pdf), as for train (required)");
  cmd->add_option("--format", c->format, "data format (see train)")->capture_default_str();
  cmd->add_option("--batch-size", c->batch_size, "rows per micro-batch")->capture_default_str();
  cmd->add_option("--seq-len", c->seq_len, "row length in tokens (also the longest sample)")->capture_default_str();
  cmd->add_option("--prompt-loss-weight", c->prompt_loss_weight, "loss weight of prompt tokens")->capture_default_str();
  cmd->add_flag("--packing,!--no-packing", c->packing, "pack several samples per row (default on)");
  cmd->add_flag("--truncate", c->truncate, "cut samples longer than --seq-len instead of failing");
  cmd->add_option("--threads", c->threads, "threads (0: one per core)");
  cmd->add_flag("--json", *json, "print one JSON object");
  add_eval_retrieval(*cmd);
  cmd->callback([cmd, model, data, c, json] {
    if (cmd->got_subcommand("retrieval")) return;
    if (model->count() == 0) throw CLI::RequiredError(model->get_name());
    if (data->count() == 0) throw CLI::RequiredError(data->get_name());
    c->pdf_text = pdf_text;
    std::optional<ProgressBar> bar;  // on stderr: a bar on a terminal, a line every 10 s elsewhere
    const auto start = std::chrono::steady_clock::now();
    c->on_progress = [&](int64_t done, int64_t total, double loss) {
      if (!bar) bar.emplace(stderr, total, stderr_is_terminal());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char fields[96];
      std::snprintf(fields, sizeof fields, "loss %.4f | %.1f batches/s", loss, s > 0 ? double(done) / s : 0.0);
      bar->update(done, fields);
    };
    EvalResult r = run_evaluation(*c);
    if (bar) bar->finish();
    if (*json)
      std::printf("%s\n", nlohmann::json({{"loss", r.loss}, {"perplexity", r.perplexity}, {"samples", r.n_samples},
                                          {"weight", r.weight}}).dump().c_str());
    else
      std::printf("loss %.4f  perplexity %.3f  (%lld samples, %.0f weighted tokens)\n", r.loss, r.perplexity,
                  (long long)r.n_samples, r.weight);
  });
}

}  // namespace tunekit::cli
