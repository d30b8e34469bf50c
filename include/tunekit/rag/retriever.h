// Retrieval over a knowledge base: BM25 (the store's FTS5 index), dense (sentence encoder + HNSW
// vector index), or hybrid (both lists fused by reciprocal rank). Multi-query retrieval fuses the
// hits of several phrasings of one question the same way.
//
// Reciprocal rank fusion (Cormack et al. 2009): a chunk at 1-based rank r in a list earns
// 1 / (rrf_k + r) from that list; its fused score is the sum over the lists it appears in.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tunekit/rag/encoder.h"
#include "tunekit/rag/store.h"

namespace tunekit::rag {

class VectorIndex;  // rag/vector_index.h

enum class RetrievalMode { Bm25, Dense, Hybrid };

// "bm25" | "dense" | "hybrid" (case-sensitive); anything else is an Error listing the three.
RetrievalMode parse_retrieval_mode(std::string_view name);
// "bm25,hybrid" -> {Bm25, Hybrid}; empty items and unknown names are Errors.
std::vector<RetrievalMode> parse_retrieval_modes(std::string_view comma_separated);
const char* retrieval_mode_name(RetrievalMode mode);

struct RetrieveOptions {
  RetrievalMode mode = RetrievalMode::Hybrid;
  int64_t k = 5;            // hits returned
  int64_t candidates = 50;  // hits taken from each list before fusion (at least k)
  int64_t rrf_k = 60;       // the RRF constant
};

struct RetrievalResult {
  std::vector<Hit> hits;     // best first, at most k
  RetrievalMode mode_used;   // Bm25 where Hybrid was asked for without an encoder or index
  std::string warning;       // why mode_used differs from the mode asked for; empty otherwise
};

class Retriever {
 public:
  // encoder and index may both be null (BM25 only); they must be both set or both null, and of the
  // same dimension. None is owned; all must outlive the Retriever.
  Retriever(const KnowledgeBase& kb, const SentenceEncoder* encoder, const VectorIndex* index);

  bool has_dense() const { return encoder_ != nullptr; }

  // Dense without an encoder is an Error (the caller asked for it explicitly); Hybrid without one
  // falls back to BM25 and says so in RetrievalResult::warning.
  RetrievalResult retrieve(std::string_view query, const RetrieveOptions& options) const;
  // Several phrasings of one question: each is retrieved with options.candidates hits, and the
  // lists are fused by RRF into options.k hits. Empty queries are skipped.
  RetrievalResult retrieve_multi(const std::vector<std::string>& queries, const RetrieveOptions& options) const;

  // The hits alone.
  std::vector<Hit> search(std::string_view query, const RetrieveOptions& options) const {
    return retrieve(query, options).hits;
  }

 private:
  std::vector<Hit> dense_hits(std::string_view query, int64_t k) const;

  const KnowledgeBase& kb_;
  const SentenceEncoder* encoder_;
  const VectorIndex* index_;
};

// Fuses ranked lists (each best first) by reciprocal rank into at most k hits, best first; ties are
// broken by the smaller chunk id. A chunk repeated within one list counts at its first position
// only (the positions after it keep their ranks).
std::vector<Hit> fuse_rrf(const std::vector<std::vector<Hit>>& lists, int64_t k, int64_t rrf_k = 60);

}  // namespace tunekit::rag
