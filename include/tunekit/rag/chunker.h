// Splitting a parsed document (rag/document.h) into the chunks the knowledge base indexes. Every
// chunk keeps the pages its text comes from (page_first..page_last, from its byte range mapped back
// onto the pages) and the section its first byte is in.
//
//   page     one chunk per page; a page longer than max_tokens is split into windows
//   section  one chunk per section (Markdown heading, JSON record), long ones split; a document
//            without sections (PDF, .txt) is chunked by page
//   tokens   windows of max_tokens tokens over the whole document with overlap tokens shared by
//            neighbours (never crossing documents)
//
// Windows end between whitespace-separated words, never inside one; a chunk's text is the
// document's text from its first word's first byte to its last word's last byte. Tokens are
// those of the given tokenizer (the chunk's text encodes to at most max_tokens, unless a single word
// is longer), or whitespace-separated words when there is none.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tunekit/rag/document.h"
#include "tunekit/rag/store.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit::rag {

enum class ChunkMode { Page, Section, Tokens };

// "page", "section", "tokens"; anything else is an Error listing them.
ChunkMode chunk_mode_from_name(std::string_view name);
std::string chunk_mode_name(ChunkMode mode);

struct ChunkOptions {
  ChunkMode mode = ChunkMode::Tokens;
  int64_t max_tokens = 256;              // window length (all modes split longer units with it)
  int64_t overlap = 32;                  // tokens shared by neighbouring windows; < max_tokens
  const Tokenizer* tokenizer = nullptr;  // nullptr: count whitespace-separated words
  std::string tokenizer_name;            // names the tokenizer in describe() (the CLI: its absolute path)
};

// The settings in one line, kept in the knowledge base's meta: "tokens 256/32 words",
// "page 512/0 tokenizer /models/tok.json".
std::string describe(const ChunkOptions& options);

// Chunks in document order; blank stretches make no chunk. Throws Error on bad options.
std::vector<ChunkInput> chunk_document(const ParsedDocument& doc, const ChunkOptions& options);

}  // namespace tunekit::rag
