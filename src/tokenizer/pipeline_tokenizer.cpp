#include "tokenizer/pipeline_tokenizer.h"

#include "tunekit/error.h"

namespace tunekit {

PipelineTokenizer::PipelineTokenizer(TokenizerParts parts) : parts_(std::move(parts)) {
  check(parts_.model != nullptr, "tokenizer: no model");
}

std::vector<int32_t> PipelineTokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> ids;
  if (add_special) ids = parts_.prefix_ids;
  for (const AddedTokens::Piece& piece : parts_.added.split(text)) {
    if (piece.id >= 0) {
      ids.push_back(piece.id);
      continue;
    }
    std::string normalized = parts_.normalizer.apply(piece.text);
    if (normalized.empty()) continue;
    for (const std::string& word : parts_.pre_tokenizer.split(std::move(normalized), piece.offset == 0))
      parts_.model->encode_word(word, ids);
  }
  if (add_special) ids.insert(ids.end(), parts_.suffix_ids.begin(), parts_.suffix_ids.end());
  return ids;
}

std::string PipelineTokenizer::decode(const std::vector<int32_t>& ids, bool keep_special) const {
  const Vocab& v = *parts_.vocab;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    check(v.valid(id), "decode: token id ", id, " is outside the vocabulary (", v.size(), " tokens)");
    if (!keep_special && v.is_special(id)) continue;
    tokens.push_back(v.text(id));
  }
  return parts_.decoder.decode(std::move(tokens));
}

std::string PipelineTokenizer::id_to_token(int32_t id) const {
  check(parts_.vocab->valid(id), "id_to_token: token id ", id, " is outside the vocabulary (", parts_.vocab->size(),
        " tokens)");
  return parts_.vocab->text(id);
}

std::string role_token_text(const Vocab& vocab, int32_t id) {
  if (!vocab.valid(id)) return "";
  const std::string& t = vocab.text(id);
  const size_t begin = t.find_first_not_of(" \t\n\r");
  if (begin == std::string::npos) return t;
  return t.substr(begin, t.find_last_not_of(" \t\n\r") - begin + 1);
}

std::string PipelineTokenizer::bos_token() const { return role_token_text(*parts_.vocab, parts_.vocab->bos); }
std::string PipelineTokenizer::eos_token() const { return role_token_text(*parts_.vocab, parts_.vocab->eos); }

void PipelineTokenizer::write_gguf(GgufWriter& out) const {
  write_gguf_vocab(*parts_.vocab, parts_.gguf, !parts_.prefix_ids.empty(), !parts_.suffix_ids.empty(), out);
}

}  // namespace tunekit
