// Loading the data for a run, building the Trainable, validation loss, the saved outputs, and
// run_evaluation (the loss of a model, with or without an adapter, on data files).
#include <cmath>

#include "train/checkpoint_folder.h"
#include "train/trainer_parts.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/adapters/peft.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/infer/model_files.h"

namespace tunekit::train {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> to_paths(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

std::optional<fs::path> optional_path(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<fs::path>(s);
}

}  // namespace

RunData load_run_data(const std::string& model, const std::string& tokenizer, const std::vector<std::string>& data,
                      const std::vector<std::string>& val_data, const DataOptions& options) {
  RunData r;
  r.tok = load_tokenizer_for_model(model, optional_path(tokenizer));
  r.chat = load_chat_template_for_model(model, optional_path(tokenizer));
  r.data = load_dataset(to_paths(data), to_paths(val_data), *r.tok, r.chat ? &*r.chat : nullptr, options);
  return r;
}

Trainable make_trainable(Model model, const TrainConfig& c) {
  if (c.method == "full") return Trainable::full(std::move(model), c.frozen_layers, c.freeze_embeddings);
  check(c.frozen_layers.empty() && !c.freeze_embeddings,
        "train: --frozen-layers and --freeze-embeddings apply to --method full (a LoRA base is frozen anyway)");
  LoraConfig lc;
  lc.rank = c.lora_r;
  lc.alpha = c.lora_alpha;
  lc.dropout = c.lora_dropout;
  lc.rslora = c.rslora;
  lc.targets = c.targets;
  lc.init = c.lora_init;
  lc.base_model = c.model;
  LoraAdapter adapter = init_lora(model.config, lc, c.seed);
  return Trainable::lora(std::move(model), std::move(adapter));
}

LossSum evaluate_samples(Trainable& t, BatchIterator& batches, int64_t max_batches,
                         const std::function<void(int64_t done, int64_t total, const LossSum& sum)>& on_batch) {
  batches.restore({0, 0});
  int64_t n = batches.batches_in_epoch(0);
  if (max_batches > 0) n = std::min(n, max_batches);
  LossSum sum;
  Batch batch;
  for (int64_t i = 0; i < n; ++i) {
    batches.next(batch);
    LossSum s = t.evaluate(batch);
    sum.loss += s.loss;
    sum.weight += s.weight;
    sum.tokens += s.tokens;
    if (on_batch) on_batch(i + 1, n, sum);
  }
  return sum;
}

void save_trained(const Trainable& t, const TrainConfig& c, const fs::path& dir) {
  write_folder_atomic(dir, [&](const fs::path& temp) {
    if (t.adapter()) {
      save_peft_adapter(*t.adapter(), t.model().config, temp);
    } else {
      save_hf(t.model(), temp, DType::F32);
      copy_tokenizer_files(c.model, optional_path(c.tokenizer), temp);
    }
  });
}

}  // namespace tunekit::train

namespace tunekit {

EvalResult run_evaluation(const EvalConfig& c) {
  check(!c.model.empty(), "eval: --model is required");
  check(!c.data.empty(), "eval: --data is required");
  check(c.batch_size >= 1 && c.seq_len >= 2, "eval: --batch-size must be >= 1 and --seq-len >= 2");
  if (c.threads > 0) set_num_threads(c.threads);
  Model model = load_model(c.model);
  DataOptions options;
  options.format = parse_data_format(c.format);
  options.seq_len = c.seq_len;
  options.prompt_loss_weight = c.prompt_loss_weight;
  options.truncate = c.truncate;
  options.pdf_text = c.pdf_text;
  train::RunData rd = train::load_run_data(c.model, c.tokenizer, c.data, {}, options);
  // Without an adapter: a rank-1 LoRA whose B is zero adds exactly nothing, so this is the base model.
  LoraAdapter adapter;
  if (!c.adapter.empty()) {
    adapter = load_peft_adapter(c.adapter, model.config);
  } else {
    LoraConfig lc;
    lc.rank = 1;
    lc.targets = {"q_proj"};
    lc.layers = {0};
    adapter = init_lora(model.config, lc, 0);
  }
  Trainable t = Trainable::lora(std::move(model), std::move(adapter));
  BatchOptions bo;
  bo.seq_len = c.seq_len;
  bo.n_row = c.batch_size;
  bo.pack = c.packing;
  bo.shuffle = false;
  BatchIterator batches(rd.data.train, bo);
  LossSum s = train::evaluate_samples(t, batches, 0, [&](int64_t done, int64_t total, const LossSum& sum) {
    if (c.on_progress) c.on_progress(done, total, sum.weight > 0 ? sum.loss / sum.weight : 0.0);
  });
  check(s.weight > 0, "eval: the data has no tokens to predict");
  EvalResult r;
  r.loss = s.loss / s.weight;
  r.perplexity = std::exp(r.loss);
  r.n_samples = int64_t(rd.data.train.size());
  r.weight = s.weight;
  return r;
}

}  // namespace tunekit
