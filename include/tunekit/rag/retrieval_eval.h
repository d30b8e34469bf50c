// Retrieval quality at page level (`tunekit eval retrieval`): for questions whose answer stands on a
// known page of a known document, where in the ranked hits the first chunk covering that page is.
// A hit is relevant when its document is the question's and page_first <= page <= page_last.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tunekit/rag/retriever.h"

namespace tunekit::rag {

struct QaPage {
  std::string question;
  std::string document;  // file name as the store keeps it
  int64_t page = 0;      // 1-based physical page
};

// The entries of a QA file (a JSON array of objects with "question", "document", "page"; see
// ../shared/data/qa/medical-docs-qa.json) that have a page. Entries without "page" are skipped;
// a malformed file or entry is an Error naming the file and the entry.
std::vector<QaPage> load_qa_pages(const std::filesystem::path& file);

struct RetrievalScores {
  RetrievalMode mode = RetrievalMode::Bm25;  // as asked
  RetrievalMode mode_used = RetrievalMode::Bm25;
  std::string warning;                       // the retriever's, when it fell back
  std::vector<int64_t> first_relevant_rank;  // per question, 1-based; 0 when not in the top k_max
  std::vector<std::pair<int64_t, double>> recall;  // (k, fraction of questions with a relevant hit in the top k)
  double mrr = 0;                                  // mean of 1 / first_relevant_rank (0 where none), at k_max
};

// Recall at 1, 5 and 10 (those <= k_max, and k_max itself) and MRR over the questions.
RetrievalScores evaluate_retrieval(const KnowledgeBase& kb, const Retriever& retriever, const std::vector<QaPage>& qa,
                                   const RetrieveOptions& options, int64_t k_max);

}  // namespace tunekit::rag
