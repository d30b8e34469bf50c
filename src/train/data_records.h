// Inside the data pipeline (train/data.h): one record -> one Sample. SampleEncoder tokenizes and
// weights the pieces each format is made of; record_to_sample checks a JSONL record's keys and types
// and picks the encoder call. Errors here carry no file:line; the loader adds it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunekit/train/data.h"

namespace tunekit {

class SampleEncoder {
 public:
  SampleEncoder(const Tokenizer& tok, const ChatTemplate* chat, double prompt_loss_weight);

  // [BOS] text EOS, every weight 1.
  Sample text(std::string_view text) const;
  // [BOS] prompt+completion EOS: prompt tokens prompt_loss_weight, the rest 1. Tokenized as one
  // text; a token that straddles the prompt/completion boundary counts as completion.
  Sample completion(const std::string& prompt, const std::string& completion) const;
  // The chat template's rendering of messages (a JSON list of {"role", "content", ...}) with tools
  // (null for none): content of assistant messages at index >= first_trainable, and the template's
  // tokens after it up to its first stop token (end of turn), weight 1; all else prompt_loss_weight.
  // Error where there is no such assistant message, no template, or the template raises.
  Sample chat(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
              size_t first_trainable) const;
  // [BOS] text EOS for raw documents (no weights: every token is a completion token).
  std::vector<int32_t> document(std::string_view text) const;

  bool has_chat_template() const { return chat_ != nullptr; }

 private:
  std::vector<int32_t> encode(std::string_view text) const;  // no special tokens added
  // Where character `chars` of full_text falls among full_tokens (its encoding): `before` tokens lie
  // wholly before it (the common prefix of encode(full_text[0, chars)) and full_tokens); `touched`
  // adds the token that straddles it, if one does.
  struct Boundary {
    size_t before, touched;
  };
  Boundary token_boundary(const std::string& full_text, size_t chars, const std::vector<int32_t>& full_tokens) const;
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     bool add_generation_prompt) const;
  bool is_stop(int32_t id) const;
  void add_bos(Sample& s) const;  // prepends BOS where the tokenizer adds one and s lacks it

  const Tokenizer& tok_;
  const ChatTemplate* chat_;
  float prompt_weight_;
  bool add_bos_;
  int32_t bos_, eos_;
  std::vector<int32_t> stop_ids_;
};

// The format a record's keys say (messages/conversations, prompt+completion, instruction+output,
// text, in that order); Error listing the keys when none fits.
DataFormat detect_format(const nlohmann::ordered_json& record);

// Checks the record's keys and types for `format` (Auto: detect_format(record); not Raw) and encodes it.
Sample record_to_sample(const nlohmann::ordered_json& record, DataFormat format, const SampleEncoder& encoder);

}  // namespace tunekit
