// The pieces run_training and run_evaluation share: loading the tokenizer and data for a model,
// building what is trained, measuring a loss over samples, and writing the outputs a user keeps.
#pragma once
#include <functional>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tunekit/tokenizer/chat_template.h"
#include "tunekit/tokenizer/tokenizer.h"
#include "tunekit/train/data.h"
#include "tunekit/train/trainable.h"
#include "tunekit/train/trainer.h"

namespace tunekit::train {

struct RunData {
  std::unique_ptr<Tokenizer> tok;
  std::optional<ChatTemplate> chat;  // the model's template, where it has one
  Dataset data;
};
// The model's tokenizer (tokenizer overrides), its chat template and the dataset.
RunData load_run_data(const std::string& model, const std::string& tokenizer, const std::vector<std::string>& data,
                      const std::vector<std::string>& val_data, const DataOptions& options);

// A LoRA adapter (init_lora from the config, validated against the model) or every weight.
Trainable make_trainable(Model model, const TrainConfig& c);

// Σ w·CE over one pass of samples in micro-batches (at most max_batches; 0: all). Forward only.
// on_batch (optional) gets the micro-batches done, their count and the running sum after each one.
LossSum evaluate_samples(Trainable& t, BatchIterator& batches, int64_t max_batches,
                         const std::function<void(int64_t done, int64_t total, const LossSum& sum)>& on_batch = {});

// The adapter as a PEFT folder (LoRA) or the model as an HF folder with the tokenizer files (full),
// written to dir as a whole (train/checkpoint_folder.h).
void save_trained(const Trainable& t, const TrainConfig& c, const std::filesystem::path& dir);

}  // namespace tunekit::train
