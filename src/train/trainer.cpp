// run_training: setup (everything that can fail on bad input happens here, before the first step),
// the step loop, validation and early stopping, checkpoints and the outputs.
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>

#include "train/trainer_parts.h"
#include "tunekit/core/parallel.h"
#include "tunekit/core/progress.h"
#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"
#include "tunekit/train/checkpoint.h"

namespace tunekit {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Settings that may differ between a run and its resumption: they do not change what is computed.
const std::set<std::string> kMayChangeOnResume = {"resume", "out", "threads", "log_format", "save_every", "keep_last"};

void check_resumable(const nlohmann::json& saved, const nlohmann::json& now, const fs::path& checkpoint) {
  std::string differ;
  for (const auto& [key, value] : now.items())
    if (!kMayChangeOnResume.count(key) && (!saved.contains(key) || saved[key] != value))
      differ += (differ.empty() ? "" : ", ") + key + " (was " + (saved.contains(key) ? saved[key].dump() : "unset") +
                ", now " + value.dump() + ")";
  check(differ.empty(), checkpoint.string(), ": written by a run with other settings: ", differ,
        "; resume with the same settings or start a new --out");
}

// splitmix64 of (seed, step, micro-batch): the dropout seed of one forward/backward.
uint64_t dropout_seed(uint64_t seed, int64_t step, int64_t micro) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * uint64_t(step * 65536 + micro + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Run {
  const TrainConfig& cfg;
  const TrainCallbacks& cb;
  nlohmann::json cfg_json;
  fs::path out;
  train::RunData data;
  std::optional<Trainable> trainable;
  std::optional<BatchIterator> train_batches, val_batches;
  std::optional<AdamW> optimizer;
  ScheduleConfig schedule;
  TrainerState state;
  TrainPlan plan;
  std::vector<StepMetrics> metrics;  // every record of metrics.jsonl
  std::ofstream metrics_file;
  bool stopped_early = false;
  bool interrupted = false;
  std::string last_checkpoint;

  Run(const TrainConfig& c, const TrainCallbacks& callbacks) : cfg(c), cb(callbacks), cfg_json(to_json(c)), out(c.out) {}

  void message(const std::string& m) const {
    if (cb.on_message) cb.on_message(m);
  }

  void setup() {
    validate(cfg);
    if (cfg.threads > 0) set_num_threads(cfg.threads);
    std::optional<fs::path> resume_from = latest_checkpoint(out);
    if (cfg.resume)
      check(resume_from.has_value(), out.string(), ": --resume found no complete checkpoint (checkpoint-<step>/) here");
    else
      check(!resume_from, out.string(), ": holds checkpoints of an earlier run (", resume_from.value_or("").string(),
            "); pass --resume to continue it, or choose another --out");
    DataOptions dopt;
    dopt.format = parse_data_format(cfg.format);
    dopt.seq_len = cfg.seq_len;
    dopt.prompt_loss_weight = cfg.prompt_loss_weight;
    dopt.skip_bad_lines = cfg.skip_bad_lines;
    dopt.truncate = cfg.truncate;
    dopt.val_fraction = cfg.val_fraction;
    dopt.seed = cfg.seed;
    dopt.pdf_text = cfg.pdf_text;
    Model model = load_model(cfg.model);
    data = train::load_run_data(cfg.model, cfg.tokenizer, cfg.data, cfg.val_data, dopt);
    const bool wants_val = !cfg.val_data.empty() || cfg.val_fraction > 0;
    check(!wants_val || !data.data.val.empty(), "train: the validation set is empty (",
          cfg.val_data.empty() ? "--val-fraction leaves no sample for it; raise it" : "--val-data has no samples", ")");
    trainable.emplace(train::make_trainable(std::move(model), cfg));
    BatchOptions bo;
    bo.seq_len = cfg.seq_len;
    bo.n_row = cfg.batch_size;
    bo.pack = cfg.packing;
    bo.seed = cfg.seed;
    train_batches.emplace(data.data.train, bo);
    if (!data.data.val.empty()) {
      bo.shuffle = false;
      val_batches.emplace(data.data.val, bo);
    }
    plan.batches_per_epoch = train_batches->batches_in_epoch(0);
    plan.total_steps = cfg.max_steps > 0 ? cfg.max_steps
                                         : std::max<int64_t>(1, int64_t(std::ceil(cfg.epochs * double(plan.batches_per_epoch) /
                                                                                  double(cfg.grad_accum))));
    plan.n_train_samples = int64_t(data.data.train.size());
    plan.n_val_samples = int64_t(data.data.val.size());
    plan.n_trainable = trainable->n_values();
    plan.tokens_per_step = cfg.batch_size * cfg.grad_accum * cfg.seq_len;
    plan.skipped_lines = data.data.skipped;
    plan.n_truncated = data.data.n_truncated;
    optimizer.emplace(trainable->n_values(), AdamWConfig{cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay});
    schedule = {cfg.schedule, cfg.lr, cfg.warmup_steps, plan.total_steps, cfg.min_lr_ratio};
    state.seed = cfg.seed;
    state.data_fingerprint = train_batches->fingerprint();
    fs::create_directories(out);
    remove_partial_checkpoints(out);
    if (resume_from) resume(*resume_from);
    open_metrics();
  }

  void resume(const fs::path& dir) {
    LoadedCheckpoint ck = load_checkpoint(dir, trainable->params(), trainable->values(), trainable->n_values());
    check_resumable(ck.config, cfg_json, dir);
    check(ck.state.data_fingerprint == state.data_fingerprint, dir.string(),
          ": the training data or batching changed since this checkpoint; resume with the same data");
    check(ck.state.step <= plan.total_steps, dir.string(), ": is at step ", ck.state.step, ", past the run's ",
          plan.total_steps, " steps");
    optimizer->restore(std::move(ck.m), std::move(ck.v), ck.adam_steps);
    train_batches->restore(ck.state.data);
    state = ck.state;
    // A run that stopped early stays stopped.
    stopped_early = cfg.early_stopping_patience > 0 && state.evals_since_best >= cfg.early_stopping_patience;
    plan.start_step = state.step;
    plan.resumed_from = dir.string();
  }

  // metrics.jsonl: on resume, the records up to the checkpoint's step survive (a killed run may have
  // written a few more, which the resumed run writes again).
  void open_metrics() {
    const fs::path path = out / "metrics.jsonl";
    if (cfg.resume && fs::exists(path)) {
      std::string kept;
      for (const StepMetrics& m : read_metrics_jsonl(path))
        if (m.step <= state.step) {
          metrics.push_back(m);
          kept += to_json(m).dump() + "\n";
        }
      write_file_atomic(path, kept);
    }
    metrics_file.open(path, cfg.resume ? std::ios::app : std::ios::trunc);
    check(bool(metrics_file), path.string(), ": cannot open for writing");
  }

  void record(const StepMetrics& m) {
    metrics.push_back(m);
    metrics_file << to_json(m).dump() << "\n";
    metrics_file.flush();
  }

  double validate_now() {
    LossSum s = train::evaluate_samples(*trainable, *val_batches, cfg.eval_batches);
    check(s.weight > 0, "train: the validation set has no tokens to predict");
    return s.loss / s.weight;
  }

  // One optimizer step; returns its metrics (without validation).
  StepMetrics step(int64_t step, std::vector<Batch>& micro) {
    const auto t0 = Clock::now();
    trainable->zero_grads();
    double weight = 0;
    for (Batch& b : micro) {
      train_batches->next(b);
      weight += b.weight_sum();
    }
    StepMetrics m;
    m.step = step;
    m.lr = learning_rate(schedule, step - 1);
    LossSum sum;
    if (weight > 0)
      for (size_t k = 0; k < micro.size(); ++k) {
        StepOptions so{cfg.checkpointing, dropout_seed(cfg.seed, step, int64_t(k))};
        LossSum s = trainable->forward_backward(micro[k], float(1.0 / weight), so);
        sum.loss += s.loss, sum.weight += s.weight, sum.tokens += s.tokens;
      }
    m.loss = weight > 0 ? sum.loss / sum.weight : std::nan("");
    m.tokens = sum.tokens;
    const double max_norm = cfg.max_grad_norm > 0 ? cfg.max_grad_norm : std::numeric_limits<double>::infinity();
    m.grad_norm = clip_grad_norm(trainable->grads(), trainable->n_values(), max_norm);
    if (!std::isfinite(m.grad_norm) || !std::isfinite(m.loss)) {
      m.skipped = true;
      ++state.skipped_steps;
      trainable->zero_grads();
      message("step " + std::to_string(step) +
              (weight > 0 ? " skipped: non-finite gradient" : " skipped: no tokens to predict"));
    } else {
      optimizer->step(trainable->values(), trainable->grads(), trainable->params(), m.lr);
    }
    state.step = step;
    state.data = train_batches->position();
    state.tokens_seen += m.tokens;
    const double dt = seconds_since(t0);
    m.tokens_per_s = dt > 0 ? double(m.tokens) / dt : 0;
    return m;
  }

  // Validation after a step: keep-best and early stopping. Returns whether the loss improved.
  bool validation(StepMetrics& m) {
    const double v = validate_now();
    m.val_loss = v;
    m.val_ppl = std::exp(v);
    state.last_val_loss = v;
    if (std::isfinite(v) && (!state.best_val_loss || v < *state.best_val_loss)) {
      state.best_val_loss = v;
      state.best_step = m.step;
      state.evals_since_best = 0;
      if (cfg.keep_best) {
        train::save_trained(*trainable, cfg, out / "best");
        message("step " + std::to_string(m.step) + ": validation loss " + std::to_string(v) + ", best so far: saved " +
                (out / "best").string());
      }
      return true;
    }
    ++state.evals_since_best;
    if (cfg.early_stopping_patience > 0 && state.evals_since_best >= cfg.early_stopping_patience) {
      stopped_early = true;
      message("early stop at step " + std::to_string(m.step) + ": no validation improvement in " +
              std::to_string(state.evals_since_best) + " validations (best " + std::to_string(*state.best_val_loss) +
              " at step " + std::to_string(state.best_step) + ")");
    }
    return false;
  }

  void save(int64_t step, double elapsed) {
    state.elapsed_s = elapsed;
    fs::path dir = save_checkpoint(out, trainable->params(), trainable->values(), *optimizer, state, cfg_json,
                                   cb.on_checkpoint_file);
    prune_checkpoints(out, cfg.keep_last);
    last_checkpoint = dir.string();
    message("step " + std::to_string(step) + ": saved " + dir.string());
  }

  nlohmann::ordered_json summary(const TrainResult& r) const {
    using J = nlohmann::ordered_json;
    auto opt = [](const std::optional<double>& x) { return x ? J(*x) : J(nullptr); };
    auto ppl = [](const std::optional<double>& x) { return x ? J(std::exp(*x)) : J(nullptr); };
    return J{{"steps", r.steps},
            {"skipped_steps", r.skipped_steps},
            {"final_train_loss", r.final_loss},
            {"val_loss_before", opt(r.val_loss_before)},
            {"val_ppl_before", ppl(r.val_loss_before)},
            {"val_loss_after", opt(r.val_loss_after)},
            {"val_ppl_after", ppl(r.val_loss_after)},
            {"best_val_loss", opt(r.best_val_loss)},
            {"best_step", r.best_step},
            {"stopped_early", r.stopped_early},
            {"interrupted", r.interrupted},
            {"trainable_values", plan.n_trainable},
            {"train_samples", plan.n_train_samples},
            {"val_samples", plan.n_val_samples},
            {"tokens_seen", state.tokens_seen},
            {"elapsed", format_duration(r.elapsed_s)},
            {"mean_tokens_per_s", r.elapsed_s > 0 ? double(state.tokens_seen) / r.elapsed_s : 0.0}};
  }

  void write_report(const TrainResult& r) const {
    ReportInput in;
    in.title = "tunekit train: " + fs::path(cfg.model).filename().string() + ", " + cfg.method +
               (cfg.method == "lora" ? " r=" + std::to_string(cfg.lora_r) : "");
    in.config = nlohmann::ordered_json::parse(cfg_json.dump());
    in.metrics = metrics;
    in.summary = summary(r);
    write_report_html(out / "report.html", in);
  }

  TrainResult result(double elapsed_s) const {
    TrainResult r;
    r.steps = state.step;
    r.skipped_steps = state.skipped_steps;
    r.final_loss = std::nan("");
    for (auto it = metrics.rbegin(); it != metrics.rend(); ++it)
      if (it->step > 0 && !it->skipped) {
        r.final_loss = it->loss;
        break;
      }
    r.val_loss_before = state.val_loss_before;
    r.val_loss_after = state.last_val_loss;
    r.best_val_loss = state.best_val_loss;
    r.best_step = state.best_step;
    r.stopped_early = stopped_early;
    r.interrupted = interrupted;
    r.elapsed_s = elapsed_s;
    r.final_dir = interrupted ? "" : (out / "final").string();
    r.last_checkpoint = last_checkpoint;
    if (state.best_val_loss && cfg.keep_best) r.best_dir = (out / "best").string();
    r.metrics_path = (out / "metrics.jsonl").string();
    r.report_path = (out / "report.html").string();
    return r;
  }

  TrainResult train() {
    if (cb.on_start) cb.on_start(plan);
    const auto t_start = Clock::now();
    const double elapsed_before = state.elapsed_s;
    auto elapsed = [&] { return elapsed_before + seconds_since(t_start); };
    if (val_batches && state.step == 0) {
      state.val_loss_before = state.last_val_loss = validate_now();
      StepMetrics m0;
      m0.loss = m0.grad_norm = std::nan("");
      m0.val_loss = state.val_loss_before;
      m0.val_ppl = std::exp(*state.val_loss_before);
      m0.rss_bytes = resident_memory_bytes();
      record(m0);
      message("validation loss before training: " + std::to_string(*m0.val_loss) + " (perplexity " +
              std::to_string(*m0.val_ppl) + ")");
    }
    std::vector<Batch> micro(size_t(cfg.grad_accum));
    for (int64_t s = state.step + 1; s <= plan.total_steps && !stopped_early && !interrupted; ++s) {
      StepMetrics m = step(s, micro);
      const bool improved = val_batches && ((cfg.eval_every > 0 && s % cfg.eval_every == 0) || s == plan.total_steps) &&
                            validation(m);
      m.elapsed_s = elapsed();
      m.rss_bytes = resident_memory_bytes();
      record(m);
      if (improved && cfg.keep_best) write_report(result(elapsed()));
      if (cb.on_step) cb.on_step(m);
      interrupted = s < plan.total_steps && cb.stop_requested && cb.stop_requested();
      if ((cfg.save_every > 0 && s % cfg.save_every == 0) || s == plan.total_steps || stopped_early || interrupted)
        save(s, elapsed());
    }
    if (interrupted)
      message("interrupted after step " + std::to_string(state.step) + " of " + std::to_string(plan.total_steps) +
              ": run the same command with --resume to continue from " + last_checkpoint);
    else
      train::save_trained(*trainable, cfg, out / "final");
    TrainResult r = result(elapsed());
    write_report(r);
    return r;
  }
};

}  // namespace

TrainResult run_training(const TrainConfig& config, const TrainCallbacks& callbacks) {
  Run run(config, callbacks);
  run.setup();
  return run.train();
}

}  // namespace tunekit
