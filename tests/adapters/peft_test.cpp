// PEFT folders: what save_peft_adapter writes (checked against the format, not against our reader),
// round trips, the name variants PEFT produces, and clear errors for what we do not support.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "adapter_test_util.h"
#include "test_paths.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/adapters/peft.h"
#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "tunekit/io/safetensors.h"

using namespace tunekit;
using nlohmann::json;

namespace {

LoraAdapter some_adapter(const ModelConfig& c, std::vector<std::string> targets = {"q_proj", "v_proj", "down_proj"}) {
  LoraConfig cfg;
  cfg.rank = 4;
  cfg.alpha = 8;
  cfg.dropout = 0.1;
  cfg.targets = std::move(targets);
  cfg.b_std = 0.05;
  cfg.base_model = "tiny/base";
  return init_lora(c, cfg, 5);
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && a.dtype == b.dtype && std::memcmp(a.data, b.data, a.nbytes()) == 0;
}

// Writes a PEFT folder by hand: config (edited) and the given tensors.
void write_folder(const std::filesystem::path& dir, const json& config,
                  const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "adapter_config.json") << config.dump(2);
  write_safetensors(dir / "adapter_model.safetensors", tensors);
}

std::string load_error(const std::filesystem::path& dir, const ModelConfig& c) {
  try {
    load_peft_adapter(dir, c);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Peft, SaveWritesPeftsConfigKeysAndTensorNames) {
  const ModelConfig c = test::wide_config();
  LoraAdapter a = some_adapter(c);
  auto dir = test::temp_dir("peft_save") / "adapter";
  save_peft_adapter(a, c, dir);

  json j = read_json_file(dir / "adapter_config.json");
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_EQ(j["task_type"], "CAUSAL_LM");
  EXPECT_EQ(j["r"], 4);
  EXPECT_EQ(j["lora_alpha"], 8.0);
  EXPECT_EQ(j["lora_dropout"], 0.1);
  EXPECT_EQ(j["target_modules"], json({"q_proj", "v_proj", "down_proj"}));
  EXPECT_EQ(j["use_rslora"], false);
  EXPECT_EQ(j["use_dora"], false);
  EXPECT_EQ(j["bias"], "none");
  EXPECT_EQ(j["fan_in_fan_out"], false);
  EXPECT_EQ(j["init_lora_weights"], true);
  EXPECT_EQ(j["inference_mode"], true);
  EXPECT_EQ(j["base_model_name_or_path"], "tiny/base");
  EXPECT_TRUE(j["layers_to_transform"].is_null());
  EXPECT_EQ(j["rank_pattern"], json::object());
  EXPECT_EQ(j["alpha_pattern"], json::object());
  EXPECT_TRUE(j["modules_to_save"].is_null());
  // The same key set as the PEFT-written adapter in shared/, where it is present.
  const auto real = test::shared_dir() / "adapters/peft-lora-qwen2.5-0.5b-instruct-r8-qv/adapter_config.json";
  if (std::filesystem::exists(real)) {
    const json peft = read_json_file(real);
    for (const auto& [key, value] : peft.items()) {
      EXPECT_TRUE(j.contains(key)) << key;
    }
  }

  TensorFile f = read_safetensors(dir / "adapter_model.safetensors");
  EXPECT_EQ(f.tensors.size(), size_t(2 * 3 * c.n_layer));
  const Tensor& qa = f.get("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight");
  const Tensor& db = f.get("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight");
  EXPECT_TRUE(same_bytes(qa, a.find(1, LinearModule::q)->A));
  EXPECT_TRUE(same_bytes(db, a.find(0, LinearModule::down)->B));
  EXPECT_EQ(db.shape, (std::vector<int64_t>{256, 4}));
}

TEST(Peft, RoundTripKeepsEverything) {
  const ModelConfig c = test::wide_config();
  LoraConfig cfg;
  cfg.rank = 2;
  cfg.alpha = 3;
  cfg.rslora = true;
  cfg.targets = {"all-linear"};
  cfg.layers = {1};
  cfg.b_std = 0.1;
  LoraAdapter a = init_lora(c, cfg, 9);
  auto dir = test::temp_dir("peft_round") / "a";
  save_peft_adapter(a, c, dir);
  EXPECT_EQ(read_json_file(dir / "adapter_config.json")["layers_to_transform"], json({1}));
  LoraAdapter b = load_peft_adapter(dir, c);
  EXPECT_EQ(b.rank, 2);
  EXPECT_EQ(b.alpha, 3);
  EXPECT_TRUE(b.rslora);
  EXPECT_EQ(b.targets, a.targets);
  for (int l = 0; l < c.n_layer; ++l)
    for (int i = 0; i < kNumLinearModules; ++i) {
      const LoraPair *p = a.find(l, LinearModule(i)), *q = b.find(l, LinearModule(i));
      ASSERT_EQ(p == nullptr, q == nullptr) << l << " " << i;
      if (p) {
        EXPECT_TRUE(same_bytes(p->A, q->A) && same_bytes(p->B, q->B));
      }
    }
}

TEST(Peft, ReadsNameVariantsAndHalfPrecision) {
  const ModelConfig c = test::wide_config();
  LoraAdapter a = some_adapter(c, {"q_proj"});
  const json config = {{"peft_type", "LORA"}, {"r", 4}, {"lora_alpha", 8}, {"target_modules", {"q_proj"}}};
  auto root = test::temp_dir("peft_names");
  std::vector<std::pair<std::string, Tensor>> plain, with_default;
  for (int l = 0; l < c.n_layer; ++l) {
    const LoraPair* p = a.find(l, LinearModule::q);
    plain.emplace_back(lora_weight_name(l, LinearModule::q, false), ops::convert(p->A, DType::BF16));
    plain.emplace_back(lora_weight_name(l, LinearModule::q, true), ops::convert(p->B, DType::F16));
    with_default.emplace_back("base_model.model.model.layers." + std::to_string(l) + ".self_attn.q_proj.lora_A.default.weight", p->A);
    with_default.emplace_back("base_model.model.model.layers." + std::to_string(l) + ".self_attn.q_proj.lora_B.default.weight", p->B);
  }
  write_folder(root / "plain", config, plain);
  write_folder(root / "default", config, with_default);
  LoraAdapter x = load_peft_adapter(root / "plain", c), y = load_peft_adapter(root / "default", c);
  EXPECT_TRUE(same_bytes(y.find(1, LinearModule::q)->B, a.find(1, LinearModule::q)->B));
  std::vector<float> want = test::values_of(ops::convert(a.find(1, LinearModule::q)->A, DType::BF16));
  std::vector<float> got = test::values_of(x.find(1, LinearModule::q)->A);
  EXPECT_EQ(got, want);
  EXPECT_EQ(x.find(1, LinearModule::q)->A.dtype, DType::F32);
}

TEST(Peft, UnsupportedFeaturesAreClearErrors) {
  const ModelConfig c = test::wide_config();
  auto root = test::temp_dir("peft_errors");
  save_peft_adapter(some_adapter(c, {"q_proj"}), c, root / "good");
  const json good = read_json_file(root / "good/adapter_config.json");
  TensorFile f = read_safetensors(root / "good/adapter_model.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors(f.tensors.begin(), f.tensors.end());
  int n = 0;
  auto with_config = [&](const char* key, json value) {
    json j = good;
    j[key] = std::move(value);
    auto dir = root / ("c" + std::to_string(n++));
    write_folder(dir, j, tensors);
    return load_error(dir, c);
  };
  EXPECT_NE(with_config("use_dora", true).find("use_dora = true is not supported (DoRA"), std::string::npos);
  EXPECT_NE(with_config("fan_in_fan_out", true).find("fan_in_fan_out = true is not supported"), std::string::npos);
  EXPECT_NE(with_config("bias", "all").find("bias = \"all\" is not supported"), std::string::npos);
  EXPECT_NE(with_config("rank_pattern", {{"q_proj", 2}}).find("rank_pattern"), std::string::npos);
  EXPECT_NE(with_config("alpha_pattern", {{"q_proj", 2}}).find("alpha_pattern"), std::string::npos);
  EXPECT_NE(with_config("modules_to_save", {"lm_head"}).find("modules_to_save"), std::string::npos);
  EXPECT_NE(with_config("peft_type", "IA3").find("peft_type 'IA3' is not supported"), std::string::npos);
  EXPECT_NE(with_config("r", "8").find("field 'r' has the wrong type"), std::string::npos);
  std::string e = with_config("target_modules", {"q_proj", "embed_tokens"});
  EXPECT_NE(e.find("adapter_config.json: target module 'embed_tokens' is not supported"), std::string::npos) << e;
  EXPECT_NE(e.find("q_proj, k_proj"), std::string::npos) << e;
  e = with_config("r", 8);  // the tensors have rank 4
  EXPECT_NE(e.find("adapter_model.safetensors: tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' "
                   "has shape [4, 256], expected [8, 256] (r = 8 from adapter_config.json; this model's q_proj is "
                   "[256, 256])"), std::string::npos) << e;
  e = with_config("layers_to_transform", {0});
  EXPECT_NE(e.find("is for layer 1, which layers_to_transform does not list"), std::string::npos) << e;
  e = with_config("layers_to_transform", 5);
  EXPECT_NE(e.find("layers_to_transform names layer 5, the model has 2 layers"), std::string::npos) << e;

  auto with_tensors = [&](auto edit) {
    auto t = tensors;
    edit(t);
    auto dir = root / ("t" + std::to_string(n++));
    write_folder(dir, good, t);
    return load_error(dir, c);
  };
  e = with_tensors([&](auto& t) {
    t.emplace_back("base_model.model.model.embed_tokens.lora_embedding_A", Tensor::zeros(DType::F32, {4, 64}));
  });
  EXPECT_NE(e.find("tensor 'base_model.model.model.embed_tokens.lora_embedding_A' is not a LoRA factor tunekit can apply"),
            std::string::npos) << e;
  e = with_tensors([&](auto& t) { t.erase(t.begin()); });  // layers.0 q_proj lora_A
  EXPECT_NE(e.find("tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' is missing"),
            std::string::npos) << e;
  e = with_tensors([&](auto& t) { t[0].second = Tensor::zeros(DType::F32, {4, 255}); });
  EXPECT_NE(e.find("has shape [4, 255], expected [4, 256]"), std::string::npos) << e;
  e = with_tensors([&](auto& t) {
    t.emplace_back("base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight", Tensor::zeros(DType::F32, {4, 256}));
  });
  EXPECT_NE(e.find("is for layer 7, the model has 2 layers"), std::string::npos) << e;
  e = with_tensors([&](auto& t) {
    t.emplace_back("base_model.model.model.layers.0.mlp.up_proj.lora_A.weight", Tensor::zeros(DType::F32, {4, 256}));
  });
  EXPECT_NE(e.find("adapts up_proj, which target_modules does not list"), std::string::npos) << e;

  EXPECT_NE(load_error(root / "missing", c).find("not a folder"), std::string::npos);
  std::filesystem::create_directories(root / "empty");
  EXPECT_NE(load_error(root / "empty", c).find("adapter_config.json: missing"), std::string::npos);
}

TEST(Peft, SaveLeavesNoFolderOnError) {
  const ModelConfig c = test::wide_config();
  LoraAdapter a = some_adapter(c);
  a.layers[1][size_t(LinearModule::v)].B = Tensor::zeros(DType::F32, {127, 4});  // wrong shape
  auto dir = test::temp_dir("peft_partial") / "out";
  try {
    save_peft_adapter(a, c, dir);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.self_attn.v_proj.lora_B.weight has shape [127, 4]"),
              std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  // A folder that cannot be created (a file is in the way): an error naming it, nothing written.
  std::ofstream(dir.parent_path() / "file") << "x";
  EXPECT_THROW(save_peft_adapter(some_adapter(c), c, dir.parent_path() / "file" / "sub"), Error);
}

}  // namespace
