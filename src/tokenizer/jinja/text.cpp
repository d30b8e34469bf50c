#include "tokenizer/jinja/text.h"

#include <algorithm>
#include <cstdio>

#include "tokenizer/utf8.h"

namespace tunekit::jinja::text {

std::vector<size_t> char_offsets(std::string_view text) {
  std::vector<size_t> offsets;
  offsets.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size(); pos += utf8::char_len(text, pos)) offsets.push_back(pos);
  offsets.push_back(text.size());
  return offsets;
}

size_t char_count(std::string_view text) {
  size_t n = 0;
  for (size_t pos = 0; pos < text.size(); pos += utf8::char_len(text, pos)) ++n;
  return n;
}

std::vector<std::string> chars(std::string_view text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t len = utf8::char_len(text, pos);
    out.emplace_back(text.substr(pos, len));
    pos += len;
  }
  return out;
}

namespace {

char32_t code_at(std::string_view s, size_t pos, size_t* len) { return utf8::decode(s, pos, len); }

bool in_set(std::string_view set, std::string_view ch) {
  for (size_t pos = 0; pos < set.size();) {
    size_t len = utf8::char_len(set, pos);
    if (set.substr(pos, len) == ch) return true;
    pos += len;
  }
  return false;
}

bool strippable(std::string_view s, size_t pos, size_t len, const std::optional<std::string>& chars) {
  if (!chars) {
    size_t n = 0;
    return is_space(code_at(s, pos, &n));
  }
  return in_set(*chars, s.substr(pos, len));
}

// Whitespace-separated words with their byte ranges.
std::vector<std::pair<size_t, size_t>> words(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t start = std::string_view::npos;
  for (size_t pos = 0; pos < s.size();) {
    size_t len = 0;
    bool space = is_space(code_at(s, pos, &len));
    if (space && start != std::string_view::npos) {
      out.emplace_back(start, pos);
      start = std::string_view::npos;
    } else if (!space && start == std::string_view::npos) {
      start = pos;
    }
    pos += len;
  }
  if (start != std::string_view::npos) out.emplace_back(start, s.size());
  return out;
}

}  // namespace

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  auto offsets = char_offsets(s);
  size_t first = 0, last = offsets.size() - 1;  // character range [first, last)
  if (left)
    while (first < last && strippable(s, offsets[first], offsets[first + 1] - offsets[first], chars)) ++first;
  if (right)
    while (last > first && strippable(s, offsets[last - 1], offsets[last] - offsets[last - 1], chars)) --last;
  return std::string(s.substr(offsets[first], offsets[last] - offsets[first]));
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit,
                               bool from_right) {
  std::vector<std::string> out;
  if (!sep) {
    auto ranges = words(s);
    size_t n = ranges.size();
    if (maxsplit < 0 || static_cast<size_t>(maxsplit) + 1 >= n) {
      for (auto [a, b] : ranges) out.emplace_back(s.substr(a, b - a));
      return out;
    }
    // The unsplit remainder keeps its outer whitespace on the side away from the splits.
    size_t whole = static_cast<size_t>(maxsplit);
    if (from_right) {
      size_t keep = n - whole;
      out.emplace_back(s.substr(0, ranges[keep - 1].second));
      for (size_t i = keep; i < n; ++i) out.emplace_back(s.substr(ranges[i].first, ranges[i].second - ranges[i].first));
    } else {
      for (size_t i = 0; i < whole; ++i) out.emplace_back(s.substr(ranges[i].first, ranges[i].second - ranges[i].first));
      out.emplace_back(s.substr(ranges[whole].first));
    }
    return out;
  }
  const std::string& d = *sep;
  if (!from_right) {
    size_t start = 0;
    for (int64_t done = 0; maxsplit < 0 || done < maxsplit; ++done) {
      size_t hit = s.find(d, start);
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(start, hit - start));
      start = hit + d.size();
    }
    out.emplace_back(s.substr(start));
    return out;
  }
  size_t end = s.size();
  for (int64_t done = 0; maxsplit < 0 || done < maxsplit; ++done) {
    if (end < d.size()) break;
    size_t hit = s.rfind(d, end - d.size());
    if (hit == std::string_view::npos) break;
    out.emplace_back(s.substr(hit + d.size(), end - hit - d.size()));
    end = hit;
  }
  out.emplace_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> splitlines(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t pos = 0; pos < s.size();) {
    size_t len = 0;
    char32_t cp = code_at(s, pos, &len);
    bool is_break = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
                    cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!is_break) {
      pos += len;
      continue;
    }
    out.emplace_back(s.substr(start, pos - start));
    pos += len;
    if (cp == '\r' && pos < s.size() && s[pos] == '\n') ++pos;
    start = pos;
  }
  if (start < s.size()) out.emplace_back(s.substr(start));
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old.empty()) {  // Python inserts the replacement around every character
    auto offsets = char_offsets(s);
    for (size_t i = 0; i + 1 < offsets.size(); ++i) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
      }
      out += s.substr(offsets[i], offsets[i + 1] - offsets[i]);
    }
    if (count < 0 || done < count) out += replacement;
    return out;
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(old, start);
    if (hit == std::string_view::npos) break;
    out += s.substr(start, hit - start);
    out += replacement;
    start = hit + old.size();
    ++done;
  }
  out += s.substr(start);
  return out;
}

size_t replaced_size(std::string_view s, std::string_view old, std::string_view replacement) {
  auto hits = static_cast<size_t>(count(s, old));
  return s.size() - std::min(s.size(), hits * old.size()) + hits * replacement.size();
}

int64_t find(std::string_view s, std::string_view sub, bool from_right) {
  size_t hit = from_right ? s.rfind(sub) : s.find(sub);
  if (hit == std::string_view::npos) return -1;
  return static_cast<int64_t>(char_count(s.substr(0, hit)));
}

int64_t count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(char_count(s)) + 1;
  int64_t n = 0;
  for (size_t hit = s.find(sub); hit != std::string_view::npos; hit = s.find(sub, hit + sub.size())) ++n;
  return n;
}

std::string pad(std::string_view s, int64_t width, std::string_view fill, bool left, bool right) {
  int64_t n = static_cast<int64_t>(char_count(s));
  if (width <= n) return std::string(s);
  int64_t total = width - n;
  int64_t before = 0;
  if (left && right) {
    before = total / 2 + (total & width & 1);  // Python's str.center rounding
  } else if (left) {
    before = total;
  }
  int64_t after = total - before;
  std::string out;
  for (int64_t i = 0; i < before; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < after; ++i) out += fill;
  return out;
}

bool all_chars(std::string_view s, bool (*predicate)(char32_t)) {
  if (s.empty()) return false;
  for (size_t pos = 0; pos < s.size();) {
    size_t len = 0;
    if (!predicate(code_at(s, pos, &len))) return false;
    pos += len;
  }
  return true;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string repr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (size_t pos = 0; pos < s.size();) {
    size_t len = 0;
    char32_t cp = code_at(s, pos, &len);
    if (len == 1 && static_cast<unsigned char>(s[pos]) >= 0x80) {  // an invalid byte: shown as \x..
      cp = static_cast<unsigned char>(s[pos]);
    }
    char buf[16];
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (!is_printable(cp) || (len == 1 && cp >= 0x80)) {
      if (cp <= 0xFF) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      else if (cp <= 0xFFFF) std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      else std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out += s.substr(pos, len);
    }
    pos += len;
  }
  out += quote;
  return out;
}

}  // namespace tunekit::jinja::text
