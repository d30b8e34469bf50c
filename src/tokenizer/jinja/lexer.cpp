#include "tokenizer/jinja/lexer.h"

#include <algorithm>
#include <charconv>

#include "tokenizer/jinja/text.h"
#include "tokenizer/utf8.h"
#include "tunekit/error.h"

namespace tunekit::jinja {
namespace {

// \r\n and \r become \n; one trailing newline goes (jinja2's keep_trailing_newline=False).
std::string normalize_newlines(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_digit_in_base(char c, int base) {
  if (base == 2) return c == '0' || c == '1';
  if (base == 8) return c >= '0' && c <= '7';
  if (base == 16) return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  return is_digit(c);
}

class Lexer {
 public:
  Lexer(const std::string& source, const std::string& origin) : src_(normalize_newlines(source)), origin_(origin) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      size_t tag = next_tag(pos);
      if (tag == std::string::npos) {
        emit_data(src_.substr(pos), pos);
        break;
      }
      char kind = src_[tag + 1];
      size_t after = tag + 2;
      char sign = after < src_.size() && (src_[after] == '-' || src_[after] == '+') ? src_[after] : 0;
      size_t raw_body = kind == '%' ? raw_begin_end(tag) : std::string::npos;
      emit_data(strip_before_tag(src_.substr(pos, tag - pos), sign, kind != '{', line_starting), pos);
      if (raw_body != std::string::npos) {
        pos = raw(raw_body, line_starting);
      } else if (kind == '#') {
        pos = comment(after + (sign ? 1 : 0), tag, line_starting);
      } else {
        pos = tag_body(tag, after + (sign ? 1 : 0), kind == '%', line_starting);
      }
    }
    push(TokenType::Eof, "", src_.size());
    return std::move(tokens_);
  }

 private:
  Pos position(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    return {static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
  }

  template <class... Parts>
  [[noreturn]] void fail_at(size_t offset, const Parts&... parts) const {
    Pos p = position(offset);
    fail(origin_, ":", p.line, ":", p.column, ": ", parts...);
  }

  Token& push(TokenType type, std::string text, size_t offset) {
    tokens_.push_back(Token{type, std::move(text), 0, 0.0, position(offset)});
    return tokens_.back();
  }

  void emit_data(std::string text, size_t offset) {
    if (!text.empty()) push(TokenType::Data, std::move(text), offset);
  }

  size_t next_tag(size_t pos) const {
    for (size_t i = src_.find('{', pos); i != std::string::npos && i + 1 < src_.size(); i = src_.find('{', i + 1)) {
      char c = src_[i + 1];
      if (c == '{' || c == '%' || c == '#') return i;
    }
    return std::string::npos;
  }

  size_t skip_space(size_t pos) const {
    while (pos < src_.size()) {
      size_t len = 0;
      if (!text::is_space(utf8::decode(src_, pos, &len))) break;
      pos += len;
    }
    return pos;
  }

  bool at(size_t pos, std::string_view s) const { return src_.compare(pos, s.size(), s) == 0; }

  // Whitespace control for the data before a tag: "-" strips all trailing whitespace; otherwise
  // lstrip_blocks removes spaces between the line start and a block or comment tag.
  std::string strip_before_tag(std::string text, char sign, bool lstrip_kind, bool line_starting) const {
    if (sign == '-') return text::strip(text, std::nullopt, false, true);
    if (sign == '+' || !lstrip_kind) return text;
    size_t newline = text.rfind('\n');
    size_t line_start = newline == std::string::npos ? 0 : newline + 1;
    if (line_start == 0 && !line_starting) return text;
    std::string_view tail(text.data() + line_start, text.size() - line_start);
    if (tail.empty() || !text::all_chars(tail, text::is_space)) return text;
    text.resize(line_start);
    return text;
  }

  // End of a block tag's closing delimiter at pos ("+%}", "-%}" plus whitespace, "%}" plus one
  // newline), or npos when none starts there.
  size_t block_end(size_t pos) const {
    if (at(pos, "+%}")) return pos + 3;
    if (at(pos, "-%}")) return skip_space(pos + 3);
    if (at(pos, "%}")) return pos + 2 + (at(pos + 2, "\n") ? 1 : 0);
    return std::string::npos;
  }

  // {% raw %} / {%- raw -%}: the offset just past it, or npos.
  size_t raw_begin_end(size_t tag) const {
    size_t p = tag + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    p = skip_space(p);
    if (!at(p, "raw")) return std::string::npos;
    p = skip_space(p + 3);
    if (at(p, "-%}")) return skip_space(p + 3);
    if (at(p, "%}")) return p + 2;
    return std::string::npos;
  }

  size_t raw(size_t body, bool& line_starting) {
    line_starting = src_[body - 1] == '\n';
    for (size_t k = src_.find("{%", body); k != std::string::npos; k = src_.find("{%", k + 1)) {
      size_t p = k + 2;
      char sign = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p] : 0;
      p = skip_space(p + (sign ? 1 : 0));
      if (!at(p, "endraw")) continue;
      size_t end = block_end(skip_space(p + 6));
      if (end == std::string::npos) continue;
      emit_data(strip_before_tag(src_.substr(body, k - body), sign, true, line_starting), body);
      line_starting = src_[end - 1] == '\n';
      return end;
    }
    fail_at(body, "missing end of raw directive ({% endraw %})");
  }

  size_t comment(size_t body, size_t tag, bool& line_starting) {
    size_t close = src_.find("#}", body);
    if (close == std::string::npos) fail_at(tag, "missing end of comment tag (#})");
    size_t end = close + 2;
    if (close > body && src_[close - 1] == '-') {
      end = skip_space(end);
    } else if (!(close > body && src_[close - 1] == '+') && at(end, "\n")) {
      ++end;
    }
    line_starting = src_[end - 1] == '\n';
    return end;
  }

  size_t tag_body(size_t tag, size_t pos, bool is_block, bool& line_starting) {
    push(is_block ? TokenType::BlockBegin : TokenType::VariableBegin, "", tag);
    std::vector<char> closers;
    while (pos < src_.size()) {
      if (closers.empty()) {
        size_t end = is_block ? block_end(pos)
                     : at(pos, "-}}") ? skip_space(pos + 3)
                     : at(pos, "}}")  ? pos + 2
                                      : std::string::npos;
        if (end != std::string::npos) {
          push(is_block ? TokenType::BlockEnd : TokenType::VariableEnd, "", pos);
          line_starting = src_[end - 1] == '\n';
          return end;
        }
      }
      size_t len = 0;
      if (text::is_space(utf8::decode(src_, pos, &len))) {
        pos += len;
        continue;
      }
      pos = expression_token(pos, closers);
    }
    line_starting = false;
    return pos;  // the template ended inside the tag: the parser reports it
  }

  size_t expression_token(size_t pos, std::vector<char>& closers) {
    char c = src_[pos];
    if (is_digit(c)) return number(pos);
    if (is_name_start(c)) {
      size_t end = pos;
      while (end < src_.size() && is_name_char(src_[end])) ++end;
      push(TokenType::Name, src_.substr(pos, end - pos), pos);
      return end;
    }
    if (c == '\'' || c == '"') return string_literal(pos);
    static const char* const two[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : two)
      if (at(pos, op)) {
        push(TokenType::Operator, op, pos);
        return pos + 2;
      }
    if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos)
      fail_at(pos, "unexpected character '", src_.substr(pos, utf8::char_len(src_, pos)), "'");
    if (c == '(' || c == '[' || c == '{') closers.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (closers.empty()) fail_at(pos, "unexpected '", c, "'");
      if (closers.back() != c) fail_at(pos, "unexpected '", c, "', expected '", closers.back(), "'");
      closers.pop_back();
    }
    push(TokenType::Operator, std::string(1, c), pos);
    return pos + 1;
  }

  // Digits with single underscores between them, as jinja2's number patterns allow.
  size_t digits(size_t pos, int base) const {
    size_t end = pos;
    while (end < src_.size()) {
      if (is_digit_in_base(src_[end], base)) {
        ++end;
      } else if (src_[end] == '_' && end > pos && end + 1 < src_.size() && is_digit_in_base(src_[end + 1], base)) {
        ++end;
      } else {
        break;
      }
    }
    return end;
  }

  std::string without_underscores(size_t begin, size_t end) const {
    std::string s = src_.substr(begin, end - begin);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    return s;
  }

  size_t number(size_t pos) {
    size_t int_end = digits(pos, 10);
    size_t end = int_end;
    bool is_float = false;
    bool after_dot = pos > 0 && src_[pos - 1] == '.';
    if (!after_dot && at(end, ".") && end + 1 < src_.size() && is_digit(src_[end + 1])) {
      end = digits(end + 1, 10);
      is_float = true;
    }
    if (!after_dot && end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t e = end + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (e < src_.size() && is_digit(src_[e])) {
        end = digits(e, 10);
        is_float = true;
      }
    }
    if (is_float) {
      std::string s = without_underscores(pos, end);
      Token& t = push(TokenType::Float, s, pos);
      std::from_chars(s.data(), s.data() + s.size(), t.number);
      return end;
    }
    int base = 10;
    size_t start = pos;
    if (src_[pos] == '0' && pos + 1 < src_.size()) {
      char p = static_cast<char>(src_[pos + 1] | 0x20);
      base = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 10;
      if (base != 10) {
        start = pos + 2 + (at(pos + 2, "_") ? 1 : 0);
        end = digits(start, base);
        if (end == start) fail_at(pos, "invalid integer literal");
      } else {
        end = pos + 1;  // a decimal literal may not have leading zeros: "0" ends here ("00" is one zero)
        while (end < src_.size() && (src_[end] == '0' || (src_[end] == '_' && at(end + 1, "0")))) ++end;
      }
    }
    std::string s = without_underscores(start, end);
    Token& t = push(TokenType::Integer, s, pos);
    auto result = std::from_chars(s.data(), s.data() + s.size(), t.integer, base);
    if (result.ec != std::errc()) fail_at(pos, "integer literal is too large: ", s);
    return end;
  }

  size_t string_literal(size_t pos) {
    char quote = src_[pos];
    size_t end = pos + 1;
    while (end < src_.size() && src_[end] != quote) end += src_[end] == '\\' ? 2 : 1;
    if (end >= src_.size()) fail_at(pos, "unterminated string literal");
    push(TokenType::String, unescape(pos + 1, end), pos);
    return end + 1;
  }

  uint32_t hex_escape(size_t pos, size_t n, size_t at_offset) const {
    uint32_t value = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = pos + i < src_.size() ? src_[pos + i] : 0;
      if (!is_digit_in_base(c, 16)) fail_at(at_offset, "truncated \\", src_[pos - 1], " escape in string literal");
      value = value * 16 + static_cast<uint32_t>(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return value;
  }

  // Python's unicode-escape decoding of a string literal's body (jinja2 decodes literals that way).
  std::string unescape(size_t begin, size_t end) const {
    std::string out;
    for (size_t i = begin; i < end; ++i) {
      if (src_[i] != '\\') {
        out += src_[i];
        continue;
      }
      char c = src_[++i];
      switch (c) {
        case '\n': break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x': utf8::append(out, hex_escape(i + 1, 2, i - 1)); i += 2; break;
        case 'u': utf8::append(out, hex_escape(i + 1, 4, i - 1)); i += 4; break;
        case 'U': {
          uint32_t cp = hex_escape(i + 1, 8, i - 1);
          if (cp > 0x10FFFF) fail_at(i - 1, "illegal Unicode character in string literal");
          utf8::append(out, cp);
          i += 8;
          break;
        }
        case 'N': fail_at(i - 1, "\\N{...} escapes are not supported");
        default:
          if (c >= '0' && c <= '7') {
            uint32_t cp = 0;
            size_t n = 0;
            for (; n < 3 && i + n < end && src_[i + n] >= '0' && src_[i + n] <= '7'; ++n) cp = cp * 8 + (src_[i + n] - '0');
            utf8::append(out, cp);
            i += n - 1;
          } else {
            out += '\\';  // Python keeps an unknown escape as written
            out += c;
          }
      }
    }
    return out;
  }

  std::string src_;
  std::string origin_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const std::string& origin) {
  return Lexer(source, origin).run();
}

}  // namespace tunekit::jinja
