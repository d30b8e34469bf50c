// Reading a document file into what the knowledge base keeps: the document's record (name, kind,
// content hash, title, metadata), its pages' text, and its sections (heading paths over byte
// ranges of the text), ready for the chunker (rag/chunker.h).
//
//   .pdf             poppler-cpp: one page per physical page, text in reading order, the info
//                    dictionary (Title, Author, ...) as metadata_json
//   .md .markdown    one page; a section per ATX heading (# .. ######), named by its path "A > B"
//   .json            an array of objects; each record's text field(s) become one section
//   .jsonl           one object per line, the same way
//   .txt             one page, no sections
//
// Text formats must be UTF-8 (a leading byte-order mark is dropped; CRLF line ends are fine).
//
// Every failure is an Error naming the file and the reason: "empty file", "not a PDF or corrupt",
// "encrypted", "no extractable text (scanned? OCR it first)", "invalid UTF-8 at byte offset N",
// an unsupported extension (listing the supported ones), a JSON record without a text field.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tunekit/rag/store.h"

namespace tunekit::rag {

// A named byte range [begin, end) of ParsedDocument::text().
struct Section {
  std::string heading;  // "Bones > Skull"; "" for text before the first heading
  size_t begin = 0, end = 0;
};

struct ParsedDocument {
  DocumentRecord record;             // id unset; name = the file's name, path = as given
  std::vector<PageRecord> pages;     // pages 1..n in order
  std::vector<Section> sections;     // in order, non-overlapping; empty when the format has none (PDF, .txt)
  // The pages' texts joined with "\n" between them; page i (0-based) starts at page_begin[i].
  std::string text;
  std::vector<size_t> page_begin;
};

struct ReadOptions {
  // JSON/JSONL: the fields holding a record's text. Empty: the first of "text", "content", "body"
  // that the record has. Several: those present, joined by a blank line.
  std::vector<std::string> text_fields;
  // JSON/JSONL: fields whose values name a record's section ("title | id"); "record N" when none is there.
  std::vector<std::string> metadata_fields = {"title", "id", "source"};
};

// The formats read_document knows, by extension (".pdf", ".md", ...).
const std::vector<std::string>& supported_extensions();

// Reads and parses path. Throws Error("<path>: <reason>") for anything it cannot take.
ParsedDocument read_document(const std::filesystem::path& path, const ReadOptions& options = {});
// The same from the file's bytes, already read (path names the format and the errors).
ParsedDocument parse_document(const std::filesystem::path& path, const std::string& bytes,
                              const ReadOptions& options = {});

// FNV-1a 64-bit of the bytes as 16 lower-case hex digits: DocumentRecord::content_hash.
std::string content_hash(std::string_view bytes);

// Throws Error("<what>: invalid UTF-8 at byte offset N") at the first malformed sequence (overlong
// forms, surrogates and code points above U+10FFFF included).
void check_utf8(std::string_view text, const std::string& what);

}  // namespace tunekit::rag
