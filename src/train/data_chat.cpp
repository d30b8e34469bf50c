// SampleEncoder::chat: a conversation rendered by the model's chat template, with the assistant
// turns found by rendering incrementally, so it works for any template:
//   full      = render(messages)                                       what is tokenized
//   through_i = render(messages[0, i])                                 ... through assistant turn i
//   before_i  = render(messages[0, i), add_generation_prompt=true)   ... up to the assistant opener
// Turn i ends where through_i and full part (templates may close a rendering with text that is not
// in full, e.g. EOS or an opener) and starts where before_i and through_i part; its content is the
// last place messages[i].content appears in between. Character positions become token positions
// through SampleEncoder::token_boundary.
#include <algorithm>
#include <optional>

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

size_t common_prefix(std::string_view a, std::string_view b) {
  return size_t(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
}

// Characters [begin, end) of an assistant message's content: its last appearance in text[start, end)
// (as given, else trimmed, as templates often trim it); std::nullopt where the template rewrote it.
std::optional<std::pair<size_t, size_t>> content_range(std::string_view text, size_t start, size_t end,
                                                       const std::string& content) {
  std::string_view turn = text.substr(start, end - start);
  for (std::string_view needle : {std::string_view(content), trim(content)}) {
    if (needle.empty()) continue;
    size_t at = turn.rfind(needle);
    if (at != std::string_view::npos) return std::pair{start + at, start + at + needle.size()};
  }
  return std::nullopt;
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
    const size_t turn_end = common_prefix(full, through);
    const size_t start = std::min(turn_end, common_prefix(render(head(messages, i), tools, true), through));
    auto content = content_range(through, start, turn_end, messages[i]["content"].get<std::string>());
    // Tokens [t0, t1) touch the content (without it in sight: the whole turn); [t1, t_end) is the
    // rest of the turn, trained up to its first stop token so the model learns to stop.
    const size_t t0 = token_boundary(full, content ? content->first : start, s.tokens).before;
    const size_t t_end = std::max(t0, token_boundary(full, turn_end, s.tokens).before);
    const size_t t1 = content ? std::clamp(token_boundary(full, content->second, s.tokens).touched, t0, t_end) : t0;
    size_t t_stop = t1;
    while (t_stop < t_end && !is_stop(s.tokens[t_stop])) ++t_stop;
    const bool stopped = t_stop < t_end;
    const size_t t_last = stopped ? t_stop + 1 : (content ? t1 : t_end);
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
