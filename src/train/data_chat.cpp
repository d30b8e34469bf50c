// SampleEncoder::chat: a conversation rendered by the model's chat template, with the assistant
// turns found by rendering incrementally, so it works for any template:
//   before_i  = render(messages[0, i), add_generation_prompt=true)   ... up to the assistant opener
//   through_i = render(messages[0, i])                                 ... through assistant turn i
//   full      = render(messages)                                       what is tokenized
// Turn i is full[|before_i|, |through_i|) (both must be prefixes of full); its content is where
// messages[i].content appears in it. Character boundaries become token boundaries by comparing the
// encoding of full's prefix with the encoding of full (SampleEncoder::token_boundary).
#include <algorithm>

#include "tunekit/error.h"
#include "tunekit/tokenizer/chat_template.h"
#include "tunekit/tokenizer/tokenizer.h"
#include "train/data_records.h"

namespace tunekit {

namespace {

using Json = nlohmann::ordered_json;

Json head(const Json& messages, size_t n) {
  return Json(messages.begin(), messages.begin() + std::ptrdiff_t(n));
}

std::string_view trim(std::string_view s) {
  const char* space = " \t\r\n";
  size_t a = s.find_first_not_of(space);
  if (a == std::string_view::npos) return {};
  return s.substr(a, s.find_last_not_of(space) + 1 - a);
}

// Characters [begin, end) of assistant turn `i` in `through` (which ends with that turn):
// where its content appears after `start`, else (a template that rewrote it) an empty range at start.
std::pair<size_t, size_t> content_range(const std::string& through, size_t start, const std::string& content) {
  for (std::string_view needle : {std::string_view(content), trim(content)}) {
    if (needle.empty()) continue;
    size_t at = through.find(needle, start);
    if (at != std::string::npos) return {at, at + needle.size()};
  }
  return {start, start};
}

}  // namespace

std::string SampleEncoder::render(const Json& messages, const Json& tools, bool add_generation_prompt) const {
  Json context;
  context["messages"] = messages;
  context["tools"] = tools;
  context["documents"] = nullptr;
  context["add_generation_prompt"] = add_generation_prompt;
  context["bos_token"] = tok_.bos_token();
  context["eos_token"] = tok_.eos_token();
  try {
    return chat_->render(context);
  } catch (const Error& e) {
    fail("chat template: ", e.what());
  }
}

Sample SampleEncoder::chat(const Json& messages, const Json& tools, size_t first_trainable) const {
  check(chat_ != nullptr, "chat records need the model's chat template and it has none "
        "(use text or prompt/completion records, or give the template)");
  auto is_assistant = [](const Json& m) { return m["role"] == "assistant"; };
  if (std::none_of(messages.begin() + std::ptrdiff_t(first_trainable), messages.end(), is_assistant)) {
    std::string roles;
    for (const Json& m : messages) roles += (roles.empty() ? "" : ", ") + m["role"].get<std::string>();
    fail("no assistant message", first_trainable > 0 ? " in the completion" : "", ": nothing to learn from (roles: ",
         roles, ")");
  }
  const std::string full = render(messages, tools, false);
  Sample s;
  s.tokens = encode(full);
  s.weights.assign(s.tokens.size(), prompt_weight_);

  for (size_t i = first_trainable; i < messages.size(); ++i) {
    if (!is_assistant(messages[i])) continue;
    const std::string through = render(head(messages, i + 1), tools, false);
    check(full.starts_with(through), "the chat template renders messages[0..", i, "] differently once later "
          "messages follow, so assistant turn ", i, " cannot be located");
    size_t start = 0;
    if (std::string before = render(head(messages, i), tools, true); through.starts_with(before)) {
      start = before.size();
    } else {  // the generation prompt differs from the rendered opener: start after the previous turn
      std::string previous = render(head(messages, i), tools, false);
      check(through.starts_with(previous), "the chat template renders messages[0..", i - 1,
            "] differently once an assistant turn follows, so assistant turn ", i, " cannot be located");
      start = previous.size();
    }
    auto [c0, c1] = content_range(through, start, messages[i]["content"].get<std::string>());
    const bool found = c1 > c0;
    size_t t0 = token_boundary(full, c0, s.tokens);
    size_t t1 = found ? std::max(t0, token_boundary(full, c1, s.tokens)) : t0;
    size_t t_end = std::max(t1, token_boundary(full, through.size(), s.tokens));
    // Train the content and the turn's end up to its first stop token (the model learns to stop).
    size_t t_stop = t1;
    while (t_stop < t_end && !is_stop(s.tokens[t_stop])) ++t_stop;
    const bool stopped = t_stop < t_end;
    size_t t_last = stopped ? t_stop + 1 : (found ? t1 : t_end);
    std::fill(s.weights.begin() + std::ptrdiff_t(t0), s.weights.begin() + std::ptrdiff_t(t_last), 1.0f);
    if (!stopped && i + 1 == messages.size() && eos_ >= 0) {  // the template closes no turn: add EOS
      s.tokens.push_back(eos_);
      s.weights.push_back(1.0f);
    }
  }
  add_bos(s);
  return s;
}

}  // namespace tunekit
