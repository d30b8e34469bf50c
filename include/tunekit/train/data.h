// Training data: JSONL datasets in the formats TRL and Axolotl users already have, and raw documents,
// turned into token samples with a per-token loss weight, then packed into micro-batches (Batch).
//
//   files (.jsonl / .json / .txt / .md / .pdf / folders) -> load_dataset -> Dataset{train, val} of Sample
//   Sample[] -> BatchIterator (seeded shuffle per epoch, first-fit packing) -> Batch[n_row, seq_len]
//
// Formats (one per .jsonl or .json file, detected from the first record's keys unless
// DataOptions::format says; a .json file is an array of records, one record, or JSON Lines):
//   text               {"text": "..."}                         every token weight 1 (plain LM)
//   prompt_completion  {"prompt": "...", "completion": "..."}  prompt tokens: prompt_loss_weight,
//                      completion (appended verbatim to the prompt) and EOS: 1. Conversational TRL
//                      records (prompt and completion both lists of messages) go through the chat
//                      template; only the completion's assistant turns get weight 1.
//   messages           {"messages": [{"role": ..., "content": ...}, ...]} (also Axolotl/ShareGPT
//                      {"conversations": [{"from": "human"|"gpt"|"system", "value": ...}]}), rendered
//                      with the chat template; assistant content and its end-of-turn token: 1,
//                      everything else: prompt_loss_weight. A record's "tools" reach the template.
//   alpaca             {"instruction", "input" (optional), "output"}: prompt = instruction (+ "\n\n" +
//                      input) as a user turn of the chat template, or the classic Alpaca text prompt
//                      when there is no template; output is the completion.
//   raw                .txt / .md / .markdown documents, and .pdf ones when DataOptions::pdf_text is
//                      set (their pages' text): tokenized whole, cut into samples of at most seq_len
//                      tokens that overlap by one token (every token is predicted exactly once).
// BOS is prepended where the tokenizer's own encode(text, add_special=true) would (unless the
// rendered chat text already starts with it); EOS follows each completion, text and document.
// docs/datasets.md has examples of every format, option and error.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tunekit/train/batch.h"

namespace tunekit {

class Tokenizer;
class ChatTemplate;

enum class DataFormat { Auto, Text, PromptCompletion, Messages, Alpaca, Raw };
// "auto", "text", "prompt_completion", "messages", "alpaca", "raw"; Error for anything else.
DataFormat parse_data_format(const std::string& name);
const char* data_format_name(DataFormat format);

// The text of a document file the train layer cannot parse itself (PDF: rag's reader, which sits
// above this layer, so the caller passes it in). Throws Error naming the file for a bad one.
using DocumentTextReader = std::function<std::string(const std::filesystem::path&)>;

struct DataOptions {
  DataFormat format = DataFormat::Auto;  // forces the format of every .jsonl file
  int64_t seq_len = 2048;                // longest sample, in tokens (>= 2)
  double prompt_loss_weight = 0.1;       // in [0, 1]: 0 = completion only, 1 = prompt as completion
  bool skip_bad_lines = false;           // skip (and count) malformed records instead of failing
  bool truncate = false;                 // cut samples longer than seq_len (and count) instead of failing
  double val_fraction = 0.0;             // in [0, 1): share of samples split off for validation
  uint64_t seed = 0;                     // the validation split's shuffle
  DocumentTextReader pdf_text;           // reads .pdf files as raw documents; unset: .pdf is refused
};

struct Sample {
  std::vector<int32_t> tokens;  // [n] token ids, n >= 2
  std::vector<float> weights;   // [n] weights[i]: loss weight of predicting tokens[i] from tokens[<i]
                                //   (weights[0] is never used: nothing predicts the first token)
  std::string source;           // "file:line" (raw documents: "file:chunk k", k from 1)
};

struct Dataset {
  std::vector<Sample> train, val;
  std::vector<std::string> skipped;  // one "file:line: problem" per record skipped (skip_bad_lines)
  int64_t n_truncated = 0;           // samples cut to seq_len (truncate)
};

// Reads every path (a .jsonl, .json, .txt, .md, .markdown or, with pdf_text, .pdf file, or a
// folder: its files of those kinds but .json, recursively, in path order) into samples. val_paths, when given, is the validation set; otherwise val_fraction of
// the train samples is split off (a std::mt19937_64(seed) Fisher-Yates shuffle of the sample indices;
// both parts keep file order). chat may be null where the model has no template (messages records
// are then an Error; alpaca uses the text prompt). Throws Error, before any training work, naming
// "file:line" and the problem for malformed records (unless skip_bad_lines), samples longer than
// seq_len (unless truncate), and an empty dataset.
Dataset load_dataset(const std::vector<std::filesystem::path>& train_paths,
                     const std::vector<std::filesystem::path>& val_paths, const Tokenizer& tok,
                     const ChatTemplate* chat, const DataOptions& options);

struct BatchOptions {
  int64_t seq_len = 2048;  // row length; no sample may be longer
  int64_t n_row = 1;       // rows per micro-batch
  bool pack = true;        // first-fit several samples per row; false: one sample per row, padded
  bool shuffle = true;     // a fresh seeded order each epoch; false: file order every epoch
  uint64_t seed = 0;
};

// Where an iterator stands: the next micro-batch is number `index` of epoch `epoch` (both from 0).
// Two integers to keep in a checkpoint; restore() puts an iterator over the same samples and
// options back there exactly.
struct BatchPosition {
  int64_t epoch = 0, index = 0;
  bool operator==(const BatchPosition&) const = default;
};

// Micro-batches over a sample list, epoch after epoch. Each epoch shuffles the samples with a seed
// derived from (seed, epoch), packs them first-fit into rows of seq_len tokens in that order (a
// sample goes into the first row with room for it) and hands out the rows n_row at a time; the last
// micro-batch of an epoch is filled up with empty rows, so every Batch has the same shape.
// In a row: positions restart at 0 for each sample, seg_start is the flat index of the sample's
// first token, targets[j] = the next token of the same sample and weights[j] = that token's sample
// weight; the last token of a sample and padding have target -1 and weight 0. Padding tokens are
// id 0 at position 0 with seg_start = their own index.
class BatchIterator {
 public:
  // Keeps a reference to samples: they must outlive the iterator. Error for a sample longer than
  // seq_len, an empty list, or bad options.
  BatchIterator(const std::vector<Sample>& samples, const BatchOptions& options);

  // Fills batch (resized to [n_row, seq_len]) with the micro-batch at position() and moves on
  // (to the next epoch after the last one of an epoch).
  void next(Batch& batch);

  BatchPosition position() const { return pos_; }
  // Error when index is past the end of that epoch.
  void restore(const BatchPosition& position);
  int64_t batches_in_epoch(int64_t epoch);  // differs between epochs when packing
  // A hash of the samples and options: store it beside position() and compare before restore().
  uint64_t fingerprint() const;

 private:
  void plan_epoch(int64_t epoch);

  const std::vector<Sample>& samples_;
  BatchOptions options_;
  BatchPosition pos_;
  int64_t planned_epoch_ = -1;
  std::vector<int64_t> row_begin_;  // [n_rows + 1] offsets into row_samples_
  std::vector<int64_t> row_samples_;  // sample indices, row after row, in placement order
};

}  // namespace tunekit
