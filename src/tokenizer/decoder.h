// Decoder: turns the token strings of a sequence back into text (HF "decoder" steps). Each step
// rewrites the list of token strings; decode() joins what is left. Byte tokens give raw bytes (no
// U+FFFD substitution), so decode(encode(s)) == s for lossless tokenizers and a stream can hold back
// an incomplete UTF-8 character.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace tunekit {

using DecodeStep = std::function<void(std::vector<std::string>& tokens)>;

class Decoder {
 public:
  void add(DecodeStep step) { steps_.push_back(std::move(step)); }
  std::string decode(std::vector<std::string> tokens) const;

 private:
  std::vector<DecodeStep> steps_;
};

namespace decoders {

DecodeStep byte_level();                                  // GPT-2 characters -> bytes
DecodeStep replace(std::string pattern, std::string content);  // literal, in each token
DecodeStep byte_fallback();                               // <0xNN> -> the byte
DecodeStep fuse();                                        // all tokens -> one
DecodeStep strip(std::string content, size_t start, size_t stop);  // per token, up to start/stop copies
// SentencePiece: replacement -> ' ', and the first token loses one leading space when add_prefix.
DecodeStep metaspace(std::string replacement, bool add_prefix);
// WordPiece: tokens after the first are joined with ' ' unless they start with prefix (which is
// removed); cleanup removes the spaces BERT puts before punctuation and in contractions.
DecodeStep wordpiece(std::string prefix, bool cleanup);
DecodeStep bpe_suffix(std::string suffix);
DecodeStep clean_up_spaces();  // WordPiece's cleanup on its own, per token  // BPEDecoder: suffix -> ' ' (none after the last token)

}  // namespace decoders
}  // namespace tunekit
