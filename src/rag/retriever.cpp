#include "tunekit/rag/retriever.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "tunekit/error.h"
#include "tunekit/rag/vector_index.h"

namespace tunekit::rag {

RetrievalMode parse_retrieval_mode(std::string_view name) {
  if (name == "bm25") return RetrievalMode::Bm25;
  if (name == "dense") return RetrievalMode::Dense;
  if (name == "hybrid") return RetrievalMode::Hybrid;
  fail("unknown retrieval mode '", name, "': use bm25, dense or hybrid");
}

std::vector<RetrievalMode> parse_retrieval_modes(std::string_view comma_separated) {
  std::vector<RetrievalMode> modes;
  size_t start = 0;
  while (true) {
    size_t comma = comma_separated.find(',', start);
    std::string_view item = comma_separated.substr(start, comma == std::string_view::npos ? comma : comma - start);
    check(!item.empty(), "retrieval modes '", comma_separated, "': empty item; write e.g. bm25,dense,hybrid");
    modes.push_back(parse_retrieval_mode(item));
    if (comma == std::string_view::npos) return modes;
    start = comma + 1;
  }
}

const char* retrieval_mode_name(RetrievalMode mode) {
  switch (mode) {
    case RetrievalMode::Bm25: return "bm25";
    case RetrievalMode::Dense: return "dense";
    case RetrievalMode::Hybrid: return "hybrid";
  }
  return "?";
}

std::vector<Hit> fuse_rrf(const std::vector<std::vector<Hit>>& lists, int64_t k, int64_t rrf_k) {
  check(k >= 0 && rrf_k >= 0, "fuse_rrf: k=", k, " and rrf_k=", rrf_k, " must not be negative");
  std::unordered_map<int64_t, double> score;  // chunk id -> sum of 1 / (rrf_k + rank)
  for (const auto& list : lists) {
    std::unordered_set<int64_t> seen;
    for (size_t i = 0; i < list.size(); ++i)
      if (seen.insert(list[i].chunk_id).second) score[list[i].chunk_id] += 1.0 / double(rrf_k + int64_t(i) + 1);
  }
  std::vector<Hit> fused;
  fused.reserve(score.size());
  for (const auto& [id, s] : score) fused.push_back(Hit{id, s});
  std::sort(fused.begin(), fused.end(), [](const Hit& a, const Hit& b) {
    return a.score != b.score ? a.score > b.score : a.chunk_id < b.chunk_id;
  });
  if (int64_t(fused.size()) > k) fused.resize(size_t(k));
  return fused;
}

Retriever::Retriever(const KnowledgeBase& kb, const SentenceEncoder* encoder, const VectorIndex* index)
    : kb_(kb), encoder_(encoder), index_(index) {
  check((encoder == nullptr) == (index == nullptr), "Retriever: a sentence encoder and a vector index go together ",
        "(got ", encoder ? "an encoder" : "no encoder", " and ", index ? "an index" : "no index", ")");
  if (encoder)
    check(encoder->dim() == index->dim(), "Retriever: encoder '", encoder->name(), "' makes vectors of dimension ",
          encoder->dim(), ", the vector index holds dimension ", index->dim(),
          "; rebuild the index with `tunekit kb embed` and this encoder");
}

std::vector<Hit> Retriever::dense_hits(std::string_view query, int64_t k) const {
  std::vector<float> vector = encoder_->encode({std::string(query)}, EncodeRole::Query);  // [1, dim]
  return index_->search(vector.data(), k);
}

RetrievalResult Retriever::retrieve(std::string_view query, const RetrieveOptions& options) const {
  check(options.k >= 1, "retrieve: k=", options.k, " must be at least 1");
  check(options.rrf_k >= 0, "retrieve: rrf_k=", options.rrf_k, " must not be negative");
  const int64_t candidates = std::max(options.k, options.candidates);
  RetrievalResult result{{}, options.mode, {}};
  switch (options.mode) {
    case RetrievalMode::Bm25:
      result.hits = kb_.search_bm25(query, options.k);
      break;
    case RetrievalMode::Dense:
      check(has_dense(), "dense retrieval needs a sentence encoder and a vector index: build them with ",
            "`tunekit kb embed --kb KB --encoder DIR`, or use --mode bm25");
      result.hits = dense_hits(query, options.k);
      break;
    case RetrievalMode::Hybrid:
      if (!has_dense()) {
        result.hits = kb_.search_bm25(query, options.k);
        result.mode_used = RetrievalMode::Bm25;
        result.warning = "hybrid retrieval fell back to BM25 alone: no sentence encoder and vector index "
                         "(build them with `tunekit kb embed --kb KB --encoder DIR`)";
        break;
      }
      result.hits = fuse_rrf({kb_.search_bm25(query, candidates), dense_hits(query, candidates)}, options.k,
                             options.rrf_k);
      break;
  }
  return result;
}

RetrievalResult Retriever::retrieve_multi(const std::vector<std::string>& queries,
                                          const RetrieveOptions& options) const {
  RetrieveOptions each = options;
  each.k = std::max(options.k, options.candidates);
  RetrievalResult result{{}, options.mode, {}};
  std::vector<std::vector<Hit>> lists;
  for (const std::string& query : queries) {
    if (query.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    RetrievalResult one = retrieve(query, each);
    result.mode_used = one.mode_used;
    result.warning = one.warning;
    lists.push_back(std::move(one.hits));
  }
  result.hits = fuse_rrf(lists, options.k, options.rrf_k);
  return result;
}

}  // namespace tunekit::rag
