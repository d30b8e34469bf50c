// tunekit kb ingest PATH... --kb KB [--chunk page|section|tokens] [--chunk-tokens N] [--chunk-overlap M]
//                   [--tokenizer PATH] [--text-field F]... [--render-pages DIR [--render-dpi D]]
//                   [--encoder DIR] [--json]
// Reads PDFs, Markdown, JSON/JSONL and text files (folders recursively) into the knowledge base KB
// (created when absent). Unchanged files are skipped, changed ones replaced; a file that cannot be
// read is listed with its reason and the others go on. Exit 0 when at least one file went in or all
// were unchanged, 1 when every file failed. With --encoder, or when the base was embedded before
// (`kb embed`), the vector index is brought up to date afterwards (also after an interrupted run).

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "tunekit/core/progress.h"
#include "tunekit/error.h"
#include "tunekit/rag/ingest.h"
#include "kb_open.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

struct IngestArgs {
  std::vector<std::string> paths;
  std::string kb, chunk = "tokens", tokenizer, render_pages, encoder;
  double render_dpi = 72;
  int64_t chunk_tokens = 256, chunk_overlap = 32;
  std::vector<std::string> text_fields;
  bool json = false;
};

nlohmann::json to_json(const rag::IngestReport& r) {
  nlohmann::json failed = nlohmann::json::array();
  for (const auto& f : r.failed) failed.push_back({{"path", f.path}, {"reason", f.reason}});
  return {{"added", r.added},   {"replaced", r.replaced}, {"unchanged", r.unchanged}, {"failed", failed},
          {"pages", r.pages},   {"chunks", r.chunks},     {"seconds", r.seconds}};
}

void run(const IngestArgs& a) {
  std::unique_ptr<Tokenizer> tokenizer;
  if (!a.tokenizer.empty()) tokenizer = load_tokenizer(a.tokenizer);
  rag::IngestOptions options;
  options.chunking = {rag::chunk_mode_from_name(a.chunk), a.chunk_tokens, a.chunk_overlap, tokenizer.get(),
                      a.tokenizer.empty() ? "" : std::filesystem::absolute(a.tokenizer).lexically_normal().string()};
  options.reading.text_fields = a.text_fields;
  options.render_pages_dir = a.render_pages;
  options.render_dpi = a.render_dpi;
  std::vector<std::filesystem::path> paths(a.paths.begin(), a.paths.end());
  const size_t n_files = rag::expand_inputs(paths).size();
  if (n_files == 0) {
    std::string exts;
    for (const auto& e : rag::supported_extensions()) exts.append(exts.empty() ? "" : " ").append(e);
    fail("kb ingest: no documents found in the given folders (supported: ", exts, ")");
  }

  auto kb = rag::KnowledgeBase::open(a.kb, true);
  ProgressBar bar(stderr, static_cast<int64_t>(n_files), stderr_is_terminal(), 5.0);
  int64_t pages = 0;
  const auto start = std::chrono::steady_clock::now();
  const rag::IngestReport report = rag::ingest(*kb, paths, options, [&](const rag::FileEvent& e) {
    pages += e.pages;
    if (e.outcome == rag::FileOutcome::Failed || !a.json) {  // failures always, on stderr
      const std::string what = e.outcome == rag::FileOutcome::Failed ? e.reason : e.path.string();
      std::string line = rag::outcome_name(e.outcome);
      line.resize(11, ' ');
      bar.print_line(line.append(what));
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char fields[64];
    std::snprintf(fields, sizeof fields, "%lld pages | %.1f pages/s", (long long)pages, s > 0 ? pages / s : 0.0);
    bar.update(static_cast<int64_t>(e.index + 1), fields);
  });
  bar.finish();
  if (a.json) {
    std::printf("%s\n", to_json(report).dump().c_str());
  } else {
    std::printf("%zu added, %zu replaced, %zu unchanged, %zu failed: %lld pages, %lld chunks in %.1f s (%s)\n",
                report.added.size(), report.replaced.size(), report.unchanged.size(), report.failed.size(),
                (long long)report.pages, (long long)report.chunks, report.seconds, a.kb.c_str());
  }
  check(report.failed.size() < n_files, "kb ingest: every file failed (", n_files, "; reasons above)");
  sync_vectors_if_embedded(*kb, a.encoder);
}

}  // namespace

void add_kb_ingest(CLI::App& kb) {
  auto a = std::make_shared<IngestArgs>();
  auto* cmd = kb.add_subcommand("ingest", "Add documents (PDF, Markdown, JSON/JSONL, text; folders recursively) to a knowledge base");
  cmd->add_option("paths", a->paths, "files and folders to ingest")->required();
  cmd->add_option("--kb", a->kb, "the knowledge-base folder (created when absent)")->required();
  cmd->add_option("--chunk", a->chunk, "chunking: page (one per page), section (one per heading/record), "
                  "tokens (windows over the whole document)")
      ->check(CLI::IsMember({"page", "section", "tokens"}))
      ->capture_default_str();
  cmd->add_option("--chunk-tokens", a->chunk_tokens, "window length in tokens (longer pages/sections are split too)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--chunk-overlap", a->chunk_overlap, "tokens shared by neighbouring windows")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer,
                  "count tokens with this tokenizer (tokenizer.json, .model, .gguf, folder); default: whitespace words");
  cmd->add_option("--text-field", a->text_fields,
                  "JSON/JSONL field holding a record's text (repeatable; default: text, else content, else body)");
  cmd->add_option("--encoder", a->encoder, "sentence-encoder folder: also embed the chunks for dense/hybrid search "
                                        "(default: the encoder the base was embedded with, if any)");
  cmd->add_option("--render-pages", a->render_pages,
                  "also write PNG images of added PDFs' pages to DIR/<file name>/page-0001.png, ...");
  cmd->add_option("--render-dpi", a->render_dpi, "resolution of --render-pages")
      ->check(CLI::Range(1.0, 1200.0))
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print the report as one JSON object");
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
