// Ingestion: files and folders -> documents, pages and chunks in a knowledge base (rag/store.h).
//
// Folders are walked recursively in sorted order, taking the files read_document knows
// (supported_extensions()); files named directly are always tried. A file whose name and content
// hash are already in the base is left alone ("unchanged"); a changed one replaces its old version
// (one transaction per document). A file that cannot be read (corrupt, encrypted, empty, not UTF-8)
// is reported with its reason and the rest go on. The chunking settings are kept in the base's meta
// ("chunking"); ingesting into a base chunked otherwise is an Error (mixed chunking would make
// re-ingestion silently inconsistent).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tunekit/rag/chunker.h"
#include "tunekit/rag/document.h"
#include "tunekit/rag/store.h"

namespace tunekit::rag {

struct IngestOptions {
  ChunkOptions chunking;
  ReadOptions reading;
  // When set, every added or replaced PDF also gets PNG images of its pages here
  // (rag/page_images.h), rendered at render_dpi; unchanged files are not re-rendered.
  std::filesystem::path render_pages_dir;
  double render_dpi = 72;
  // Called once after the run when any document was added or replaced (the dense vector index
  // syncs itself here); not called when nothing changed.
  std::function<void(KnowledgeBase&)> on_documents_changed;
};

enum class FileOutcome { Added, Replaced, Unchanged, Failed };
const char* outcome_name(FileOutcome outcome);  // "added", "replaced", "unchanged", "failed"

// One file done: the callback's argument.
struct FileEvent {
  size_t index = 0, total = 0;  // index-th file (0-based) of total
  std::filesystem::path path;
  FileOutcome outcome = FileOutcome::Failed;
  std::string reason;           // Failed: the Error's message (it names the file)
  int64_t pages = 0, chunks = 0;  // Added/Replaced: what went in
};

struct FileFailure {
  std::string path;
  std::string reason;
};

struct IngestReport {
  std::vector<std::string> added, replaced, unchanged;  // document names
  std::vector<FileFailure> failed;
  int64_t pages = 0, chunks = 0;  // of the added and replaced documents
  double seconds = 0;
};

// The files ingest would take from paths (folders expanded, duplicates dropped). A missing path is
// an Error naming it.
std::vector<std::filesystem::path> expand_inputs(const std::vector<std::filesystem::path>& paths);

IngestReport ingest(KnowledgeBase& kb, const std::vector<std::filesystem::path>& paths, const IngestOptions& options,
                    const std::function<void(const FileEvent&)>& on_file = {});

}  // namespace tunekit::rag
