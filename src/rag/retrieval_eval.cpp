#include "tunekit/rag/retrieval_eval.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "tunekit/error.h"
#include "tunekit/io/file_util.h"

namespace tunekit::rag {

std::vector<QaPage> load_qa_pages(const std::filesystem::path& file) {
  nlohmann::json qa = read_json_file(file);
  check(qa.is_array(), file.string(), ": expected a JSON array of {\"question\", \"document\", \"page\"} objects");
  std::vector<QaPage> out;
  for (size_t i = 0; i < qa.size(); ++i) {
    const auto& entry = qa[i];
    if (!entry.is_object() || !entry.contains("page")) continue;
    try {
      QaPage item{entry.at("question").get<std::string>(), entry.at("document").get<std::string>(),
                  entry.at("page").get<int64_t>()};
      check(item.page >= 1, "page ", item.page, " is not a 1-based page number");
      out.push_back(std::move(item));
    } catch (const std::exception& e) {
      fail(file.string(), ": entry ", i, ": ", e.what(), " (each entry needs \"question\" and \"document\" strings ",
           "and an integer \"page\")");
    }
  }
  return out;
}

RetrievalScores evaluate_retrieval(const KnowledgeBase& kb, const Retriever& retriever, const std::vector<QaPage>& qa,
                                   const RetrieveOptions& options, int64_t k_max) {
  check(k_max >= 1, "evaluate_retrieval: k_max ", k_max, " must be at least 1");
  RetrieveOptions top = options;
  top.k = k_max;
  RetrievalScores scores;
  scores.mode = scores.mode_used = options.mode;
  for (const QaPage& item : qa) {
    RetrievalResult result = retriever.retrieve(item.question, top);
    scores.mode_used = result.mode_used;
    scores.warning = result.warning;
    std::vector<int64_t> ids;
    for (const Hit& hit : result.hits) ids.push_back(hit.chunk_id);
    int64_t rank = 0, position = 0;
    for (const ChunkRecord& chunk : kb.chunks(ids)) {
      ++position;
      if (chunk.document == item.document && chunk.page_first <= item.page && item.page <= chunk.page_last) {
        rank = position;
        break;
      }
    }
    scores.first_relevant_rank.push_back(rank);
    scores.mrr += rank > 0 ? 1.0 / double(rank) : 0.0;
  }
  const double n = double(std::max<size_t>(qa.size(), 1));
  scores.mrr /= n;
  for (int64_t k : {int64_t(1), int64_t(5), int64_t(10), k_max}) {
    if (k > k_max || (!scores.recall.empty() && scores.recall.back().first >= k)) continue;
    auto found = std::count_if(scores.first_relevant_rank.begin(), scores.first_relevant_rank.end(),
                               [k](int64_t r) { return r > 0 && r <= k; });
    scores.recall.push_back({k, double(found) / n});
  }
  return scores;
}

}  // namespace tunekit::rag
