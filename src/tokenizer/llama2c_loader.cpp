// llama2.c tokenizer.bin -> PipelineTokenizer. The file has no token count: tokens are read to the
// end and every length is checked against max_token_len and the bytes left. Encoding is llama2.c's
// encode(): a dummy-prefix space, one symbol per UTF-8 character (<0xNN> = id byte+3 where the
// character is not a token), then best-score merges. 0 = <unk>, 1 = BOS, 2 = EOS.
#include <cstring>

#include "tokenizer/loaders.h"
#include "tokenizer/pipeline_tokenizer.h"
#include "tokenizer/score_merge_model.h"
#include "tunekit/error.h"
#include "tunekit/io/mapped_file.h"

namespace tunekit {

namespace {

constexpr int32_t kMaxTokenLen = 1 << 16;

template <class T>
T read_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

std::unique_ptr<Tokenizer> parse_llama2c(const uint8_t* data, size_t size, const std::string& name) {
  check(size >= 4, name, ": too short for a llama2.c tokenizer (", size, " bytes)");
  const int32_t max_len = read_le<int32_t>(data);
  check(max_len > 0 && max_len <= kMaxTokenLen, name, ": max_token_len is ", max_len, " (expected 1..", kMaxTokenLen,
        "); hint: is this a llama2.c tokenizer.bin?");
  TokenizerParts parts;
  Vocab& vocab = *parts.vocab;
  std::vector<float> scores;
  size_t pos = 4;
  while (pos < size) {
    const int32_t id = static_cast<int32_t>(scores.size());
    check(size - pos >= 8, name, ": token ", id, " is truncated at byte ", pos, " (", size - pos, " bytes left)");
    const float score = read_le<float>(data + pos);
    const int32_t len = read_le<int32_t>(data + pos + 4);
    pos += 8;
    check(len >= 0 && len <= max_len, name, ": token ", id, " has length ", len, " (max_token_len is ", max_len, ")");
    check(static_cast<size_t>(len) <= size - pos, name, ": token ", id, " needs ", len, " bytes but ", size - pos,
          " are left");
    vocab.set(id, std::string(reinterpret_cast<const char*>(data + pos), len));
    scores.push_back(score);
    pos += len;
  }
  check(vocab.size() >= 3, name, ": only ", vocab.size(), " tokens (a llama2.c vocabulary starts <unk>, BOS, EOS)");
  vocab.unk = 0;
  vocab.bos = 1;
  vocab.eos = 2;
  vocab.set_kind(0, TokenKind::Unknown);
  vocab.set_kind(1, TokenKind::Control);
  vocab.set_kind(2, TokenKind::Control);
  vocab.index_byte_tokens();
  for (int b = 0; b < 256; ++b)
    if (vocab.byte_token(b) >= 0) vocab.set_kind(vocab.byte_token(b), TokenKind::Byte);

  // GGUF spells it as llama.cpp's SentencePiece vocabulary: "▁" for spaces, plain <s> and </s>.
  parts.gguf.model = "llama";
  parts.gguf.scores = scores;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    std::string t = id == 1 ? "<s>" : id == 2 ? "</s>" : vocab.text(id);
    if (vocab.kind(id) == TokenKind::Normal)
      for (size_t p = t.find(' '); p != std::string::npos; p = t.find(' ', p + 3)) t.replace(p, 1, "\u2581");
    parts.gguf.tokens.push_back(std::move(t));
  }
  parts.normalizer.add(normalizers::prepend(" "));
  parts.model = std::make_unique<ScoreMergeModel>(parts.vocab, std::move(scores));
  parts.decoder.add(decoders::byte_fallback());
  parts.decoder.add(decoders::fuse());
  parts.decoder.add(decoders::strip(" ", 1, 0));
  parts.prefix_ids = {vocab.bos};
  return std::make_unique<PipelineTokenizer>(std::move(parts));
}

std::unique_ptr<Tokenizer> load_llama2c_file(const std::filesystem::path& path) {
  const auto file = MappedFile::open(path);
  return parse_llama2c(file->data(), file->size(), path.string());
}

}  // namespace tunekit
