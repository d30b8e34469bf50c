// Supervised fine-tuning and continued pre-training as one plain function over a config (torchtune's
// recipe style): load the model, tokenizer and data, then micro-batches -> forward/backward ->
// non-finite guard -> clip -> learning rate -> AdamW, with validation, early stopping, checkpoints
// that resume exactly, and the outputs a user keeps (adapter or model, metrics.jsonl, report.html).
//
// Output folder (config.out):
//   checkpoint-<step>/     resumable state (train/checkpoint.h); the keep_last newest are kept
//   best/                  the adapter (PEFT folder) or model (HF folder + tokenizer) of the best
//                          validation loss so far (keep_best)
//   final/                 the same at the end of the run
//   metrics.jsonl          one StepMetrics per optimizer step (train/report.h)
//   report.html            loss curves, config and final figures; rewritten at every keep-best and at the end
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunekit/train/data.h"
#include "tunekit/train/report.h"

namespace tunekit {

struct TrainConfig {
  // ---- inputs and output
  std::string model;                    // HF folder, .gguf or llama2.c .bin
  std::string tokenizer;                // "" = the model's own
  std::vector<std::string> data;        // .jsonl/.json/.txt/.md/.markdown/.pdf files or folders
  std::vector<std::string> val_data;    // validation files; empty: split val_fraction off data
  double val_fraction = 0.0;            // in [0, 1)
  std::string format = "auto";          // data format (train/data.h): auto, text, prompt_completion, ...
  std::string out;                      // output folder
  bool resume = false;                  // continue from the newest complete checkpoint in out
  // ---- what is trained
  std::string method = "lora";          // "lora" | "full"
  int64_t lora_r = 8;
  double lora_alpha = 16;
  double lora_dropout = 0.0;
  bool rslora = false;
  std::vector<std::string> targets = {"q_proj", "v_proj"};  // module names or "all-linear"
  std::string lora_init = "peft";       // "peft" | "gaussian" (adapters/lora_init.h)
  std::vector<int> frozen_layers;       // full: layers whose weights stay fixed
  bool freeze_embeddings = false;       // full: keep the embedding table (and a tied lm_head) fixed
  // ---- length of the run and batches
  int64_t max_steps = 0;                // optimizer steps; 0: from epochs
  double epochs = 1;                    // used when max_steps is 0 (steps from the first epoch's batch count)
  int64_t batch_size = 4;               // rows per micro-batch
  int64_t grad_accum = 1;               // micro-batches per optimizer step
  int64_t seq_len = 512;                // row length in tokens; also the longest sample
  bool packing = true;                  // several samples per row (first fit)
  bool truncate = false;                // cut longer samples instead of failing
  // ---- optimizer and schedule
  double lr = 2e-4;
  std::string schedule = "cosine";      // constant | linear | cosine
  int64_t warmup_steps = 0;
  double min_lr_ratio = 0.0;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double max_grad_norm = 1.0;           // 0: no clipping (the norm is still measured)
  double prompt_loss_weight = 0.1;      // loss weight of prompt tokens (completion tokens: 1)
  bool checkpointing = false;           // recompute each layer in backward (less memory)
  // ---- validation, stopping, saving
  int64_t eval_every = 0;               // steps between validations; 0: only before and after training
  int64_t eval_batches = 0;             // micro-batches per validation; 0: the whole validation set
  int64_t early_stopping_patience = 0;  // stop after this many validations without improvement; 0: never
  int64_t save_every = 0;               // steps between checkpoints; 0: only at the end
  int64_t keep_last = 2;                // checkpoints kept (older ones are removed)
  bool keep_best = true;                // write best/ when the validation loss improves
  // ---- run
  uint64_t seed = 42;                   // LoRA init, validation split, shuffling, dropout
  int threads = 0;                      // 0: one per core
  bool skip_bad_lines = false;          // skip (and count) malformed records
  std::string log_format = "auto";      // CLI progress on stderr: auto (bar on a TTY) | plain | json | none
  // ---- not a setting: how .pdf files in data / val_data are read (train/data.h; the CLI passes
  // the knowledge base's reader); unset, a .pdf is refused
  DocumentTextReader pdf_text;
};

// The config as a flat JSON object (keys = field names), for checkpoints and reports.
nlohmann::json to_json(const TrainConfig& c);
// Checks every field's range and choice; throws Error naming the field (as its CLI flag) and the fix.
void validate(const TrainConfig& c);

// What the run is about to do, once model and data are loaded and checked.
struct TrainPlan {
  int64_t total_steps = 0, start_step = 0;  // start_step > 0 when resuming
  int64_t n_train_samples = 0, n_val_samples = 0, batches_per_epoch = 0;
  int64_t n_trainable = 0;                  // trained values
  int64_t tokens_per_step = 0;              // batch_size · grad_accum · seq_len (row slots)
  std::vector<std::string> skipped_lines;   // records skipped by skip_bad_lines
  int64_t n_truncated = 0;                  // samples cut to seq_len (truncate)
  std::string resumed_from;                 // checkpoint folder, when resuming
};

struct TrainCallbacks {
  std::function<void(const TrainPlan&)> on_start;        // before the first step
  std::function<void(const StepMetrics&)> on_step;       // after every optimizer step
  std::function<void(const std::string&)> on_message;    // notable events: skipped steps, saves, early stop
  // Called inside a checkpoint write after each file lands in the (not yet renamed) temporary folder;
  // tests use it to kill the process mid-write.
  std::function<void(const std::string& file)> on_checkpoint_file;
  // Polled after every optimizer step: true stops the run there (an interrupt). That step is saved
  // as a checkpoint to --resume from and the report is written; final/ is not (the run is unfinished).
  std::function<bool()> stop_requested;
};

struct TrainResult {
  int64_t steps = 0;                  // optimizer steps done (including skipped ones)
  int64_t skipped_steps = 0;          // non-finite gradients
  double final_loss = 0;              // the last step's training loss
  std::optional<double> val_loss_before, val_loss_after, best_val_loss;  // mean weighted CE
  int64_t best_step = 0;
  bool stopped_early = false;
  bool interrupted = false;           // stop_requested: final_dir is empty, last_checkpoint holds the run
  double elapsed_s = 0;
  std::string final_dir, best_dir, metrics_path, report_path;
  std::string last_checkpoint;        // the last checkpoint this run wrote ("" if none)
};

// Runs the whole recipe. Every bad input (config, model, tokenizer, data, LoRA targets, a checkpoint
// from another run) throws Error before the first step.
TrainResult run_training(const TrainConfig& config, const TrainCallbacks& callbacks = {});

// Mean weighted cross-entropy of a model (plus an optional PEFT adapter) on the samples of data
// files, in micro-batches of batch_size rows of seq_len; perplexity = exp(result). For `tunekit eval`.
struct EvalConfig {
  std::string model, tokenizer, adapter, format = "auto";
  std::vector<std::string> data;
  int64_t batch_size = 4, seq_len = 512;
  double prompt_loss_weight = 0.1;
  bool packing = true, truncate = false;
  int threads = 0;
  DocumentTextReader pdf_text;  // as TrainConfig's
  // not a setting: called after every micro-batch with the count done, the total and the mean loss so far
  std::function<void(int64_t done, int64_t total, double loss)> on_progress;
};
struct EvalResult {
  double loss = 0, perplexity = 0;
  int64_t n_samples = 0;
  double weight = 0;  // Σ loss weights: the predicted tokens, for plain text
};
EvalResult run_evaluation(const EvalConfig& config);

}  // namespace tunekit
