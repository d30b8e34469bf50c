// Character properties and case mapping the way CPython's str methods do them (unicodeobject.c),
// over ICU's Unicode data: full mappings (ß -> SS, ǆ -> ǅ), the final-sigma rule of lower(), and
// Python's own definitions of isspace/isdigit/isalpha/isprintable. Bytes that are not valid UTF-8
// are kept as they are.
#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include <vector>

#include "tokenizer/jinja/text.h"
#include "tokenizer/utf8.h"

namespace tunekit::jinja::text {
namespace {

struct Char {
  char32_t cp;
  std::string_view bytes;
  bool valid;  // false: a byte that is not UTF-8, passed through unchanged
};

std::vector<Char> decode_all(std::string_view s) {
  std::vector<Char> out;
  for (size_t pos = 0; pos < s.size();) {
    size_t len = 0;
    char32_t cp = utf8::decode(s, pos, &len);
    bool valid = !(len == 1 && static_cast<unsigned char>(s[pos]) >= 0x80);
    out.push_back({cp, s.substr(pos, len), valid});
    pos += len;
  }
  return out;
}

enum class Case { Upper, Lower, Title };

// The full case mapping of one character (one or more characters out).
void append_mapped(std::string& out, const Char& c, Case to) {
  if (!c.valid) {
    out += c.bytes;
    return;
  }
  if (c.cp < 0x80) {  // ASCII: the common case, without ICU
    char ch = static_cast<char>(c.cp);
    bool lower = ch >= 'a' && ch <= 'z', upper = ch >= 'A' && ch <= 'Z';
    if (to != Case::Lower && lower) ch = static_cast<char>(ch - 32);
    if (to == Case::Lower && upper) ch = static_cast<char>(ch + 32);
    out += ch;
    return;
  }
  UChar src[2];
  int32_t n = 0;
  U16_APPEND_UNSAFE(src, n, static_cast<UChar32>(c.cp));
  UChar dst[32];
  UErrorCode err = U_ZERO_ERROR;
  int32_t m = to == Case::Upper   ? u_strToUpper(dst, 32, src, n, "", &err)
              : to == Case::Lower ? u_strToLower(dst, 32, src, n, "", &err)
                                  : u_strToTitle(dst, 32, src, n, nullptr, "", &err);
  if (U_FAILURE(err)) {
    out += c.bytes;
    return;
  }
  for (int32_t i = 0; i < m;) {
    UChar32 mapped;
    U16_NEXT(dst, i, m, mapped);
    utf8::append(out, static_cast<char32_t>(mapped));
  }
}

bool has(const Char& c, UProperty property) {
  return c.valid && u_hasBinaryProperty(static_cast<UChar32>(c.cp), property);
}

bool is_titlecase(const Char& c) { return c.valid && u_charType(static_cast<UChar32>(c.cp)) == U_TITLECASE_LETTER; }

// lower() of the character at i; a capital sigma becomes final (ς) after a cased letter that no
// cased letter follows, skipping case-ignorable characters on both sides (CPython's rule).
void append_lower(std::string& out, const std::vector<Char>& cs, size_t i) {
  if (cs[i].cp != 0x3A3 || !cs[i].valid) {
    append_mapped(out, cs[i], Case::Lower);
    return;
  }
  size_t j = i;
  while (j > 0 && has(cs[j - 1], UCHAR_CASE_IGNORABLE)) --j;
  bool final_sigma = j > 0 && has(cs[j - 1], UCHAR_CASED);
  if (final_sigma) {
    size_t k = i + 1;
    while (k < cs.size() && has(cs[k], UCHAR_CASE_IGNORABLE)) ++k;
    final_sigma = k == cs.size() || !has(cs[k], UCHAR_CASED);
  }
  utf8::append(out, final_sigma ? 0x3C2 : 0x3C3);
}

bool jinja_word_boundary(char32_t cp) {
  return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || is_space(cp);
}

}  // namespace

bool is_space(char32_t cp) {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
  auto c = static_cast<UChar32>(cp);
  UCharDirection d = u_charDirection(c);
  return d == U_WHITE_SPACE_NEUTRAL || d == U_BLOCK_SEPARATOR || d == U_SEGMENT_SEPARATOR ||
         u_charType(c) == U_SPACE_SEPARATOR;
}

bool is_digit(char32_t cp) {
  int32_t type = u_getIntPropertyValue(static_cast<UChar32>(cp), UCHAR_NUMERIC_TYPE);
  return type == U_NT_DECIMAL || type == U_NT_DIGIT;
}

bool is_alpha(char32_t cp) { return u_isalpha(static_cast<UChar32>(cp)); }

bool is_alnum(char32_t cp) {
  return is_alpha(cp) || u_getIntPropertyValue(static_cast<UChar32>(cp), UCHAR_NUMERIC_TYPE) != U_NT_NONE;
}

bool is_printable(char32_t cp) {
  if (cp == ' ') return true;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_SURROGATE:
    case U_PRIVATE_USE_CHAR:
    case U_UNASSIGNED:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
    case U_SPACE_SEPARATOR: return false;
    default: return cp <= 0x10FFFF;
  }
}

std::string upper(std::string_view s) {
  std::string out;
  for (const Char& c : decode_all(s)) append_mapped(out, c, Case::Upper);
  return out;
}

std::string lower(std::string_view s) {
  std::vector<Char> cs = decode_all(s);
  std::string out;
  for (size_t i = 0; i < cs.size(); ++i) append_lower(out, cs, i);
  return out;
}

std::string swapcase(std::string_view s) {
  std::vector<Char> cs = decode_all(s);
  std::string out;
  for (size_t i = 0; i < cs.size(); ++i) {
    if (has(cs[i], UCHAR_UPPERCASE)) {
      append_lower(out, cs, i);
    } else if (has(cs[i], UCHAR_LOWERCASE)) {
      append_mapped(out, cs[i], Case::Upper);
    } else {
      out += cs[i].bytes;
    }
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::vector<Char> cs = decode_all(s);
  std::string out;
  for (size_t i = 0; i < cs.size(); ++i) {
    if (i == 0) {
      append_mapped(out, cs[i], Case::Title);
    } else {
      append_lower(out, cs, i);
    }
  }
  return out;
}

std::string title(std::string_view s) {
  std::vector<Char> cs = decode_all(s);
  std::string out;
  bool previous_cased = false;
  for (size_t i = 0; i < cs.size(); ++i) {
    if (previous_cased) {
      append_lower(out, cs, i);
    } else {
      append_mapped(out, cs[i], Case::Title);
    }
    previous_cased = has(cs[i], UCHAR_CASED);
  }
  return out;
}

std::string jinja_title(std::string_view s) {
  std::vector<Char> cs = decode_all(s);
  std::string out;
  for (size_t i = 0; i < cs.size(); ++i) {
    bool starts_piece = i == 0 || jinja_word_boundary(cs[i].cp) != jinja_word_boundary(cs[i - 1].cp);
    if (starts_piece) {
      append_mapped(out, cs[i], Case::Upper);
    } else {
      append_lower(out, cs, i);
    }
  }
  return out;
}

bool is_lower(std::string_view s) {
  bool cased = false;
  for (const Char& c : decode_all(s)) {
    if (has(c, UCHAR_UPPERCASE) || is_titlecase(c)) return false;
    cased = cased || has(c, UCHAR_LOWERCASE);
  }
  return cased;
}

bool is_upper(std::string_view s) {
  bool cased = false;
  for (const Char& c : decode_all(s)) {
    if (has(c, UCHAR_LOWERCASE) || is_titlecase(c)) return false;
    cased = cased || has(c, UCHAR_UPPERCASE);
  }
  return cased;
}

}  // namespace tunekit::jinja::text
