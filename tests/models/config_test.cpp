#include <gtest/gtest.h>

#include "tunekit/error.h"
#include "tunekit/models/config.h"
#include "../../src/models/weight_names.h"

using namespace tunekit;
using nlohmann::json;

namespace {

json smollm2_like() {
  return json::parse(R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152,
    "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
    "num_key_value_heads": 3, "rms_norm_eps": 1e-5, "rope_theta": 100000, "tie_word_embeddings": true,
    "max_position_embeddings": 8192, "hidden_act": "silu"})");
}

std::string error_of(const json& j) {
  try {
    ModelConfig::from_hf_json(j, "cfg.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, ReadsHfConfig) {
  ModelConfig c = ModelConfig::from_hf_json(smollm2_like(), "cfg.json");
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.d_head, 64);
  EXPECT_EQ(c.d_kv(), 192);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_DOUBLE_EQ(c.rope.theta, 100000);
}

TEST(ModelConfig, HfJsonRoundTrip) {
  json j = smollm2_like();
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  ModelConfig a = ModelConfig::from_hf_json(j, "a");
  ModelConfig b = ModelConfig::from_hf_json(a.to_hf_json(), "b");
  EXPECT_EQ(b.rope.scaling, "llama3");
  EXPECT_DOUBLE_EQ(b.rope.factor, 32.0);
  EXPECT_EQ(b.n_head_kv, a.n_head_kv);
  EXPECT_EQ(b.to_hf_json(), a.to_hf_json());
}

TEST(ModelConfig, Qwen2HasQkvBias) {
  json j = smollm2_like();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["model_type"] = "qwen2";
  EXPECT_TRUE(ModelConfig::from_hf_json(j, "q").qkv_bias);
}

TEST(ModelConfig, BadConfigsNameTheProblem) {
  json j = smollm2_like();
  j["architectures"] = {"GPTNeoXForCausalLM"};
  j["model_type"] = "gpt_neox";
  EXPECT_NE(error_of(j).find("unsupported architecture 'GPTNeoXForCausalLM'"), std::string::npos) << error_of(j);

  j = smollm2_like();
  j.erase("hidden_size");
  EXPECT_NE(error_of(j).find("missing \"hidden_size\""), std::string::npos);

  j = smollm2_like();
  j["num_key_value_heads"] = 4;  // 9 heads do not split into 4 groups
  EXPECT_NE(error_of(j).find("multiple of num_key_value_heads"), std::string::npos);

  j = smollm2_like();
  j["vocab_size"] = "many";
  EXPECT_NE(error_of(j).find("\"vocab_size\" must be an integer"), std::string::npos);

  j = smollm2_like();
  j["num_hidden_layers"] = -3;
  EXPECT_NE(error_of(j).find("num_hidden_layers must be a positive"), std::string::npos);

  j = smollm2_like();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_NE(error_of(j).find("'yarn' is not supported"), std::string::npos);

  // Strings of the wrong type (found by fuzz_config_json: they used to escape as json type_error).
  j = smollm2_like();
  j["hidden_act"] = 0.0;
  EXPECT_NE(error_of(j).find("\"hidden_act\" must be a string, got 0.0"), std::string::npos) << error_of(j);
  j = smollm2_like();
  j["rope_scaling"] = {{"type", json::array()}, {"factor", 4.0}};
  EXPECT_NE(error_of(j).find("\"type\" must be a string"), std::string::npos) << error_of(j);
  j = smollm2_like();
  j["rope_scaling"] = {{"rope_type", 2}, {"type", "linear"}};
  EXPECT_NE(error_of(j).find("\"rope_type\" must be a string"), std::string::npos) << error_of(j);
  j = smollm2_like();
  j["hidden_act"] = nullptr;  // null means the default, as for the other optional fields
  EXPECT_EQ(error_of(j), "");

  EXPECT_NE(error_of(json::array()).find("expected a JSON object"), std::string::npos);
}

TEST(RopeRows, PermutationsAreInverseAndMatchTheHfConverter) {
  // 2 heads of d_head 4, one column holding the row index: HF's convert permute maps
  // interleaved row (h, i, j) to rotate-half row (h, j, i).
  Tensor t = Tensor::zeros(DType::F32, {8, 1});
  for (int r = 0; r < 8; ++r) t.as<float>()[r] = float(r);
  Tensor half = rope_rows_interleaved_to_half(t, 2);
  const float expected[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  for (int r = 0; r < 8; ++r) EXPECT_EQ(half.as<float>()[r], expected[r]) << r;
  Tensor back = rope_rows_half_to_interleaved(half, 2);
  for (int r = 0; r < 8; ++r) EXPECT_EQ(back.as<float>()[r], float(r));
}

}  // namespace
