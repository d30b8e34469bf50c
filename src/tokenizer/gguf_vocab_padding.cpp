// write_gguf_vocab_for_model: a tokenizer's GGUF vocabulary sized to the model's embedding.
#include "tunekit/error.h"
#include "tunekit/io/gguf.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {

namespace {

constexpr int64_t kTokenTypeUnused = 5;  // llama.cpp's LLAMA_TOKEN_TYPE_UNUSED
constexpr double kPadScore = -1000.0;    // llama.cpp's converter scores padding this low

}  // namespace

void write_gguf_vocab_for_model(const Tokenizer& tok, GgufWriter& out, int64_t n_vocab) {
  const int64_t n_tok = tok.vocab_size();
  check(n_tok <= n_vocab, "the tokenizer has ", n_tok, " tokens but the model's embedding only ", n_vocab,
        " rows; pass the tokenizer that belongs to this model (--tokenizer)");
  tok.write_gguf(out);
  if (n_tok == n_vocab) return;
  GgufValue tokens = *out.find("tokenizer.ggml.tokens");
  for (int64_t id = n_tok; id < n_vocab; ++id) tokens.strings.push_back("[PAD" + std::to_string(id) + "]");
  out.set("tokenizer.ggml.tokens", tokens);
  if (const GgufValue* types = out.find("tokenizer.ggml.token_type")) {
    GgufValue padded = *types;
    padded.ints.resize(n_vocab, kTokenTypeUnused);
    out.set("tokenizer.ggml.token_type", padded);
  }
  if (const GgufValue* scores = out.find("tokenizer.ggml.scores")) {
    GgufValue padded = *scores;
    padded.floats.resize(n_vocab, kPadScore);
    out.set("tokenizer.ggml.scores", padded);
  }
}

}  // namespace tunekit
