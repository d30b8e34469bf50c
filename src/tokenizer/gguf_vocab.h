// GgufVocab: what a tokenizer needs to write itself as llama.cpp's tokenizer.ggml.* metadata
// (Tokenizer::write_gguf). Each loader fills it in the form llama.cpp expects for the model kind.
#pragma once
#include <string>
#include <vector>

#include "tokenizer/vocab.h"

namespace tunekit {

class GgufWriter;

struct GgufVocab {
  std::string model;                 // "llama" (SentencePiece), "gpt2" (byte-level BPE), "bert"
  std::string pre = "default";       // tokenizer.ggml.pre for gpt2
  std::vector<std::string> tokens;   // tokens as GGUF spells them; empty: the vocabulary's own
  std::vector<float> scores;         // llama: merge priority per token
  std::vector<std::string> merges;   // gpt2: "left right", best first
  bool add_space_prefix = true;      // llama
};

// Writes tokenizer.ggml.{model,pre,tokens,scores,token_type,merges}, the role ids and the
// add_bos/add_eos flags.
void write_gguf_vocab(const Vocab& vocab, const GgufVocab& g, bool add_bos, bool add_eos, GgufWriter& out);

// llama.cpp's "phantom space" spelling of a WordPiece vocabulary: "##x" -> "x", a word start
// "x" -> "▁x", bracketed specials ([CLS]) unchanged.
std::vector<std::string> phantom_space_tokens(const Vocab& vocab);

}  // namespace tunekit
