// tunekit kb search --kb KB "query" [--k N] [--mode bm25|dense|hybrid] [--encoder DIR] [--json]
// Prints the best chunks for a query: rank, score, [document, p. N] and a snippet; --json prints an
// array of {"document", "page", "page_last", "section", "chunk_id", "score", "text"}.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "kb_open.h"
#include "verbs.h"

namespace tunekit::cli {
namespace {

struct SearchArgs {
  std::string kb, query, mode = "hybrid", encoder;
  int64_t k = 5;
  bool json = false;
};

// The text on one line, cut at about max_chars (on a UTF-8 character boundary).
std::string snippet(const std::string& text, size_t max_chars) {
  std::string line;
  for (char c : text) {
    bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line += space ? ' ' : c;
  }
  if (line.size() <= max_chars) return line;
  size_t cut = max_chars;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return line.substr(0, cut) + "...";
}

void run(const SearchArgs& a) {
  KbSearcher searcher(a.kb, rag::parse_retrieval_mode(a.mode), a.encoder);
  rag::RetrieveOptions options;
  options.mode = rag::parse_retrieval_mode(a.mode);
  options.k = a.k;
  rag::RetrievalResult result = searcher.retriever().retrieve(a.query, options);
  if (!result.warning.empty()) std::fprintf(stderr, "tunekit: warning: %s\n", result.warning.c_str());

  std::vector<int64_t> ids;
  for (const auto& hit : result.hits) ids.push_back(hit.chunk_id);
  std::vector<rag::ChunkRecord> chunks = searcher.kb().chunks(ids);  // in ids' order
  nlohmann::json out = nlohmann::json::array();
  size_t next = 0;
  for (const auto& hit : result.hits) {
    if (next == chunks.size() || chunks[next].id != hit.chunk_id) continue;  // not in the store (index behind)
    const rag::ChunkRecord& c = chunks[next++];
    if (a.json) {
      out.push_back({{"document", c.document}, {"page", c.page_first}, {"page_last", c.page_last},
                     {"section", c.section}, {"chunk_id", c.id}, {"score", hit.score}, {"text", c.text}});
    } else {
      std::string pages = c.page_last > c.page_first ? "pp. " + std::to_string(c.page_first) + "-" + std::to_string(c.page_last)
                                                     : "p. " + std::to_string(c.page_first);
      std::printf("%zu. %.4f  [%s, %s]  %s\n", next, hit.score, c.document.c_str(), pages.c_str(),
                  snippet(c.text, 240).c_str());
    }
  }
  if (a.json) std::printf("%s\n", out.dump(2).c_str());
  else if (next == 0) std::printf("no matches\n");
}

}  // namespace

void add_kb_search(CLI::App& kb) {
  auto a = std::make_shared<SearchArgs>();
  auto* cmd = kb.add_subcommand("search", "Find the chunks of a knowledge base that best match a query");
  cmd->add_option("--kb", a->kb, "knowledge-base folder")->required();
  cmd->add_option("query", a->query, "the query (free text)")->required();
  cmd->add_option("--k,-k", a->k, "hits to print")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--mode", a->mode, "bm25, dense or hybrid (BM25 and dense fused by reciprocal rank; BM25 alone "
                                     "where the base has no vector index)")->capture_default_str();
  cmd->add_option("--encoder", a->encoder, "sentence-encoder folder (default: the one the base was embedded with)");
  cmd->add_flag("--json", a->json, "print a JSON array of hits");
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
