#include "tunekit/rag/ingest.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "tunekit/rag/page_images.h"

namespace tunekit::rag {

namespace {

bool is_supported(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  const auto& exts = supported_extensions();
  return std::find(exts.begin(), exts.end(), ext) != exts.end();
}

// The chunking this run uses must be the base's (set on first use).
void check_chunking(KnowledgeBase& kb, const ChunkOptions& chunking) {
  const std::string wanted = describe(chunking);
  const auto stored = kb.meta("chunking");
  if (!stored) {
    kb.set_meta("chunking", wanted);
    return;
  }
  check(*stored == wanted, kb.dir().string(), ": this knowledge base is chunked as '", *stored, "', not '", wanted,
        "' (ingest with the same --chunk/--chunk-tokens/--chunk-overlap/--tokenizer, or into a new --kb)");
}

}  // namespace

const char* outcome_name(FileOutcome outcome) {
  switch (outcome) {
    case FileOutcome::Added: return "added";
    case FileOutcome::Replaced: return "replaced";
    case FileOutcome::Unchanged: return "unchanged";
    case FileOutcome::Failed: return "failed";
  }
  return "";
}

std::vector<std::filesystem::path> expand_inputs(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::filesystem::path> files;
  std::set<std::filesystem::path> seen;
  auto take = [&](const std::filesystem::path& p) {
    if (seen.insert(std::filesystem::weakly_canonical(p)).second) files.push_back(p);
  };
  for (const auto& path : paths) {
    std::error_code ec;
    check(std::filesystem::exists(path, ec), path.string(), ": no such file or folder");
    if (!std::filesystem::is_directory(path)) {
      take(path);
      continue;
    }
    std::vector<std::filesystem::path> found;
    for (auto it = std::filesystem::recursive_directory_iterator(
             path, std::filesystem::directory_options::skip_permission_denied, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file() && is_supported(it->path())) found.push_back(it->path());
    check(!ec, path.string(), ": cannot list the folder (", ec.message(), ")");
    std::sort(found.begin(), found.end());
    for (const auto& f : found) take(f);
  }
  return files;
}

IngestReport ingest(KnowledgeBase& kb, const std::vector<std::filesystem::path>& paths, const IngestOptions& options,
                    const std::function<void(const FileEvent&)>& on_file) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::filesystem::path> files = expand_inputs(paths);
  check_chunking(kb, options.chunking);
  IngestReport report;
  std::map<std::string, std::filesystem::path> named;  // document name -> the file it came from this run
  for (size_t i = 0; i < files.size(); ++i) {
    FileEvent event;
    event.index = i;
    event.total = files.size();
    event.path = files[i];
    const std::string name = files[i].filename().string();
    try {
      const auto [earlier, fresh] = named.emplace(name, files[i]);
      check(fresh, files[i].string(), ": a document named '", name, "' was already ingested from ",
            earlier->second.string(), " in this run (rename one of them)");
      check(!std::filesystem::is_directory(files[i]), files[i].string(), ": is a folder, not a document");
      const std::string bytes = read_text_file(files[i]);
      const auto existing = kb.find_document(name);
      if (existing && existing->content_hash == content_hash(bytes)) {
        event.outcome = FileOutcome::Unchanged;
        report.unchanged.push_back(name);
      } else {
        ParsedDocument doc = parse_document(files[i], bytes, options.reading);
        const std::vector<ChunkInput> chunks = chunk_document(doc, options.chunking);
        if (!options.render_pages_dir.empty() && doc.record.kind == "pdf")
          render_pdf_pages(files[i], options.render_pages_dir, options.render_dpi);
        kb.put_document(doc.record, doc.pages, chunks);
        event.outcome = existing ? FileOutcome::Replaced : FileOutcome::Added;
        (existing ? report.replaced : report.added).push_back(name);
        event.pages = static_cast<int64_t>(doc.pages.size());
        event.chunks = static_cast<int64_t>(chunks.size());
        report.pages += event.pages;
        report.chunks += event.chunks;
      }
    } catch (const Error& e) {
      event.outcome = FileOutcome::Failed;
      event.reason = e.what();
      report.failed.push_back({files[i].string(), e.what()});
    }
    if (on_file) on_file(event);
  }
  if (options.on_documents_changed && !(report.added.empty() && report.replaced.empty()))
    options.on_documents_changed(kb);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace tunekit::rag
