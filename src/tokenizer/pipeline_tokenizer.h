// PipelineTokenizer: the Tokenizer every in-house format becomes (HF tokenizer.json, GGUF
// vocabularies, llama2.c tokenizer.bin): added tokens -> normalizer -> pre-tokenizer -> model ->
// post-processor on the way in; token strings -> decoder on the way out.
#pragma once
#include <memory>

#include "tokenizer/added_tokens.h"
#include "tokenizer/decoder.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/token_model.h"
#include "tokenizer/vocab.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {

struct TokenizerParts {
  std::shared_ptr<Vocab> vocab = std::make_shared<Vocab>();
  AddedTokens added;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::unique_ptr<TokenModel> model;
  Decoder decoder;
  std::vector<int32_t> prefix_ids, suffix_ids;  // what add_special puts around the text
  GgufVocab gguf;                               // how write_gguf spells this tokenizer
};

class PipelineTokenizer : public Tokenizer {
 public:
  explicit PipelineTokenizer(TokenizerParts parts);

  std::vector<int32_t> encode(std::string_view text, bool add_special) const override;
  std::string decode(const std::vector<int32_t>& ids, bool keep_special = false) const override;
  int32_t vocab_size() const override { return parts_.vocab->size(); }
  int32_t bos_id() const override { return parts_.vocab->bos; }
  int32_t eos_id() const override { return parts_.vocab->eos; }
  std::vector<int32_t> stop_ids() const override { return parts_.vocab->stop_ids(); }
  std::string id_to_token(int32_t id) const override;
  std::string bos_token() const override;
  std::string eos_token() const override;
  void write_gguf(GgufWriter& out) const override;

 private:
  TokenizerParts parts_;
};

// The text of a BOS/EOS token for chat templates: "" for id -1; surrounding whitespace trimmed
// (llama2.c stores BOS as "\n<s>\n").
std::string role_token_text(const Vocab& vocab, int32_t id);

}  // namespace tunekit
