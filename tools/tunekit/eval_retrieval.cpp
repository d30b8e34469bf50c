// tunekit eval retrieval --kb KB --qa FILE.json [--modes bm25,dense,hybrid] [--k-max 10] [--json]
// Page-level retrieval quality of a knowledge base on questions with a known answer page: recall at
// 1, 5 and 10 and MRR, one row per retrieval mode.
#include <cstdio>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "kb_open.h"
#include "tunekit/error.h"
#include "tunekit/rag/retrieval_eval.h"
#include "verbs.h"

namespace tunekit::cli {
namespace {

struct EvalRetrievalArgs {
  std::string kb, qa, modes = "bm25,hybrid", encoder;
  int64_t k_max = 10, candidates = 50;
  bool json = false;
};

void print_table(const std::vector<rag::RetrievalScores>& rows, size_t n_questions) {
  std::printf("%-16s %9s", "mode", "questions");
  for (const auto& [k, recall] : rows.front().recall) std::printf("  %9s", ("recall@" + std::to_string(k)).c_str());
  std::printf("  %6s\n", "MRR");
  for (const auto& row : rows) {
    std::string mode = rag::retrieval_mode_name(row.mode);
    if (row.mode_used != row.mode) mode += std::string(" (as ") + rag::retrieval_mode_name(row.mode_used) + ")";
    std::printf("%-16s %9zu", mode.c_str(), n_questions);
    for (const auto& [k, recall] : row.recall) std::printf("  %9.3f", recall);
    std::printf("  %6.3f\n", row.mrr);
  }
}

nlohmann::ordered_json to_json(const rag::RetrievalScores& row, size_t n_questions) {
  nlohmann::ordered_json recall = nlohmann::ordered_json::object();
  for (const auto& [k, value] : row.recall) recall[std::to_string(k)] = value;
  return {{"mode", rag::retrieval_mode_name(row.mode)}, {"mode_used", rag::retrieval_mode_name(row.mode_used)},
          {"questions", n_questions}, {"recall", recall}, {"mrr", row.mrr}, {"ranks", row.first_relevant_rank}};
}

void run(const EvalRetrievalArgs& a) {
  const std::vector<rag::RetrievalMode> modes = rag::parse_retrieval_modes(a.modes);
  const std::vector<rag::QaPage> qa = rag::load_qa_pages(a.qa);
  check(!qa.empty(), a.qa, ": no entry has a \"page\"; page-level evaluation needs {\"question\", \"document\", \"page\"}");
  KbSearcher searcher(a.kb, modes, a.encoder);
  std::set<std::string> missing;
  for (const auto& item : qa)
    if (!searcher.kb().find_document(item.document)) missing.insert(item.document);
  for (const auto& name : missing)
    std::fprintf(stderr, "tunekit: warning: %s (named in %s) is not in the knowledge base: its questions count as misses\n",
                 name.c_str(), a.qa.c_str());

  std::vector<rag::RetrievalScores> rows;
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (rag::RetrievalMode mode : modes) {
    rag::RetrieveOptions options;
    options.mode = mode;
    options.candidates = a.candidates;
    rows.push_back(rag::evaluate_retrieval(searcher.kb(), searcher.retriever(), qa, options, a.k_max));
    if (!rows.back().warning.empty()) std::fprintf(stderr, "tunekit: warning: %s\n", rows.back().warning.c_str());
    out.push_back(to_json(rows.back(), qa.size()));
  }
  if (a.json) std::printf("%s\n", out.dump().c_str());
  else print_table(rows, qa.size());
}

}  // namespace

void add_eval_retrieval(CLI::App& eval) {
  auto a = std::make_shared<EvalRetrievalArgs>();
  auto* cmd = eval.add_subcommand("retrieval", "Page-level recall@k and MRR of a knowledge base on a QA file");
  cmd->add_option("--kb", a->kb, "knowledge-base folder")->required();
  cmd->add_option("--qa", a->qa, "QA file: JSON array of {\"question\", \"document\", \"page\"} (entries without a page are skipped)")->required();
  cmd->add_option("--modes", a->modes, "retrieval modes to compare, comma-separated (bm25, dense, hybrid)")->capture_default_str();
  cmd->add_option("--k-max", a->k_max, "hits retrieved per question (recall at 1, 5, 10 up to this; MRR at this)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--candidates", a->candidates, "hits per list before hybrid fusion")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--encoder", a->encoder, "sentence-encoder folder (default: the one the base was embedded with)");
  cmd->add_flag("--json", a->json, "print a JSON array, one object per mode (with each question's rank)");
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
