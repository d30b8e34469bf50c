// Embeddings: request parsing, the LM's mean-pooled hidden states, base64, and the response.
#include "embeddings.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model_choice.h"
#include "openai_api.h"
#include "tunekit/models/forward.h"

namespace tunekit::server {

using nlohmann::json;

namespace {

constexpr size_t kMaxInputs = 2048;        // OpenAI's limit on inputs per request
constexpr int64_t kChunkTokens = 512;      // tokens per forward pass

[[noreturn]] void bad_input(const std::string& param, const std::string& message) {
  throw ApiError(400, "'" + param + "': " + message, "invalid_request_error", param);
}

std::vector<int32_t> token_array(const json& a, const std::string& param) {
  if (a.empty()) bad_input(param, "a token array must not be empty");
  std::vector<int32_t> ids;
  for (const json& t : a) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
      bad_input(param, "token ids must be non-negative integers");
    ids.push_back(t.get<int32_t>());
  }
  return ids;
}

void parse_input(const json& input, EmbeddingsRequest& r) {
  const char* shapes = "must be a string, an array of strings, an array of token ids or an array of token-id arrays";
  if (input.is_string()) return r.texts.push_back(input.get<std::string>());
  if (!input.is_array() || input.empty()) bad_input("input", std::string(shapes) + " (not empty)");
  if (input.size() > kMaxInputs) bad_input("input", "at most " + std::to_string(kMaxInputs) + " inputs per request");
  if (input[0].is_number_integer()) return r.ids.push_back(token_array(input, "input"));
  for (size_t i = 0; i < input.size(); ++i) {
    const json& item = input[i];
    const std::string param = "input[" + std::to_string(i) + "]";
    if (item.is_string() && r.ids.empty())
      r.texts.push_back(item.get<std::string>());
    else if (item.is_array() && r.texts.empty())
      r.ids.push_back(token_array(item, param));
    else
      bad_input(param, std::string(shapes) + "; one kind per request");
  }
}

}  // namespace

EmbeddingsRequest parse_embeddings_request(const std::string& body_text) {
  const json body = json::parse(body_text, nullptr, false);
  if (body.is_discarded())
    throw ApiError(400, "the request body is not valid JSON", "invalid_request_error", "", "invalid_json");
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object", "invalid_request_error");
  EmbeddingsRequest r;
  if (auto m = body.find("model"); m != body.end() && !m->is_null()) {
    if (!m->is_string()) bad_input("model", "must be a string");
    r.model = m->get<std::string>();
  }
  auto input = body.find("input");
  if (input == body.end() || input->is_null()) bad_input("input", "is required");
  parse_input(*input, r);
  if (auto f = body.find("encoding_format"); f != body.end() && !f->is_null()) {
    if (*f != "float" && *f != "base64") bad_input("encoding_format", "must be \"float\" or \"base64\"");
    r.base64 = *f == "base64";
  }
  if (auto d = body.find("dimensions"); d != body.end() && !d->is_null()) {
    if (!d->is_number_integer() || d->get<int64_t>() <= 0) bad_input("dimensions", "must be a positive integer");
    r.dimensions = d->get<int64_t>();
  }
  return r;
}

std::vector<float> lm_embedding(const Model& model, const std::vector<int32_t>& tokens, const LoraAdapter* adapter) {
  const int64_t T = int64_t(tokens.size()), D = model.config.d_model;
  KvCache cache(model.config, T);
  Workspace ws;
  std::vector<float> hidden;      // [chunk, D]
  std::vector<double> sum(size_t(D), 0.0);  // [D]
  for (int64_t pos = 0; pos < T; pos += kChunkTokens) {
    const int64_t n = std::min(kChunkTokens, T - pos);
    hidden.resize(size_t(n * D));
    forward_hidden(model, tokens.data() + pos, n, pos, cache, ws, hidden.data(), adapter);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < D; ++j) sum[size_t(j)] += hidden[size_t(t * D + j)];
  }
  double norm = 0;
  for (double s : sum) norm += s * s;
  norm = std::sqrt(norm);
  std::vector<float> out(static_cast<size_t>(D));  // [D]
  for (int64_t j = 0; j < D; ++j) out[size_t(j)] = norm > 0 ? float(sum[size_t(j)] / norm) : 0.0f;
  return out;  // the mean's direction: dividing by T first would not change it
}

std::string base64_floats(const std::vector<float>& values) {
  static const char* const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static_assert(sizeof(float) == 4);
  std::string bytes(values.size() * 4, '\0');
  for (size_t i = 0; i < values.size(); ++i) {  // little-endian regardless of the host
    uint32_t u;
    std::memcpy(&u, &values[i], 4);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + size_t(b)] = char((u >> (8 * b)) & 0xff);
  }
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = 0;
    for (size_t k = 0; k < 3; ++k) group = (group << 8) | (k < n ? uint8_t(bytes[i + k]) : 0u);
    for (size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(group >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

json EmbeddingsService::handle(const std::string& body, int64_t* prompt_tokens) {
  const EmbeddingsRequest r = parse_embeddings_request(body);
  const ModelChoice choice = choose_model(served_, r.model, true);
  const bool encoder = choice.kind == ModelChoice::Kind::encoder;
  const int64_t dim = encoder ? served_.encoder->dim() : served_.model->config.d_model;
  if (r.dimensions && r.dimensions != dim)
    bad_input("dimensions", "the model '" + choice.name + "' gives " + std::to_string(dim) +
                                "-dimensional vectors; other sizes are not supported");
  std::vector<std::vector<float>> vectors;
  int64_t n_tokens = 0;
  if (encoder) {
    if (!r.ids.empty())
      bad_input("input", "the sentence encoder '" + choice.name + "' takes text only; token ids are the base "
                         "model's ('" + served_.name + "')");
    for (const std::string& t : r.texts) n_tokens += served_.encoder->count_tokens(t, rag::EncodeRole::Passage);
    std::lock_guard lock(mutex_);
    const std::vector<float> flat = served_.encoder->encode(r.texts, rag::EncodeRole::Passage);  // [n, dim]
    for (size_t i = 0; i < r.texts.size(); ++i)
      vectors.emplace_back(flat.begin() + ptrdiff_t(i * size_t(dim)), flat.begin() + ptrdiff_t((i + 1) * size_t(dim)));
  } else {
    std::vector<std::vector<int32_t>> inputs = r.ids;
    for (const std::string& t : r.texts) inputs.push_back(served_.tokenizer->encode(t, true));
    const int64_t n_vocab = served_.model->config.n_vocab, n_ctx = served_.model->config.n_ctx;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string param = inputs.size() == 1 ? "input" : "input[" + std::to_string(i) + "]";
      for (int32_t id : inputs[i])
        if (id >= n_vocab) bad_input(param, "token id " + std::to_string(id) + " is not below the vocabulary size " +
                                                std::to_string(n_vocab));
      if (inputs[i].empty()) bad_input(param, "has no tokens");
      if (int64_t(inputs[i].size()) > n_ctx)
        throw ApiError(400, "'" + param + "' has " + std::to_string(inputs[i].size()) + " tokens; the model's context is " +
                       std::to_string(n_ctx), "invalid_request_error", param, "context_length_exceeded");
      n_tokens += int64_t(inputs[i].size());
    }
    std::lock_guard lock(mutex_);
    for (const auto& ids : inputs) vectors.push_back(lm_embedding(*served_.model, ids, choice.adapter.get()));
  }
  json data = json::array();
  for (size_t i = 0; i < vectors.size(); ++i)
    data.push_back({{"object", "embedding"}, {"index", i},
                    {"embedding", r.base64 ? json(base64_floats(vectors[i])) : json(vectors[i])}});
  *prompt_tokens = n_tokens;
  return {{"object", "list"}, {"data", data}, {"model", choice.name},
          {"usage", {{"prompt_tokens", n_tokens}, {"total_tokens", n_tokens}}}};
}

}  // namespace tunekit::server
