// POST /v1/embeddings: with the base LM, each vector is the L2-normalised mean of forward_hidden
// over the text's tokens (computed here in one pass); with an encoder, what the encoder gives;
// base64 is the same floats' bytes; token-id input equals the text's tokens; usage counts tokens;
// bad input is 400, an unknown model 404.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "../rag/encoder_test_util.h"
#include "server/embeddings.h"
#include "server_fixture.h"
#include "tunekit/models/forward.h"
#include "tunekit/rag/encoder.h"

using namespace tunekit;
using nlohmann::json;

namespace {

// The reference: one forward_hidden pass over all tokens, mean, L2 norm.
std::vector<float> mean_hidden(const Model& model, const std::vector<int32_t>& ids, const LoraAdapter* adapter = nullptr) {
  const int64_t T = int64_t(ids.size()), D = model.config.d_model;
  KvCache cache(model.config, model.config.n_ctx);
  Workspace ws;
  std::vector<float> hidden(size_t(T * D));
  forward_hidden(model, ids.data(), T, 0, cache, ws, hidden.data(), adapter);
  std::vector<double> mean(size_t(D), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < D; ++j) mean[size_t(j)] += hidden[size_t(t * D + j)] / double(T);
  double norm = 0;
  for (double m : mean) norm += m * m;
  std::vector<float> out;
  for (double m : mean) out.push_back(float(m / std::sqrt(norm)));
  return out;
}

void expect_near(const json& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_TRUE(got.is_array());
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i].get<float>(), want[i], tol) << i;
}

// Decodes standard base64 (the test's own decoder) into float32s.
std::vector<float> decode_base64_floats(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    acc = (acc << 6) | uint32_t(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += char((acc >> bits) & 0xff);
    }
  }
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);  // little-endian host
  return out;
}

class Embeddings : public test::StoriesServer {
 protected:
  json embed(const json& body, int status = 200) {
    auto res = server_->post("/v1/embeddings", body);
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, status) << res->body;
    return json::parse(res->body);
  }
};

TEST_F(Embeddings, BaseModelVectorsAreTheMeanOfTheHiddenStates) {
  const json out = embed({{"model", "stories260K"}, {"input", {"Once upon a time", "The cat sat on the mat."}}});
  EXPECT_EQ(out["object"], "list");
  EXPECT_EQ(out["model"], "stories260K");
  ASSERT_EQ(out["data"].size(), 2u);
  const auto ids0 = tok_->encode("Once upon a time", true), ids1 = tok_->encode("The cat sat on the mat.", true);
  EXPECT_EQ(out["data"][1]["index"], 1);
  EXPECT_EQ(out["data"][0]["object"], "embedding");
  expect_near(out["data"][0]["embedding"], mean_hidden(*model_, ids0));
  expect_near(out["data"][1]["embedding"], mean_hidden(*model_, ids1));
  EXPECT_EQ(out["usage"]["prompt_tokens"], int64_t(ids0.size() + ids1.size()));
  EXPECT_EQ(out["usage"]["total_tokens"], out["usage"]["prompt_tokens"]);
}

TEST_F(Embeddings, TokenIdsBase64AndAdapters) {
  const auto ids = tok_->encode("Lily went to the park", true);
  const json by_text = embed({{"input", "Lily went to the park"}});
  const json by_ids = embed({{"input", ids}});
  EXPECT_EQ(by_ids["data"][0]["embedding"], by_text["data"][0]["embedding"]);
  const json batch_of_ids = embed({{"input", {ids, std::vector<int32_t>(ids.begin(), ids.begin() + 2)}}});
  ASSERT_EQ(batch_of_ids["data"].size(), 2u);
  EXPECT_EQ(batch_of_ids["usage"]["prompt_tokens"], int64_t(ids.size() + 2));

  const json b64 = embed({{"input", "Lily went to the park"}, {"encoding_format", "base64"}});
  ASSERT_TRUE(b64["data"][0]["embedding"].is_string());
  const std::vector<float> decoded = decode_base64_floats(b64["data"][0]["embedding"]);
  ASSERT_EQ(decoded.size(), size_t(model_->config.d_model));
  for (size_t i = 0; i < decoded.size(); ++i) EXPECT_EQ(decoded[i], by_text["data"][0]["embedding"][i].get<float>());

  const json adapted = embed({{"model", "tiny-lora"}, {"input", "Lily went to the park"}});
  expect_near(adapted["data"][0]["embedding"], mean_hidden(*model_, ids, adapters_->acquire("tiny-lora").get()));
  EXPECT_NE(adapted["data"][0]["embedding"], by_text["data"][0]["embedding"]);
}

TEST_F(Embeddings, Base64MatchesAKnownEncoding) {
  // 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0 (little-endian) -> "AACAPwAAAMA="
  EXPECT_EQ(server::base64_floats({1.0f, -2.0f}), "AACAPwAAAMA=");
  EXPECT_EQ(server::base64_floats({1.0f}), "AACAPw==");
}

TEST_F(Embeddings, BadInputIs400AndUnknownModel404) {
  const auto error = [&](const json& body, int status) { return embed(body, status)["error"]; };
  EXPECT_EQ(error({{"model", "stories260K"}}, 400)["param"], "input");
  EXPECT_EQ(error({{"input", json::array()}}, 400)["param"], "input");
  EXPECT_EQ(error({{"input", json::array({"text", json::array({1, 2})})}}, 400)["param"], "input[1]");
  EXPECT_EQ(error({{"input", {1, -2}}}, 400)["param"], "input");
  EXPECT_EQ(error({{"input", {1, 100000}}}, 400)["param"], "input");  // beyond the 512-token vocabulary
  EXPECT_EQ(error({{"input", "x"}, {"encoding_format", "int8"}}, 400)["param"], "encoding_format");
  EXPECT_EQ(error({{"input", "x"}, {"dimensions", 7}}, 400)["param"], "dimensions");
  EXPECT_EQ(error({{"input", std::vector<int32_t>(600, 5)}}, 400)["code"], "context_length_exceeded");
  EXPECT_EQ(error({{"model", "text-embedding-3-small"}, {"input", "x"}}, 404)["code"], "model_not_found");
  auto bad_json = server_->client().Post("/v1/embeddings", "{\"input\": ", "application/json");
  ASSERT_TRUE(bad_json);
  EXPECT_EQ(bad_json->status, 400);
  EXPECT_EQ(embed({{"input", "x"}, {"dimensions", model_->config.d_model}})["data"].size(), 1u);
}

// A server with the tests' tiny BERT encoder (tests/golden/bert/minilm_mean) beside stories260K.
class EncoderEmbeddings : public test::StoriesServer {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
    rag::EncoderOptions options;
    options.prefix_style = "none";
    encoder_ = rag::SentenceEncoder::load(test::golden_encoder_dir(), options);
    served_->encoder = encoder_.get();
    StoriesServer::SetUp();
  }
  void TearDown() override {
    StoriesServer::TearDown();
    if (served_) served_->encoder = nullptr;  // null when SetUp skipped (no ../shared)
  }
  std::unique_ptr<rag::SentenceEncoder> encoder_;
};

TEST_F(EncoderEmbeddings, TheEncoderIsListedAndIsTheDefault) {
  bool listed = false;
  const json models = json::parse(server_->client().Get("/v1/models")->body);
  for (const json& m : models["data"]) listed |= m["id"] == "minilm_mean";
  EXPECT_TRUE(listed);
  const std::vector<std::string> texts = {"the femur is the thigh bone", "insulin lowers blood glucose"};
  const std::vector<float> want = encoder_->encode(texts, rag::EncodeRole::Passage);  // [2, dim]
  for (const json& body : {json{{"input", texts}}, json{{"model", "minilm_mean"}, {"input", texts}}}) {
    auto res = server_->post("/v1/embeddings", body);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json out = json::parse(res->body);
    EXPECT_EQ(out["model"], "minilm_mean");
    for (size_t i = 0; i < 2; ++i)
      expect_near(out["data"][i]["embedding"], std::vector<float>(want.begin() + ptrdiff_t(i * encoder_->dim()),
                                                                  want.begin() + ptrdiff_t((i + 1) * encoder_->dim())));
    EXPECT_EQ(out["usage"]["prompt_tokens"], encoder_->count_tokens(texts[0], rag::EncodeRole::Passage) +
                                                 encoder_->count_tokens(texts[1], rag::EncodeRole::Passage));
  }
  auto ids = server_->post("/v1/embeddings", {{"model", "minilm_mean"}, {"input", {1, 2, 3}}});
  EXPECT_EQ(ids->status, 400) << ids->body;
  auto chat = server_->post("/v1/completions", {{"model", "minilm_mean"}, {"prompt", "x"}});
  EXPECT_EQ(chat->status, 400) << chat->body;
}

}  // namespace
