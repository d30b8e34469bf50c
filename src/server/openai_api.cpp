// Parsing OpenAI request bodies and building the response, chunk and error objects.
#include "openai_api.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <span>

#include "tunekit/error.h"
#include "tunekit/tokenizer/chat_template.h"

namespace tunekit::server {

using nlohmann::json;

namespace {

[[noreturn]] void bad_field(const std::string& param, const std::string& message) {
  throw ApiError(400, "'" + param + "': " + message, "invalid_request_error", param);
}

// number_float accepts any number; number_integer signed or unsigned integers.
bool has_type(const json& v, json::value_t type) {
  switch (type) {
    case json::value_t::number_float: return v.is_number();
    case json::value_t::number_integer: return v.is_number_integer();
    default: return v.type() == type;
  }
}

// body[key] when present and not null, checked against a JSON type.
const json* field(const json& body, const char* key, json::value_t type, const char* type_name) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  if (!has_type(*it, type)) bad_field(key, std::string("must be ") + type_name);
  return &*it;
}

std::vector<std::string> parse_stop(const json& body) {
  auto it = body.find("stop");
  if (it == body.end() || it->is_null()) return {};
  if (it->is_string()) return {it->get<std::string>()};
  if (!it->is_array()) bad_field("stop", "must be a string or an array of strings");
  std::vector<std::string> stop;
  for (const json& s : *it) {
    if (!s.is_string()) bad_field("stop", "must be a string or an array of strings");
    if (!s.get<std::string>().empty()) stop.push_back(s.get<std::string>());
  }
  if (stop.size() > 4) bad_field("stop", "at most 4 stop strings are allowed");
  return stop;
}

// A message's content: a string, or an array of {"type": "text", "text": ...} parts; null (an
// assistant turn that only called tools) is empty.
std::string message_content(const json& content, size_t i) {
  if (content.is_null()) return "";
  const std::string param = "messages[" + std::to_string(i) + "].content";
  try {
    return chat_content_text(content, param);
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "invalid_request_error", param);
  }
}

std::vector<ChatMessage> parse_messages(const json& body) {
  const json* messages = field(body, "messages", json::value_t::array, "an array of messages");
  if (!messages || messages->empty()) bad_field("messages", "is required and must not be empty");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      bad_field("messages[" + std::to_string(i) + "]", "must be an object with a string 'role'");
    out.push_back({m["role"].get<std::string>(), message_content(m.value("content", json()), i)});
  }
  return out;
}

std::string parse_prompt(const json& body) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) bad_field("prompt", "is required");
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) return (*it)[0].get<std::string>();
  bad_field("prompt", "must be a string (token arrays and batches of prompts are not supported)");
}

// A number field within [lo, hi], or nullopt when absent.
std::optional<float> number_in(const json& body, const char* key, double lo, double hi) {
  const json* v = field(body, key, json::value_t::number_float, "a number");
  if (!v) return std::nullopt;
  if (!(*v >= lo && *v <= hi)) bad_field(key, "must be between " + json(lo).dump() + " and " + json(hi).dump());
  return v->get<float>();
}

// OpenAI's logit_bias: {"TOKEN_ID": BIAS, ...}, ids as decimal strings below n_vocab, -100 <= BIAS <= 100.
std::vector<std::pair<int32_t, float>> parse_logit_bias(const json& body, int64_t n_vocab) {
  const json* map = field(body, "logit_bias", json::value_t::object, "an object of token id: bias");
  if (!map) return {};
  std::vector<std::pair<int32_t, float>> out;
  for (const auto& [key, bias] : map->items()) {
    const bool digits = !key.empty() && key.size() <= 10 && key.find_first_not_of("0123456789") == std::string::npos;
    const int64_t id = digits ? std::stoll(key) : -1;
    if (id < 0 || id >= n_vocab)
      bad_field("logit_bias", "'" + key + "' is not a token id (0.." + std::to_string(n_vocab - 1) + ")");
    if (!bias.is_number() || !(bias >= -100 && bias <= 100))
      bad_field("logit_bias", "the bias of token " + key + " must be a number between -100 and 100");
    out.emplace_back(int32_t(id), bias.get<float>());
  }
  return out;
}

// OpenAI fields this server cannot honour are refused when they ask for something, rather than
// ignored: a client asking for tool calls, JSON output or several candidates learns it at once.
void refuse_unsupported(Endpoint endpoint, const json& body) {
  for (const char* key : {"tools", "functions"})
    if (const json* v = field(body, key, json::value_t::array, "an array"); v && !v->empty())
      bad_field(key, "tool and function calling are not supported by this server");
  if (const json* f = field(body, "response_format", json::value_t::object, "an object")) {
    const json* type = field(*f, "type", json::value_t::string, "a string");
    if (type && *type != "text")
      bad_field("response_format", "only {\"type\": \"text\"} is supported (no JSON mode or schemas)");
  }
  if (const json* b = field(body, "best_of", json::value_t::number_integer, "an integer"); b && *b != 1)
    bad_field("best_of", "only best_of = 1 is supported");
  if (endpoint == Endpoint::completions)
    if (const json* sfx = field(body, "suffix", json::value_t::string, "a string"); sfx && !sfx->get<std::string>().empty())
      bad_field("suffix", "insertion (a suffix after the completion) is not supported");
}

void parse_sampling(const json& body, int64_t n_vocab, SamplingParams& s) {
  s = SamplingParams{};
  s.top_p = 1.0f;  // OpenAI's defaults: temperature 1 (below), top_p 1, no top-k/min-p
  s.top_k = 0;
  s.min_p = 0.0f;
  s.temperature = number_in(body, "temperature", 0, 2).value_or(1.0f);
  if (const json* p = field(body, "top_p", json::value_t::number_float, "a number")) {
    if (*p <= 0 || *p > 1) bad_field("top_p", "must be in (0, 1]");
    s.top_p = p->get<float>();
  }
  s.frequency_penalty = number_in(body, "frequency_penalty", -2, 2).value_or(0.0f);
  s.presence_penalty = number_in(body, "presence_penalty", -2, 2).value_or(0.0f);
  s.logit_bias = parse_logit_bias(body, n_vocab);
  if (const json* seed = field(body, "seed", json::value_t::number_integer, "an integer"))
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : uint64_t(seed->get<int64_t>());
  else
    s.seed = std::random_device{}();
}

// Token log-probabilities: chat asks with "logprobs": true and "top_logprobs" (0..20, alternatives per
// token); completions with "logprobs": N (0..20). Returns options.top_logprobs (-1: not asked).
int parse_logprobs(Endpoint endpoint, const json& body) {
  const std::string range = "must be an integer between 0 and " + std::to_string(kMaxTopLogprobs);
  auto count = [&](const char* key) -> std::optional<int> {
    const json* n = field(body, key, json::value_t::number_integer, range.c_str());
    if (!n) return std::nullopt;
    if (n->is_number_unsigned() ? n->get<uint64_t>() > uint64_t(kMaxTopLogprobs) : (*n < 0 || *n > kMaxTopLogprobs))
      bad_field(key, range);
    return n->get<int>();
  };
  if (endpoint == Endpoint::completions) return count("logprobs").value_or(-1);
  const json* asked = field(body, "logprobs", json::value_t::boolean, "true or false");
  const std::optional<int> top = count("top_logprobs");
  if (top && !(asked && *asked == true)) bad_field("top_logprobs", "needs \"logprobs\": true");
  return asked && *asked == true ? top.value_or(0) : -1;
}

}  // namespace

json error_body(const std::string& message, const std::string& type, const std::string& param, const std::string& code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? json() : json(param)},
            {"code", code.empty() ? json() : json(code)}}}};
}

ApiRequest parse_request(Endpoint endpoint, const std::string& body_text, const RequestLimits& limits) {
  const int64_t max_tokens_limit = limits.max_tokens_limit;
  json body = json::parse(body_text, nullptr, false);
  if (body.is_discarded())
    throw ApiError(400, "the request body is not valid JSON", "invalid_request_error", "", "invalid_json");
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object", "invalid_request_error");
  ApiRequest r;
  r.endpoint = endpoint;
  if (const json* m = field(body, "model", json::value_t::string, "a string")) r.model = m->get<std::string>();
  if (endpoint == Endpoint::chat)
    r.messages = parse_messages(body);
  else
    r.prompt = parse_prompt(body);
  if (const json* kb = field(body, "kb", json::value_t::string, "a string")) {
    if (endpoint != Endpoint::chat) bad_field("kb", "knowledge bases answer chat completions only (/v1/chat/completions)");
    r.kb = kb->get<std::string>();
  }
  if (const json* s = field(body, "stream", json::value_t::boolean, "true or false")) r.stream = s->get<bool>();
  if (const json* so = field(body, "stream_options", json::value_t::object, "an object"))
    if (const json* u = field(*so, "include_usage", json::value_t::boolean, "true or false")) r.include_usage = u->get<bool>();
  if (const json* n = field(body, "n", json::value_t::number_integer, "an integer"); n && *n != 1)
    bad_field("n", "only n = 1 is supported");
  refuse_unsupported(endpoint, body);
  const char* max_key = endpoint == Endpoint::chat && body.contains("max_completion_tokens") ? "max_completion_tokens"
                                                                                              : "max_tokens";
  r.options.max_tokens = std::min(limits.default_max_tokens, max_tokens_limit);
  if (const json* n = field(body, max_key, json::value_t::number_integer, "an integer")) {
    const bool fits = n->is_number_unsigned() ? n->get<uint64_t>() <= uint64_t(max_tokens_limit)
                                              : n->get<int64_t>() >= 0 && n->get<int64_t>() <= max_tokens_limit;
    if (!fits) bad_field(max_key, "must be between 0 and " + std::to_string(max_tokens_limit) + " (the server's --max-tokens-limit)");
    r.options.max_tokens = n->get<int64_t>();
  }
  r.options.top_logprobs = parse_logprobs(endpoint, body);
  r.options.continues_prompt = endpoint == Endpoint::completions;  // chat answers stand on their own
  if (const json* echo = field(body, "echo", json::value_t::boolean, "true or false"); echo && *echo == true) {
    if (endpoint == Endpoint::chat) bad_field("echo", "is a /v1/completions parameter");
    r.echo = true;
  }
  r.options.stop = parse_stop(body);
  parse_sampling(body, limits.n_vocab, r.options.sampling);
  return r;
}

ResponseHeader new_response_header(Endpoint endpoint, const std::string& model) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t boot = std::random_device{}();
  char id[64];
  std::snprintf(id, sizeof id, "%s-%08llx%06llx", endpoint == Endpoint::chat ? "chatcmpl" : "cmpl",
                (unsigned long long)(boot & 0xffffffffu), (unsigned long long)++counter);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {id, int64_t(std::chrono::duration_cast<std::chrono::seconds>(now).count()), model};
}

json usage_json(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

namespace {

json envelope(Endpoint endpoint, const ResponseHeader& h, bool chunk) {
  const char* object = endpoint == Endpoint::chat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                                  : "text_completion";
  return {{"id", h.id}, {"object", object}, {"created", h.created}, {"model", h.model}};
}

// UTF-8 bytes as OpenAI's "bytes": a list of integers.
json bytes_json(const std::string& text) {
  json bytes = json::array();
  for (unsigned char c : text) bytes.push_back(int(c));
  return bytes;
}

// Chat's "logprobs": {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}.
json chat_logprobs(std::span<const TokenLogprob> entries) {
  json content = json::array();
  for (const TokenLogprob& e : entries) {
    json top = json::array();
    for (const TopLogprob& t : e.top) top.push_back({{"token", t.text}, {"logprob", t.logprob}, {"bytes", bytes_json(t.text)}});
    content.push_back({{"token", e.text}, {"logprob", e.logprob}, {"bytes", bytes_json(e.text)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

// Completions' "logprobs": parallel lists tokens, token_logprobs, top_logprobs (one {text: logprob}
// object per token, null when no alternatives were asked for) and text_offset (bytes into the text);
// an echoed prompt's first token has null for its logprob and alternatives.
json completion_logprobs(std::span<const TokenLogprob> entries, int top_logprobs) {
  json tokens = json::array(), logprobs = json::array(), tops = json::array(), offsets = json::array();
  for (const TokenLogprob& e : entries) {
    tokens.push_back(e.text);
    logprobs.push_back(e.scored ? json(e.logprob) : json());  // an echoed prompt's first token: null
    offsets.push_back(e.text_offset);
    if (top_logprobs == 0) continue;
    json top = json::object();
    for (const TopLogprob& t : e.top)
      if (!top.contains(t.text)) top[t.text] = t.logprob;  // two tokens of the same text: the likelier
    tops.push_back(e.scored ? top : json());
  }
  return {{"tokens", tokens}, {"token_logprobs", logprobs}, {"top_logprobs", top_logprobs == 0 ? json() : tops},
          {"text_offset", offsets}};
}

json logprobs_json(Endpoint endpoint, std::span<const TokenLogprob> entries, int top_logprobs) {
  if (top_logprobs < 0) return nullptr;
  return endpoint == Endpoint::chat ? chat_logprobs(entries) : completion_logprobs(entries, top_logprobs);
}

}  // namespace

json completion_json(Endpoint endpoint, const ResponseHeader& h, const GenerateResult& r, int top_logprobs) {
  json out = envelope(endpoint, h, false);
  json choice = {{"index", 0}};
  if (endpoint == Endpoint::chat)
    choice["message"] = {{"role", "assistant"}, {"content", r.text}};
  else
    choice["text"] = r.text;
  choice["logprobs"] = logprobs_json(endpoint, r.logprobs, top_logprobs);
  choice["finish_reason"] = r.finish_reason;
  out["choices"] = json::array({choice});
  out["usage"] = usage_json(r.n_prompt, int64_t(r.tokens.size()));
  return out;
}

json chunk_json(Endpoint endpoint, const ResponseHeader& h, const StreamPiece& piece,
                const std::optional<std::string>& finish_reason, bool role_chunk) {
  json out = envelope(endpoint, h, true);
  json choice = {{"index", 0}};
  if (endpoint == Endpoint::chat) {
    json delta = json::object();
    if (role_chunk) delta["role"] = "assistant";
    if (!finish_reason) delta["content"] = piece.text;
    choice["delta"] = delta;
  } else {
    choice["text"] = piece.text;
  }
  choice["logprobs"] = piece.logprobs.empty() ? json() : logprobs_json(endpoint, piece.logprobs, piece.top_logprobs);
  choice["finish_reason"] = finish_reason ? json(*finish_reason) : json();
  out["choices"] = json::array({choice});
  return out;
}

json usage_chunk_json(Endpoint endpoint, const ResponseHeader& h, const GenerateResult& r) {
  json out = envelope(endpoint, h, true);
  out["choices"] = json::array();
  out["usage"] = usage_json(r.n_prompt, int64_t(r.tokens.size()));
  return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& j) { return "data: " + dump(j) + "\n\n"; }

}  // namespace tunekit::server
