// A knowledge base that tunekit serve answers from (`--kb NAME=DIR`): the store, its dense side
// where the base has a vector index and its sentence encoder loads, and a Retriever over them.
// Requests retrieve in hybrid mode (BM25 + dense, fused by reciprocal rank) when the dense side is
// there, else with BM25 alone.
//
// Safe to use from several HTTP threads at once: the store serialises its one SQLite connection
// under its own mutex, and the encoder and the HNSW index are only read.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "tunekit/rag/retriever.h"
#include "tunekit/rag/vector_index.h"

namespace tunekit::server {

class ServedKnowledgeBase {
 public:
  // Opens dir; an Error when there is no knowledge base there or its vector index is corrupt. A
  // missing index or encoder is no Error: retrieval is BM25 and warning() says why.
  explicit ServedKnowledgeBase(const std::filesystem::path& dir);

  const rag::KnowledgeBase& kb() const { return *kb_; }
  const rag::Retriever& retriever() const { return *retriever_; }
  const rag::SentenceEncoder* encoder() const { return dense_.encoder.get(); }  // null: BM25 alone
  rag::RetrievalMode mode() const { return encoder() ? rag::RetrievalMode::Hybrid : rag::RetrievalMode::Bm25; }
  const std::string& warning() const { return dense_.warning; }  // about the dense side; "" when all is well

 private:
  std::unique_ptr<rag::KnowledgeBase> kb_;
  rag::DenseSide dense_;
  std::unique_ptr<rag::Retriever> retriever_;
};

}  // namespace tunekit::server
