// Vocab: the token strings of a tokenizer, their kinds, the text -> id index and the ids with a role
// (BOS, EOS, UNK, ...). Every format's loader fills one; the models and decoders read it.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tunekit {

enum class TokenKind : uint8_t {
  Normal,
  Control,      // special (BOS, EOS, <|im_end|>, [CLS]): matched in text, dropped by decode
  UserDefined,  // added but not special: matched in text before the model, kept by decode
  Unknown,      // the UNK token (treated as special)
  Byte,         // <0xNN> byte fallback token
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Vocab {
 public:
  // Sets token id to text (growing the table as needed); a text seen twice keeps its first id.
  void set(int32_t id, std::string text, TokenKind kind = TokenKind::Normal);
  void set_kind(int32_t id, TokenKind kind);

  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < size(); }
  const std::string& text(int32_t id) const { return tokens_[id]; }
  TokenKind kind(int32_t id) const { return kinds_[id]; }
  bool is_special(int32_t id) const { return kinds_[id] == TokenKind::Control || kinds_[id] == TokenKind::Unknown; }
  int32_t find(std::string_view text) const;  // -1 where absent
  int32_t byte_token(unsigned char b) const { return byte_tokens_[b]; }  // the <0xNN> id, or -1
  size_t max_token_bytes() const { return max_token_bytes_; }

  // Finds the <0xNN> tokens (after all tokens are set); returns false when some byte has none.
  bool index_byte_tokens();
  // Ids whose text is one of the usual end-of-turn markers, plus eos; for Tokenizer::stop_ids().
  std::vector<int32_t> stop_ids() const;

  int32_t bos = -1, eos = -1, unk = -1, pad = -1;

 private:
  std::vector<std::string> tokens_;
  std::vector<TokenKind> kinds_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_;
  std::array<int32_t, 256> byte_tokens_{};
  size_t max_token_bytes_ = 0;
};

}  // namespace tunekit
