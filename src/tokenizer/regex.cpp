#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "tokenizer/utf8.h"
#include "tunekit/error.h"

namespace tunekit {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

// Per-thread match state: match data for group 0 and a JIT stack big enough for long runs of
// whitespace (the default 32 KiB is not).
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  MatchState() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~MatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

Regex::Regex(const std::string& pattern, bool literal) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  const uint32_t options = literal ? (PCRE2_LITERAL | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF)
                                   : (PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF);
  auto* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error, &offset,
                             nullptr);
  check(code != nullptr, "regex '", pattern, "': ", pcre2_message(error), " at offset ", offset);
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter where JIT is unavailable
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::vector<Span> Regex::find_all(std::string_view text) const {
  MatchState& state = match_state();
  auto* code = static_cast<pcre2_code*>(code_);
  std::vector<Span> spans;
  size_t pos = 0;
  while (pos < text.size()) {
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos, 0, state.data,
                               state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    check(rc >= 0, "regex '", pattern_, "': ", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.data);
    if (ov[1] > ov[0]) {
      spans.push_back({ov[0], ov[1]});
      pos = ov[1];
    } else {
      pos = ov[0] + utf8::char_len(text, ov[0]);
    }
  }
  return spans;
}

}  // namespace tunekit
