#include "tokenizer/normalizer.h"

#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"

namespace tunekit {

std::string Normalizer::apply(std::string_view text) const {
  std::string s(text);
  for (const auto& step : steps_) s = step(s);
  return s;
}

namespace normalizers {

NormalizeStep prepend(std::string prefix) {
  return [prefix = std::move(prefix)](std::string_view text) {
    return text.empty() ? std::string() : prefix + std::string(text);
  };
}

NormalizeStep replace(const std::string& pattern, bool is_regex, std::string content) {
  auto regex = std::make_shared<const Regex>(pattern, !is_regex);
  return [regex, content = std::move(content)](std::string_view text) {
    std::string out;
    size_t pos = 0;
    for (const Span& m : regex->find_all(text)) {
      out.append(text.substr(pos, m.begin - pos));
      out += content;
      pos = m.end;
    }
    out.append(text.substr(pos));
    return out;
  };
}

NormalizeStep unicode_form(unicode::Form form) {
  return [form](std::string_view text) { return unicode::normalize(text, form); };
}

NormalizeStep lowercase() {
  return [](std::string_view text) { return unicode::lowercase(text); };
}

NormalizeStep strip_accents() {
  return [](std::string_view text) { return unicode::strip_accents(unicode::normalize(text, unicode::Form::NFD)); };
}

NormalizeStep strip(bool left, bool right) {
  return [left, right](std::string_view text) {
    size_t begin = 0, end = text.size();
    auto space_at = [&](size_t pos, size_t* len) { return unicode::is_whitespace(utf8::decode(text, pos, len)); };
    size_t len = 0;
    while (left && begin < end && space_at(begin, &len)) begin += len;
    while (right && end > begin) {
      size_t back = end - 1;
      while (back > begin && (static_cast<unsigned char>(text[back]) & 0xC0) == 0x80) --back;
      if (!space_at(back, &len) || back + len != end) break;
      end = back;
    }
    return std::string(text.substr(begin, end - begin));
  };
}

NormalizeStep bert(BertNormalizeOptions options) {
  return [options](std::string_view text) {
    std::string s;
    s.reserve(text.size());
    utf8::for_each_char(text, [&](char32_t cp, size_t pos, size_t len) {
      if (options.clean_text) {
        if (cp == 0 || cp == 0xFFFD || unicode::is_control(cp)) return;
        if (unicode::is_whitespace(cp)) {
          s += ' ';
          return;
        }
      }
      const bool pad = options.handle_chinese_chars && unicode::is_chinese_char(cp);
      if (pad) s += ' ';
      s.append(text.substr(pos, len));
      if (pad) s += ' ';
    });
    if (options.strip_accents) s = unicode::strip_accents(unicode::normalize(s, unicode::Form::NFD));
    if (options.lowercase) s = unicode::lowercase(s);
    return s;
  };
}

}  // namespace normalizers
}  // namespace tunekit
