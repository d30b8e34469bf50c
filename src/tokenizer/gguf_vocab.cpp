#include "tokenizer/gguf_vocab.h"

#include "tunekit/error.h"
#include "tunekit/io/gguf.h"

namespace tunekit {

namespace {

int32_t gguf_token_type(TokenKind kind) {
  switch (kind) {
    case TokenKind::Unknown: return 2;
    case TokenKind::Control: return 3;
    case TokenKind::UserDefined: return 4;
    case TokenKind::Byte: return 6;
    case TokenKind::Normal: break;
  }
  return 1;
}

}  // namespace

void write_gguf_vocab(const Vocab& vocab, const GgufVocab& g, bool add_bos, bool add_eos, GgufWriter& out) {
  const int32_t n = vocab.size();
  check(!g.model.empty(), "write_gguf: this tokenizer has no GGUF form");
  std::vector<std::string> tokens = g.tokens;
  if (tokens.empty())
    for (int32_t id = 0; id < n; ++id) tokens.push_back(vocab.text(id));
  check(tokens.size() == static_cast<size_t>(n), "write_gguf: ", tokens.size(), " token strings for ", n, " tokens");
  std::vector<int32_t> types(n);
  for (int32_t id = 0; id < n; ++id) types[id] = gguf_token_type(vocab.kind(id));

  out.set_string("tokenizer.ggml.model", g.model);
  out.set_string("tokenizer.ggml.pre", g.pre);
  out.set_string_array("tokenizer.ggml.tokens", tokens);
  if (g.model == "llama") {
    check(g.scores.size() == static_cast<size_t>(n), "write_gguf: ", g.scores.size(), " scores for ", n, " tokens");
    out.set_f32_array("tokenizer.ggml.scores", g.scores);
    out.set_bool("tokenizer.ggml.add_space_prefix", g.add_space_prefix);
  }
  out.set_i32_array("tokenizer.ggml.token_type", types);
  if (g.model == "gpt2") out.set_string_array("tokenizer.ggml.merges", g.merges);
  const bool bert = g.model == "bert";
  if (vocab.bos >= 0) out.set_u32(bert ? "tokenizer.ggml.cls_token_id" : "tokenizer.ggml.bos_token_id", vocab.bos);
  if (vocab.eos >= 0) out.set_u32(bert ? "tokenizer.ggml.seperator_token_id" : "tokenizer.ggml.eos_token_id", vocab.eos);
  if (vocab.unk >= 0) out.set_u32("tokenizer.ggml.unknown_token_id", vocab.unk);
  if (vocab.pad >= 0) out.set_u32("tokenizer.ggml.padding_token_id", vocab.pad);
  out.set_bool("tokenizer.ggml.add_bos_token", add_bos);
  out.set_bool("tokenizer.ggml.add_eos_token", add_eos);
}

std::vector<std::string> phantom_space_tokens(const Vocab& vocab) {
  std::vector<std::string> out;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const std::string& t = vocab.text(id);
    if (t.size() >= 2 && t.front() == '[' && t.back() == ']')
      out.push_back(t);
    else if (t.rfind("##", 0) == 0)
      out.push_back(t.substr(2));
    else
      out.push_back("\u2581" + t);
  }
  return out;
}

}  // namespace tunekit
