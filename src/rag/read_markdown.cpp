// Markdown: one page; a section per ATX heading ("# " .. "###### "), named by the path of headings
// above it ("Bones > Skull"). Text before the first heading is a section with an empty name. Lines
// in fenced code blocks (``` or ~~~) are never headings. The title is the first level-1 heading.
#include <string_view>
#include <vector>

#include "rag/readers.h"

namespace tunekit::rag {

namespace {

// The level (1..6) of an ATX heading line and its text, or level 0.
struct Heading {
  int level = 0;
  std::string_view text;
};

Heading parse_heading(std::string_view line) {
  size_t indent = 0;
  while (indent < line.size() && indent < 3 && line[indent] == ' ') ++indent;
  size_t hashes = 0;
  while (indent + hashes < line.size() && line[indent + hashes] == '#') ++hashes;
  const size_t after = indent + hashes;
  if (hashes == 0 || hashes > 6 || (after < line.size() && line[after] != ' ' && line[after] != '\t')) return {};
  std::string_view text = line.substr(after);
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '#'))
    text.remove_suffix(1);  // closing "##" sequence and trailing blanks
  return {static_cast<int>(hashes), text};
}

bool is_fence(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && i < 3 && line[i] == ' ') ++i;
  return line.substr(i, 3) == "```" || line.substr(i, 3) == "~~~";
}

std::string join_path(const std::vector<std::string>& stack) {
  std::string out;
  for (const auto& h : stack) {
    if (h.empty()) continue;
    if (!out.empty()) out += " > ";
    out += h;
  }
  return out;
}

}  // namespace

void read_markdown(const std::filesystem::path&, const std::string& bytes, ParsedDocument& doc) {
  doc.pages.push_back({1, bytes});
  std::vector<std::string> stack;  // stack[level - 1] = the open heading of that level
  Section current;                 // the section being read (text before any heading first)
  bool in_fence = false;
  for (size_t pos = 0; pos < bytes.size();) {
    const size_t eol = bytes.find('\n', pos);
    const size_t next = eol == std::string::npos ? bytes.size() : eol + 1;
    const std::string_view line(bytes.data() + pos, next - pos - (eol == std::string::npos ? 0 : 1));
    if (is_fence(line)) in_fence = !in_fence;
    const Heading h = in_fence ? Heading{} : parse_heading(line);
    if (h.level > 0) {
      current.end = pos;
      if (current.end > current.begin) doc.sections.push_back(current);
      stack.resize(static_cast<size_t>(h.level));
      stack.back() = std::string(h.text);
      current = {join_path(stack), pos, pos};
      if (h.level == 1 && doc.record.title.empty()) doc.record.title = std::string(h.text);
    }
    pos = next;
  }
  current.end = bytes.size();
  if (current.end > current.begin) doc.sections.push_back(current);
}

}  // namespace tunekit::rag
