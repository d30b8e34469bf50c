// Tiny real sentence encoders for tests of the rag layer (retrieval, knowledge bases): random BERT
// weights in sentence-transformers folders written by scripts/ref/make_bert_goldens.py.
//   minilm_mean: 32-dim vectors, mean pooling, tokenizer.json, max_seq_length 24 (all-MiniLM-like)
//   bge_cls:     32-dim vectors, CLS pooling, vocab.txt only, bge's query instruction (bge-like)
// SentenceEncoder::load(test::golden_encoder_dir()) gives an encoder that runs in milliseconds.
#pragma once
#include <filesystem>
#include <string>

#include "test_paths.h"

namespace tunekit::test {

inline std::filesystem::path golden_encoder_dir(const std::string& name = "minilm_mean") {
  return golden_dir() / "bert" / name;
}

}  // namespace tunekit::test
