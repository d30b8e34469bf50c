// Per-format readers behind read_document (rag/document.h). Each gets the file's bytes (non-empty)
// and fills pages and sections; read_document sets the record's common fields and the joined text.
#pragma once
#include <filesystem>
#include <string>

#include "tunekit/rag/document.h"

namespace tunekit::rag {

// poppler prints its parser's complaints to stderr; a bad file is reported once, by our Error.
void silence_poppler();

void read_pdf(const std::filesystem::path& path, const std::string& bytes, ParsedDocument& doc);
void read_markdown(const std::filesystem::path& path, const std::string& bytes, ParsedDocument& doc);
void read_json_records(const std::filesystem::path& path, const std::string& bytes, bool jsonl,
                       const ReadOptions& options, ParsedDocument& doc);

}  // namespace tunekit::rag
