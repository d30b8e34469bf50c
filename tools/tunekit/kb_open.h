// What `kb search` and `eval retrieval` share: a knowledge base opened for reading with the encoder
// and vector index a retrieval mode needs (none for bm25), and a Retriever over them.
#pragma once
#include <memory>
#include <string>

#include "tunekit/rag/retriever.h"
#include "tunekit/rag/vector_index.h"

namespace tunekit::cli {

class KbSearcher {
 public:
  // Opens kb_dir (an Error when there is no knowledge base there). For modes other than bm25, loads
  // the encoder (encoder_dir, else the base's own) and the vector index: a missing one is an Error
  // for dense and a warning on stderr for hybrid (which then runs as BM25).
  KbSearcher(const std::string& kb_dir, rag::RetrievalMode mode, const std::string& encoder_dir);
  // For several modes at once: loads the dense side when any of them needs it.
  KbSearcher(const std::string& kb_dir, const std::vector<rag::RetrievalMode>& modes, const std::string& encoder_dir);

  const rag::KnowledgeBase& kb() const { return *kb_; }
  const rag::Retriever& retriever() const { return *retriever_; }
  const rag::SentenceEncoder* encoder() const { return dense_.encoder.get(); }  // null for BM25 alone
  // Whether opening printed a warning about the dense side (then a retrieval's own fallback warning
  // says the same thing again and need not be printed).
  bool warned() const { return !dense_.warning.empty(); }

 private:
  std::unique_ptr<rag::KnowledgeBase> kb_;
  rag::DenseSide dense_;
  std::unique_ptr<rag::Retriever> retriever_;
};

// After a change to the base (kb ingest, kb rm): brings its vector index up to date with encoder_flag,
// else with the encoder the base was embedded with; nothing where it has none. One line on stderr.
void sync_vectors_if_embedded(rag::KnowledgeBase& kb, const std::string& encoder_flag);

}  // namespace tunekit::cli
