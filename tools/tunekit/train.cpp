// tunekit train: fine-tune (LoRA or full) or continue pre-training from a YAML config, flags and
// key=value overrides (precedence: flag, key=value > YAML > default), with a progress bar on a
// terminal and plain lines elsewhere.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include <yaml-cpp/yaml.h>

#include "tunekit/core/progress.h"
#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "tunekit/train/trainer.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

struct TrainArgs {
  TrainConfig config;
  std::string config_file;
  std::vector<std::string> overrides;  // key=value
};

// Every TrainConfig field as a long flag; YAML keys and key=value overrides use the same names.
void add_options(CLI::App* cmd, TrainConfig& c) {
  cmd->add_option("--model,-m", c.model, "HF model folder, .gguf file or llama2.c .bin checkpoint");
  cmd->add_option("--tokenizer", c.tokenizer, "tokenizer file or folder (default: the model's own)");
  cmd->add_option("--data,-d", c.data, "training data: .jsonl/.json/.txt/.md/.pdf files or folders (repeatable)");
  cmd->add_option("--val-data", c.val_data, "validation data (repeatable); else --val-fraction of --data");
  cmd->add_option("--val-fraction", c.val_fraction, "share of the training samples held out for validation")->capture_default_str();
  cmd->add_option("--format", c.format, "data format: auto, text, prompt_completion, messages, alpaca, raw")->capture_default_str();
  cmd->add_option("--out,-o", c.out, "output folder (checkpoints, final/, best/, metrics.jsonl, report.html)");
  cmd->add_flag("--resume", c.resume, "continue from the newest complete checkpoint in --out");
  cmd->add_option("--method", c.method, "lora or full")->capture_default_str();
  cmd->add_option("--lora-r", c.lora_r, "LoRA rank")->capture_default_str();
  cmd->add_option("--lora-alpha", c.lora_alpha, "LoRA alpha (scale = alpha / r)")->capture_default_str();
  cmd->add_option("--lora-dropout", c.lora_dropout, "dropout on the LoRA input")->capture_default_str();
  cmd->add_flag("--rslora", c.rslora, "scale = alpha / sqrt(r)");
  cmd->add_option("--target,--targets", c.targets, "LoRA target modules (q_proj ... down_proj, or all-linear); repeatable or comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--lora-init", c.lora_init, "peft (kaiming-uniform A) or gaussian")->capture_default_str();
  cmd->add_option("--frozen-layers", c.frozen_layers, "full: layer indices kept fixed (comma-separated)")->delimiter(',');
  cmd->add_flag("--freeze-embeddings", c.freeze_embeddings, "full: keep the embedding table fixed");
  cmd->add_option("--max-steps", c.max_steps, "optimizer steps (0: from --epochs)")->capture_default_str();
  cmd->add_option("--epochs", c.epochs, "passes over the data when --max-steps is 0")->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "rows per micro-batch")->capture_default_str();
  cmd->add_option("--grad-accum", c.grad_accum, "micro-batches per optimizer step")->capture_default_str();
  cmd->add_option("--seq-len", c.seq_len, "row length in tokens (also the longest sample)")->capture_default_str();
  cmd->add_flag("--packing,!--no-packing", c.packing, "pack several samples per row (default on)");
  cmd->add_flag("--truncate", c.truncate, "cut samples longer than --seq-len instead of failing");
  cmd->add_option("--lr", c.lr, "peak learning rate")->capture_default_str();
  cmd->add_option("--schedule", c.schedule, "constant, linear or cosine")->capture_default_str();
  cmd->add_option("--warmup-steps,--warmup", c.warmup_steps, "linear warmup steps")->capture_default_str();
  cmd->add_option("--min-lr-ratio", c.min_lr_ratio, "final learning rate as a fraction of --lr")->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay, "AdamW decoupled weight decay (matrices only)")->capture_default_str();
  cmd->add_option("--beta1", c.beta1, "AdamW beta1")->capture_default_str();
  cmd->add_option("--beta2", c.beta2, "AdamW beta2")->capture_default_str();
  cmd->add_option("--eps", c.eps, "AdamW epsilon")->capture_default_str();
  cmd->add_option("--max-grad-norm", c.max_grad_norm, "clip the global gradient norm (0: off)")->capture_default_str();
  cmd->add_option("--prompt-loss-weight", c.prompt_loss_weight, "loss weight of prompt tokens")->capture_default_str();
  cmd->add_flag("--checkpointing", c.checkpointing, "recompute activations in backward (less memory)");
  cmd->add_option("--eval-every", c.eval_every, "validate every N steps (0: before and after only)")->capture_default_str();
  cmd->add_option("--eval-batches", c.eval_batches, "micro-batches per validation (0: all)")->capture_default_str();
  cmd->add_option("--early-stopping-patience", c.early_stopping_patience, "stop after N validations without improvement (0: never)")->capture_default_str();
  cmd->add_option("--save-every", c.save_every, "checkpoint every N steps (0: at the end only)")->capture_default_str();
  cmd->add_option("--keep-last", c.keep_last, "checkpoints kept")->capture_default_str();
  cmd->add_flag("--keep-best,!--no-keep-best", c.keep_best, "write best/ at each validation improvement (default on)");
  cmd->add_option("--seed", c.seed, "random seed (LoRA init, split, shuffle, dropout)")->capture_default_str();
  cmd->add_option("--threads", c.threads, "threads (0: one per core)")->capture_default_str();
  cmd->add_flag("--skip-bad-lines", c.skip_bad_lines, "skip malformed records (counted) instead of failing");
  cmd->add_option("--log-format", c.log_format, "stderr progress: auto, plain, json or none")->capture_default_str();
}

// "lora_r" / "lora-r" -> the option --lora-r; throws Error for names that are no option of train.
CLI::Option* option_for(CLI::App* cmd, const std::string& key, const std::string& where) {
  std::string flag = key;
  for (char& ch : flag)
    if (ch == '_') ch = '-';
  CLI::Option* opt = flag.empty() || flag == "config" || flag == "help" ? nullptr : cmd->get_option_no_throw("--" + flag);
  check(opt != nullptr, where, ": unknown setting '", key, "' (see tunekit train --help for the names)");
  return opt;
}

void set_option(CLI::Option* opt, const std::vector<std::string>& values, const std::string& where) {
  opt->clear();
  for (const auto& v : values) opt->add_result(v);
  try {
    opt->run_callback();
  } catch (const CLI::Error& e) {
    fail(where, ": bad value for ", opt->get_name(), ": ", e.what());
  }
}

// Applies key=value overrides, then YAML keys, to options the command line did not set.
void apply_settings(CLI::App* cmd, const TrainArgs& a) {
  std::set<CLI::Option*> set_here;
  for (const std::string& kv : a.overrides) {
    const size_t eq = kv.find('=');
    check(eq != std::string::npos && eq > 0, "train: '", kv, "' is not key=value (flags start with --)");
    CLI::Option* opt = option_for(cmd, kv.substr(0, eq), "train: " + kv);
    if (opt->count() > 0 && !set_here.count(opt)) continue;  // a flag wins
    set_option(opt, {kv.substr(eq + 1)}, "train: " + kv);
    set_here.insert(opt);
  }
  if (a.config_file.empty()) return;
  YAML::Node root;
  try {
    root = YAML::Load(read_text_file(a.config_file));
  } catch (const YAML::Exception& e) {
    fail(a.config_file, ": not valid YAML (", e.what(), ")");
  }
  if (root.IsNull()) return;
  check(root.IsMap(), a.config_file, ": expected a mapping of settings (key: value)");
  std::string unknown;
  for (const auto& kv : root) {
    const std::string where = a.config_file + ":" + std::to_string(kv.first.Mark().line + 1);
    check(kv.first.IsScalar(), where, ": a setting's name must be plain text (lr, lora_r, ...)");
    const std::string key = kv.first.Scalar();
    CLI::Option* opt;
    try {
      opt = option_for(cmd, key, where);
    } catch (const Error& e) {
      unknown += std::string(unknown.empty() ? "" : "; ") + e.what();
      continue;
    }
    if (opt->count() > 0) continue;  // flag or key=value
    std::vector<std::string> values;
    const YAML::Node& v = kv.second;
    check(!v.IsMap(), where, ": '", key, "' must be a value or a list, not a mapping");
    if (v.IsSequence())
      for (const auto& item : v) {
        check(item.IsScalar(), where, ": '", key, "' must be a list of plain values, not of lists or mappings");
        values.push_back(item.Scalar());
      }
    else if (!v.IsNull())
      values.push_back(v.Scalar());
    set_option(opt, values, where);
  }
  check(unknown.empty(), unknown);
}

// The first SIGINT or SIGTERM asks the run to stop after the current step (saved, resumable); the
// handler then resets itself (SA_RESETHAND), so a second one ends the process at once.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void request_stop(int sig) {
  g_stop_signal = sig;
  static const char note[] =
      "\ntunekit train: stopping after this step and saving a checkpoint (press Ctrl-C again to quit at once)\n";
  [[maybe_unused]] const ssize_t n = ::write(2, note, sizeof note - 1);
}

// Installs request_stop for SIGINT and SIGTERM, except where the signal is ignored (nohup, a
// background job of a script): that choice of the caller stands.
void stop_on_signals() {
  for (int sig : {SIGINT, SIGTERM}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    struct sigaction sa {};
    sa.sa_handler = request_stop;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;  // a write to a pipe or terminal it interrupts goes on
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
}

std::string fields(const StepMetrics& m) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "loss %.4f | lr %.2e | %.0f tok/s | RSS %.0f MB", m.loss, m.lr, m.tokens_per_s,
                double(m.rss_bytes) / (1 << 20));
  std::string s = buf;
  if (m.val_loss) {
    std::snprintf(buf, sizeof buf, " | val %.4f (ppl %.2f)", *m.val_loss, *m.val_ppl);
    s += buf;
  }
  return s;
}

void print_summary(const TrainResult& r) {
  auto line = [](const char* key, const std::optional<double>& loss) {
    if (loss) std::printf("%-16s %.4f (perplexity %.3f)\n", key, *loss, std::exp(*loss));
  };
  std::printf("steps            %lld (%lld skipped)%s\n", (long long)r.steps, (long long)r.skipped_steps,
              r.stopped_early ? ", stopped early" : r.interrupted ? ", interrupted" : "");
  std::printf("final train loss %.4f\n", r.final_loss);
  line("val before", r.val_loss_before);
  line("val after", r.val_loss_after);
  if (r.best_val_loss) std::printf("best val         %.4f at step %lld\n", *r.best_val_loss, (long long)r.best_step);
  std::printf("time             %s\n", format_duration(r.elapsed_s).c_str());
  if (r.interrupted)
    std::printf("checkpoint       %s (the same command with --resume continues the run)\n", r.last_checkpoint.c_str());
  else
    std::printf("output           %s\n", r.final_dir.c_str());
  if (!r.best_dir.empty()) std::printf("best             %s\n", r.best_dir.c_str());
  std::printf("report           %s\n", r.report_path.c_str());
}

void run(CLI::App* cmd, TrainArgs& a) {
  apply_settings(cmd, a);
  const TrainConfig& c = a.config;
  validate(c);
  const std::string format = c.log_format == "auto" ? (stderr_is_terminal() ? "bar" : "plain") : c.log_format;
  std::optional<ProgressBar> bar;
  TrainCallbacks cb;
  cb.on_start = [&](const TrainPlan& p) {
    stop_on_signals();  // from here on Ctrl-C saves the run; during loading it just ends the process
    if (format == "none" || format == "json") return;
    for (const auto& s : p.skipped_lines) std::fprintf(stderr, "skipped %s\n", s.c_str());
    if (p.n_truncated > 0) std::fprintf(stderr, "truncated %lld samples to --seq-len\n", (long long)p.n_truncated);
    std::fprintf(stderr, "train: %lld samples (%lld validation), %lld micro-batches per epoch, %lld steps, %lld trained values%s\n",
                 (long long)p.n_train_samples, (long long)p.n_val_samples, (long long)p.batches_per_epoch,
                 (long long)p.total_steps, (long long)p.n_trainable,
                 p.resumed_from.empty() ? "" : (", resuming from " + p.resumed_from).c_str());
    bar.emplace(stderr, p.total_steps, format == "bar", 10.0);
  };
  cb.on_step = [&](const StepMetrics& m) {
    if (format == "json") std::fprintf(stderr, "%s\n", to_json(m).dump().c_str());
    else if (bar) bar->update(m.step, fields(m));
  };
  cb.on_message = [&](const std::string& s) {
    if (format == "none") return;
    if (format == "json") std::fprintf(stderr, "%s\n", nlohmann::json({{"message", s}}).dump().c_str());
    else if (bar) bar->print_line(s);
    else std::fprintf(stderr, "%s\n", s.c_str());
  };
  // Tests of interrupted checkpoint writes: pause after the first file of every checkpoint.
  if (const char* ms = std::getenv("TUNEKIT_TEST_CHECKPOINT_PAUSE_MS"))
    cb.on_checkpoint_file = [pause = std::atoi(ms)](const std::string& file) {
      if (file == "trainable.safetensors") std::this_thread::sleep_for(std::chrono::milliseconds(pause));
    };
  a.config.pdf_text = pdf_text;
  cb.stop_requested = [] { return g_stop_signal != 0; };
  TrainResult r = run_training(c, cb);
  if (bar) bar->finish();
  print_summary(r);
  if (r.interrupted) throw ExitStatus{128 + int(g_stop_signal)};  // the shell's status for a signal
}

}  // namespace

void add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Fine-tune a model (LoRA or full) or continue its pre-training");
  cmd->add_option("--config,-c", a->config_file, "YAML file of settings (keys: the long flag names)");
  cmd->add_option("overrides", a->overrides, "key=value settings (override the YAML file)");
  add_options(cmd, a->config);
  cmd->callback([cmd, a] { run(cmd, *a); });
}

}  // namespace tunekit::cli
