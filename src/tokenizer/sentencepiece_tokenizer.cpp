// SentencePiece .model through libsentencepiece: the library encodes each stretch of text between
// control tokens (which it would otherwise spell out); decoding uses our Decoder so byte pieces give
// raw bytes, as the other formats do.
#include <sentencepiece_processor.h>

#include "tokenizer/added_tokens.h"
#include "tokenizer/decoder.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/loaders.h"
#include "tokenizer/pipeline_tokenizer.h"
#include "tunekit/error.h"

namespace tunekit {

namespace {

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::filesystem::path& path) : name_(path.string()) {
    const auto status = sp_.Load(path.string());
    check(status.ok(), name_, ": cannot load the SentencePiece model: ", status.ToString());
    for (int id = 0; id < sp_.GetPieceSize(); ++id) {
      const TokenKind kind = sp_.IsUnknown(id)   ? TokenKind::Unknown
                             : sp_.IsControl(id) ? TokenKind::Control
                             : sp_.IsByte(id)    ? TokenKind::Byte
                                                 : TokenKind::Normal;
      vocab_.set(id, sp_.IdToPiece(id), kind);
      gguf_.scores.push_back(sp_.GetScore(id));
      if (kind == TokenKind::Control) controls_.add({sp_.IdToPiece(id), id});
    }
    vocab_.bos = sp_.bos_id();
    vocab_.eos = sp_.eos_id();
    vocab_.unk = sp_.unk_id();
    vocab_.pad = sp_.pad_id();
    // The model adds a dummy prefix when "a" encodes to a piece starting with "▁".
    std::vector<std::string> pieces;
    const bool dummy_prefix = sp_.Encode("a", &pieces).ok() && !pieces.empty() && pieces[0].rfind("\u2581", 0) == 0;
    gguf_.model = "llama";
    gguf_.add_space_prefix = dummy_prefix;
    decoder_.add(decoders::replace("\u2581", " "));
    decoder_.add(decoders::byte_fallback());
    decoder_.add(decoders::fuse());
    if (dummy_prefix) decoder_.add(decoders::strip(" ", 1, 0));
  }

  std::vector<int32_t> encode(std::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    if (add_special && vocab_.bos >= 0) ids.push_back(vocab_.bos);
    std::vector<int> part;
    for (const AddedTokens::Piece& piece : controls_.split(text)) {
      if (piece.id >= 0) {
        ids.push_back(piece.id);
        continue;
      }
      const auto status = sp_.Encode(std::string(piece.text), &part);
      check(status.ok(), name_, ": SentencePiece encode failed: ", status.ToString());
      ids.insert(ids.end(), part.begin(), part.end());
    }
    return ids;
  }

  std::string decode(const std::vector<int32_t>& ids, bool keep_special) const override {
    std::vector<std::string> tokens;
    for (int32_t id : ids) {
      check(vocab_.valid(id), "decode: token id ", id, " is outside the vocabulary (", vocab_.size(), " tokens)");
      if (keep_special || !vocab_.is_special(id)) tokens.push_back(vocab_.text(id));
    }
    return decoder_.decode(std::move(tokens));
  }

  int32_t vocab_size() const override { return vocab_.size(); }
  int32_t bos_id() const override { return vocab_.bos; }
  int32_t eos_id() const override { return vocab_.eos; }
  std::vector<int32_t> stop_ids() const override { return vocab_.stop_ids(); }
  std::string id_to_token(int32_t id) const override {
    check(vocab_.valid(id), "id_to_token: token id ", id, " is outside the vocabulary (", vocab_.size(), " tokens)");
    return vocab_.text(id);
  }
  std::string bos_token() const override { return role_token_text(vocab_, vocab_.bos); }
  std::string eos_token() const override { return role_token_text(vocab_, vocab_.eos); }
  void write_gguf(GgufWriter& out) const override { write_gguf_vocab(vocab_, gguf_, vocab_.bos >= 0, false, out); }

 private:
  std::string name_;
  sentencepiece::SentencePieceProcessor sp_;
  Vocab vocab_;
  AddedTokens controls_;
  Decoder decoder_;
  GgufVocab gguf_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_file(const std::filesystem::path& path) {
  check(std::filesystem::is_regular_file(path), path.string(), ": no such file");
  return std::make_unique<SentencePieceTokenizer>(path);
}

}  // namespace tunekit
