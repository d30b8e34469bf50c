// AddedTokens: tokens matched in the raw text before normalization and the model (special tokens
// such as <|im_start|>, and user-defined ones). At each position the longest token wins (leftmost,
// then longest, as HF's added vocabulary matches); lstrip/rstrip swallow the whitespace beside it.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tunekit {

struct AddedToken {
  std::string text;
  int32_t id = -1;
  bool lstrip = false;
  bool rstrip = false;
};

class AddedTokens {
 public:
  void add(AddedToken token);  // empty texts are ignored
  bool empty() const { return tokens_.empty(); }

  struct Piece {
    std::string_view text;  // the raw text (when id < 0)
    int32_t id = -1;        // the matched token
    size_t offset = 0;      // where the piece starts in the input
  };
  // The text cut into raw stretches and matched tokens, in order; raw stretches are never empty.
  std::vector<Piece> split(std::string_view text) const;

 private:
  const AddedToken* match_at(std::string_view text, size_t pos) const;
  std::vector<AddedToken> tokens_;
  std::array<std::vector<size_t>, 256> by_first_byte_;  // indices into tokens_, longest first
};

}  // namespace tunekit
