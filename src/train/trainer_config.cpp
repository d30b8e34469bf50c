// TrainConfig as JSON, and its checks. Errors name the field as its CLI flag (--lora-r), which is
// also its YAML key.
#include <cmath>

#include "tunekit/error.h"
#include "tunekit/train/trainer.h"

namespace tunekit {

nlohmann::json to_json(const TrainConfig& c) {
  return {{"model", c.model},
          {"tokenizer", c.tokenizer},
          {"data", c.data},
          {"val_data", c.val_data},
          {"val_fraction", c.val_fraction},
          {"format", c.format},
          {"out", c.out},
          {"method", c.method},
          {"lora_r", c.lora_r},
          {"lora_alpha", c.lora_alpha},
          {"lora_dropout", c.lora_dropout},
          {"rslora", c.rslora},
          {"targets", c.targets},
          {"lora_init", c.lora_init},
          {"frozen_layers", c.frozen_layers},
          {"freeze_embeddings", c.freeze_embeddings},
          {"max_steps", c.max_steps},
          {"epochs", c.epochs},
          {"batch_size", c.batch_size},
          {"grad_accum", c.grad_accum},
          {"seq_len", c.seq_len},
          {"packing", c.packing},
          {"truncate", c.truncate},
          {"lr", c.lr},
          {"schedule", c.schedule},
          {"warmup_steps", c.warmup_steps},
          {"min_lr_ratio", c.min_lr_ratio},
          {"weight_decay", c.weight_decay},
          {"beta1", c.beta1},
          {"beta2", c.beta2},
          {"eps", c.eps},
          {"max_grad_norm", c.max_grad_norm},
          {"prompt_loss_weight", c.prompt_loss_weight},
          {"checkpointing", c.checkpointing},
          {"eval_every", c.eval_every},
          {"eval_batches", c.eval_batches},
          {"early_stopping_patience", c.early_stopping_patience},
          {"save_every", c.save_every},
          {"keep_last", c.keep_last},
          {"keep_best", c.keep_best},
          {"seed", c.seed},
          {"threads", c.threads},
          {"skip_bad_lines", c.skip_bad_lines},
          {"log_format", c.log_format}};
}

void validate(const TrainConfig& c) {
  auto need = [](bool ok, const char* flag, const auto&... why) { check(ok, "train: --", flag, " ", why...); };
  need(!c.model.empty(), "model", "is required (HF folder, .gguf or llama2.c .bin)");
  need(!c.data.empty(), "data", "is required (.jsonl/.json/.txt/.md/.pdf files or folders)");
  need(!c.out.empty(), "out", "is required (the output folder)");
  need(c.val_fraction >= 0 && c.val_fraction < 1, "val-fraction", "must lie in [0, 1) (got ", c.val_fraction, ")");
  need(c.val_data.empty() || c.val_fraction == 0, "val-fraction", "and --val-data exclude each other");
  need(c.method == "lora" || c.method == "full", "method", "must be lora or full (got '", c.method, "')");
  need(c.max_steps >= 0, "max-steps", "must be >= 0 (got ", c.max_steps, ")");
  need(c.max_steps > 0 || (c.epochs > 0 && std::isfinite(c.epochs)), "epochs",
       "must be positive when --max-steps is 0 (got ", c.epochs, ")");
  need(c.batch_size >= 1, "batch-size", "must be >= 1 (got ", c.batch_size, ")");
  need(c.grad_accum >= 1, "grad-accum", "must be >= 1 (got ", c.grad_accum, ")");
  need(c.seq_len >= 2, "seq-len", "must be >= 2 (got ", c.seq_len, ")");
  need(c.lr > 0 && std::isfinite(c.lr), "lr", "must be positive (got ", c.lr, ")");
  need(c.schedule == "constant" || c.schedule == "linear" || c.schedule == "cosine", "schedule",
       "must be constant, linear or cosine (got '", c.schedule, "')");
  need(c.warmup_steps >= 0, "warmup-steps", "must be >= 0 (got ", c.warmup_steps, ")");
  need(c.min_lr_ratio >= 0 && c.min_lr_ratio <= 1, "min-lr-ratio", "must lie in [0, 1] (got ", c.min_lr_ratio, ")");
  need(c.weight_decay >= 0, "weight-decay", "must be >= 0 (got ", c.weight_decay, ")");
  need(c.beta1 >= 0 && c.beta1 < 1, "beta1", "must lie in [0, 1) (got ", c.beta1, ")");
  need(c.beta2 >= 0 && c.beta2 < 1, "beta2", "must lie in [0, 1) (got ", c.beta2, ")");
  need(c.eps > 0, "eps", "must be positive (got ", c.eps, ")");
  need(c.max_grad_norm >= 0, "max-grad-norm", "must be >= 0 (0 = no clipping; got ", c.max_grad_norm, ")");
  need(c.prompt_loss_weight >= 0 && c.prompt_loss_weight <= 1, "prompt-loss-weight", "must lie in [0, 1] (got ",
       c.prompt_loss_weight, ")");
  need(c.eval_every >= 0, "eval-every", "must be >= 0 (got ", c.eval_every, ")");
  need(c.eval_batches >= 0, "eval-batches", "must be >= 0 (got ", c.eval_batches, ")");
  need(c.early_stopping_patience >= 0, "early-stopping-patience", "must be >= 0 (got ", c.early_stopping_patience, ")");
  need(c.early_stopping_patience == 0 || c.eval_every > 0, "early-stopping-patience",
       "needs --eval-every > 0 (validations to compare)");
  need(c.save_every >= 0, "save-every", "must be >= 0 (got ", c.save_every, ")");
  need(c.keep_last >= 1, "keep-last", "must be >= 1 (got ", c.keep_last, ")");
  need(c.threads >= 0, "threads", "must be >= 0 (got ", c.threads, ")");
  need(c.log_format == "auto" || c.log_format == "plain" || c.log_format == "json" || c.log_format == "none",
       "log-format", "must be auto, plain, json or none (got '", c.log_format, "')");
  need(c.method == "lora" || c.lora_dropout == 0, "lora-dropout", "applies to --method lora only");
  const bool has_val = !c.val_data.empty() || c.val_fraction > 0;
  need(c.eval_every == 0 || has_val, "eval-every", "needs validation data (--val-data or --val-fraction)");
}

}  // namespace tunekit
