// libFuzzer target: training datasets (train/data.h load_dataset on a .jsonl file, then packing; the
// same bytes again as a .json file, which may hold an array of records). The input's first byte
// picks the options (format, skip_bad_lines, truncate, packing); the rest is the file. tunekit::Error is the expected answer to bad input; anything else (a crash, a sanitizer
// report, another exception, a hang) is a bug. Accepted samples must pack into batches whose tokens
// and targets stay in the vocabulary. Tokenizer and chat template: TinyLlama's from ../shared
// (TUNEKIT_SHARED overrides); without them the target says so and exits.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "tunekit/error.h"
#include "tunekit/tokenizer/chat_template.h"
#include "tunekit/tokenizer/tokenizer.h"
#include "tunekit/train/data.h"

using namespace tunekit;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<Tokenizer> g_tok;
std::optional<ChatTemplate> g_chat;
fs::path g_jsonl, g_json;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("TUNEKIT_SHARED");
  fs::path dir = fs::path(env ? env : "../shared") / "tokenizers/tinyllama-1.1b-chat";
  if (!fs::exists(dir)) {
    std::fprintf(stderr, "fuzz_dataset_jsonl: %s is absent (set TUNEKIT_SHARED to the shared/ folder)\n",
                 dir.c_str());
    std::exit(2);
  }
  g_tok = load_tokenizer(dir);
  g_chat = ChatTemplate::parse(*find_chat_template(dir), "tinyllama");
  const fs::path stem = fs::temp_directory_path() / ("fuzz_dataset." + std::to_string(getpid()));
  g_jsonl = stem.string() + ".jsonl";
  g_json = stem.string() + ".json";
  return 0;
}

namespace {

// Loads file with the options knobs picks and packs what it accepts; aborts on a batch that leaves
// the vocabulary or a segment start after its token.
void load_and_pack(const fs::path& file, uint8_t knobs) {
  DataOptions opt;
  constexpr DataFormat kFormats[] = {DataFormat::Auto, DataFormat::Text, DataFormat::PromptCompletion,
                                     DataFormat::Messages, DataFormat::Alpaca};
  opt.format = kFormats[(knobs & 7) % 5];
  opt.skip_bad_lines = knobs & 8;
  opt.truncate = knobs & 16;
  opt.seq_len = 64;
  opt.val_fraction = (knobs & 32) ? 0.25 : 0.0;
  Dataset ds;
  try {
    ds = load_dataset({file}, {}, *g_tok, (knobs & 64) ? nullptr : &*g_chat, opt);
  } catch (const Error&) {
    return;
  }
  BatchOptions bo;
  bo.seq_len = opt.seq_len;
  bo.n_row = 2;
  bo.pack = !(knobs & 128);
  const int64_t n_vocab = g_tok->vocab_size();
  Batch b;
  std::optional<BatchIterator> it;
  try {
    it.emplace(ds.train, bo);  // Error when the validation split took every sample
  } catch (const Error&) {
    return;
  }
  for (int64_t i = 0, n = it->batches_in_epoch(0); i < n; ++i) {
    it->next(b);
    for (int64_t t = 0; t < b.size(); ++t)
      if (b.tokens[size_t(t)] < 0 || b.tokens[size_t(t)] >= n_vocab || b.targets[size_t(t)] >= n_vocab ||
          b.seg_start[size_t(t)] > t)
        std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  for (const fs::path& file : {g_jsonl, g_json}) {
    std::ofstream(file, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data + 1),
                                                                std::streamsize(size - 1));
    load_and_pack(file, data[0]);
  }
  return 0;
}
