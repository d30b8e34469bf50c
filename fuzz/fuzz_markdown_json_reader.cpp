// libFuzzer target: the text document readers and the chunker (rag/document.h parse_document on
// Markdown, JSON, JSONL or plain text bytes, then rag/chunker.h chunk_document). The input's first
// byte picks the format, the chunking mode, the window and overlap; the rest is the file's bytes.
// tunekit::Error is the expected answer to bad input; anything else (a crash, a sanitizer report,
// another exception, a hang) is a bug. Accepted documents must satisfy the readers' and the
// chunker's contracts: pages joined as documented, sections ordered inside the text, every chunk a
// piece of the text with a page span inside the document.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tunekit/error.h"
#include "tunekit/rag/chunker.h"
#include "tunekit/rag/document.h"

using namespace tunekit;
using namespace tunekit::rag;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void check_document(const ParsedDocument& d) {
  require(!d.pages.empty() && d.pages.size() == d.page_begin.size());
  require(d.record.n_pages == static_cast<int64_t>(d.pages.size()));
  for (size_t i = 0; i < d.pages.size(); ++i) {
    require(d.pages[i].page == static_cast<int64_t>(i + 1));
    require(d.text.compare(d.page_begin[i], d.pages[i].text.size(), d.pages[i].text) == 0);
  }
  size_t previous_end = 0;
  for (const Section& s : d.sections) {
    require(s.begin >= previous_end && s.begin <= s.end && s.end <= d.text.size());
    previous_end = s.end;
  }
}

void check_chunks(const ParsedDocument& d, const std::vector<ChunkInput>& chunks) {
  for (const ChunkInput& c : chunks) {
    require(!c.text.empty() && d.text.find(c.text) != std::string::npos);
    require(c.page_first >= 1 && c.page_first <= c.page_last && c.page_last <= d.record.n_pages);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t knobs = data[0];
  static const char* kNames[] = {"f.md", "f.json", "f.jsonl", "f.txt"};
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  ReadOptions read;
  if (knobs & 4) read.text_fields = {"q", "a"};
  ParsedDocument doc;
  try {
    doc = parse_document(kNames[knobs & 3], bytes, read);
  } catch (const Error&) {
    return 0;
  }
  check_document(doc);
  ChunkOptions chunking;
  constexpr ChunkMode kModes[] = {ChunkMode::Page, ChunkMode::Section, ChunkMode::Tokens, ChunkMode::Tokens};
  chunking.mode = kModes[(knobs >> 3) & 3];
  chunking.max_tokens = 1 + ((knobs >> 5) & 7);  // 1..8 words
  chunking.overlap = (knobs >> 5) & 1 ? chunking.max_tokens - 1 : 0;
  check_chunks(doc, chunk_document(doc, chunking));
  return 0;
}
