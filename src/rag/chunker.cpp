#include "tunekit/rag/chunker.h"

#include <algorithm>

#include "tunekit/error.h"

namespace tunekit::rag {

namespace {

struct Range {
  size_t begin = 0, end = 0;  // bytes of ParsedDocument::text
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// The whitespace-separated words of text[r.begin, r.end).
std::vector<Range> words_in(const std::string& text, Range r) {
  std::vector<Range> words;
  size_t i = r.begin;
  while (i < r.end) {
    while (i < r.end && is_space(text[i])) ++i;
    const size_t start = i;
    while (i < r.end && !is_space(text[i])) ++i;
    if (i > start) words.push_back({start, i});
  }
  return words;
}

// 1-based page holding byte offset.
int64_t page_at(const ParsedDocument& doc, size_t offset) {
  const auto it = std::upper_bound(doc.page_begin.begin(), doc.page_begin.end(), offset);
  return std::max<int64_t>(1, it - doc.page_begin.begin());
}

// The heading of the section holding byte offset ("" when none does).
std::string section_at(const ParsedDocument& doc, size_t offset) {
  const auto it = std::upper_bound(doc.sections.begin(), doc.sections.end(), offset,
                                   [](size_t o, const Section& s) { return o < s.begin; });
  if (it == doc.sections.begin()) return "";
  const Section& s = *(it - 1);
  return offset < s.end ? s.heading : "";
}

class Windower {
 public:
  Windower(const ParsedDocument& doc, const ChunkOptions& options) : doc_(doc), options_(options) {}

  // Appends the windows over unit's words; section: the chunks' section, or nullptr to take the
  // section each chunk starts in.
  void add(Range unit, const std::string* section, std::vector<ChunkInput>& out) const {
    const std::vector<Range> words = words_in(doc_.text, unit);
    size_t first = 0;
    while (first < words.size()) {
      // The longest run words[first, last) within max_tokens (at least one word).
      const size_t last = longest_run(words, first);
      const Range r{words[first].begin, words[last - 1].end};
      out.push_back({page_at(doc_, r.begin), page_at(doc_, r.end - 1),
                     section ? *section : section_at(doc_, r.begin), doc_.text.substr(r.begin, r.end - r.begin)});
      if (last == words.size()) break;
      first = next_start(words, first, last);
    }
  }

 private:
  int64_t count(const std::vector<Range>& words, size_t first, size_t end) const {
    if (!options_.tokenizer) return static_cast<int64_t>(end - first);
    const std::string_view span(doc_.text.data() + words[first].begin, words[end - 1].end - words[first].begin);
    return static_cast<int64_t>(options_.tokenizer->encode(span, false).size());
  }

  // Largest end in (first, words.size()] with count(first, end) <= max_tokens, by binary search
  // (the count grows with end; every word is at least one token); first + 1 when even one word is
  // longer.
  size_t longest_run(const std::vector<Range>& words, size_t first) const {
    size_t lo = first + 1, hi = std::min(words.size(), first + static_cast<size_t>(options_.max_tokens));
    while (lo < hi) {
      const size_t mid = lo + (hi - lo + 1) / 2;
      if (count(words, first, mid) <= options_.max_tokens) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  // The next window's first word: the earliest in (first, last) whose run to last has at most
  // overlap tokens; last when no overlap fits.
  size_t next_start(const std::vector<Range>& words, size_t first, size_t last) const {
    size_t lo = std::max(first + 1, last - std::min(last, static_cast<size_t>(options_.overlap))), hi = last;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (count(words, mid, last) <= options_.overlap) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  const ParsedDocument& doc_;
  const ChunkOptions& options_;
};

}  // namespace

ChunkMode chunk_mode_from_name(std::string_view name) {
  if (name == "page") return ChunkMode::Page;
  if (name == "section") return ChunkMode::Section;
  if (name == "tokens") return ChunkMode::Tokens;
  fail("unknown chunking mode '", name, "' (choose page, section or tokens)");
}

std::string chunk_mode_name(ChunkMode mode) {
  switch (mode) {
    case ChunkMode::Page: return "page";
    case ChunkMode::Section: return "section";
    case ChunkMode::Tokens: return "tokens";
  }
  return "";
}

std::string describe(const ChunkOptions& o) {
  return chunk_mode_name(o.mode) + " " + std::to_string(o.max_tokens) + "/" + std::to_string(o.overlap) +
         (o.tokenizer ? " tokenizer " + o.tokenizer_name : " words");
}

std::vector<ChunkInput> chunk_document(const ParsedDocument& doc, const ChunkOptions& options) {
  check(options.max_tokens > 0, "chunking: the window length must be positive (got ", options.max_tokens, ")");
  check(options.overlap >= 0 && options.overlap < options.max_tokens, "chunking: the overlap (", options.overlap,
        ") must be at least 0 and less than the window length (", options.max_tokens, ")");
  std::vector<ChunkInput> out;
  const Windower windower(doc, options);
  if (options.mode == ChunkMode::Tokens) {
    windower.add({0, doc.text.size()}, nullptr, out);
  } else if (options.mode == ChunkMode::Section && !doc.sections.empty()) {
    for (const Section& s : doc.sections) windower.add({s.begin, s.end}, &s.heading, out);
  } else {
    for (size_t i = 0; i < doc.pages.size(); ++i)
      windower.add({doc.page_begin[i], doc.page_begin[i] + doc.pages[i].text.size()}, nullptr, out);
  }
  return out;
}

}  // namespace tunekit::rag
