#include "tokenizer/unicode.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "tokenizer/utf8.h"
#include "tunekit/error.h"

namespace tunekit::unicode {

namespace {

const icu::Normalizer2& normalizer_for(Form form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case Form::NFC: n = icu::Normalizer2::getNFCInstance(status); break;
    case Form::NFD: n = icu::Normalizer2::getNFDInstance(status); break;
    case Form::NFKC: n = icu::Normalizer2::getNFKCInstance(status); break;
    case Form::NFKD: n = icu::Normalizer2::getNFKDInstance(status); break;
  }
  check(U_SUCCESS(status) && n != nullptr, "ICU: cannot load the Unicode normalizer data (", u_errorName(status),
        "); hint: install libicu72");
  return *n;
}

std::string to_utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

}  // namespace

std::string normalize(std::string_view text, Form form) {
  const icu::Normalizer2& n = normalizer_for(form);
  const auto src = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  UErrorCode status = U_ZERO_ERROR;
  if (n.isNormalized(src, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  const icu::UnicodeString out = n.normalize(src, status);
  check(U_SUCCESS(status), "ICU: Unicode normalization failed (", u_errorName(status), ")");
  return to_utf8(out);
}

std::string lowercase(std::string_view text) {
  auto s = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  s.toLower(icu::Locale::getRoot());
  return to_utf8(s);
}

std::string strip_accents(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  utf8::for_each_char(text, [&](char32_t cp, size_t pos, size_t len) {
    if (u_charType(static_cast<UChar32>(cp)) != U_NON_SPACING_MARK) out.append(text.substr(pos, len));
  });
  return out;
}

bool is_whitespace(char32_t cp) {
  return cp == '\t' || cp == '\n' || cp == '\r' || u_isUWhiteSpace(static_cast<UChar32>(cp));
}

bool is_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_UNASSIGNED:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
      return true;
    default:
      return false;
  }
}

bool is_punctuation(char32_t cp) {
  const bool ascii_punct = (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
                           (cp >= 123 && cp <= 126);
  return ascii_punct || u_ispunct(static_cast<UChar32>(cp));
}

bool is_chinese_char(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace tunekit::unicode
