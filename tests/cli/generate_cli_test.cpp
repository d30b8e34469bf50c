// The generate / convert / init verbs, end to end through the built binary.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "test_paths.h"

using namespace tunekit::test;

namespace {

std::string stories(const std::string& file) { return (shared_dir() / "models/stories260K" / file).string(); }

std::string reference_text() {
  std::ifstream in(stories("greedy200_reference.json"));
  return nlohmann::json::parse(in)["text"].get<std::string>();
}

std::vector<int> reference_ids() {
  std::ifstream in(stories("greedy200_reference.json"));
  return nlohmann::json::parse(in)["generated_ids"].get<std::vector<int>>();
}

TEST(GenerateCli, Stories260KGreedyPrintsTheReferenceText) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto r = run_cli({"generate", "--model", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "--prompt",
                    "", "--max-tokens", "200", "--temperature", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, reference_text() + "\n");
}

TEST(GenerateCli, ConvertedHfAndGgufGiveTheSameTokens) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto tmp = temp_dir("cli_convert");
  auto hf = (tmp / "hf").string(), gguf = (tmp / "stories.gguf").string();
  auto c1 = run_cli({"convert", "--model", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "--out", hf});
  ASSERT_EQ(c1.exit_code, 0) << c1.err;
  auto c2 = run_cli({"convert", "--model", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "--out",
                     gguf, "--dtype", "f32"});
  ASSERT_EQ(c2.exit_code, 0) << c2.err;
  // The HF folder got a copy of the tokenizer; the GGUF carries its vocabulary.
  for (const auto& model : {hf, gguf}) {
    auto r = run_cli({"generate", "--model", model, "--prompt", "", "--max-tokens", "200", "--temperature", "0", "--json"});
    ASSERT_EQ(r.exit_code, 0) << model << ": " << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["tokens"].get<std::vector<int>>(), reference_ids()) << model;
    EXPECT_EQ(j["text"].get<std::string>(), reference_text()) << model;
  }
}

TEST(GenerateCli, InitWritesALoadableRandomModel) {
  auto tmp = temp_dir("cli_init");
  std::ofstream(tmp / "config.json") << R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
    "vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": true})";
  auto r = run_cli({"init", "--config", (tmp / "config.json").string(), "--out", (tmp / "model").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(tmp / "model" / "model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(tmp / "model" / "config.json"));
  TUNEKIT_REQUIRE_SHARED("models/stories260K/tok512.bin");
  auto g = run_cli({"generate", "--model", (tmp / "model").string(), "--tokenizer", stories("tok512.bin"), "--prompt",
                    "Once", "--max-tokens", "5", "--json"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(nlohmann::json::parse(g.out)["tokens"].size(), 5u);
}

TEST(GenerateCli, BadInputGivesOneLineErrorAndExitCode1) {
  auto tmp = temp_dir("cli_bad");
  // A model folder whose config.json is not JSON.
  std::filesystem::create_directories(tmp / "broken");
  std::ofstream(tmp / "broken" / "config.json") << "{\"vocab_size\": 12,";
  auto r = run_cli({"generate", "--model", (tmp / "broken").string(), "--prompt", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // A file that is no model at all.
  std::ofstream(tmp / "junk.gguf") << "GGUF\x03\x00\x00\x00garbage";
  r = run_cli({"generate", "--model", (tmp / "junk.gguf").string(), "--prompt", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("junk.gguf"), std::string::npos) << r.err;
  // An out-of-range flag is a usage error.
  r = run_cli({"generate", "--model", "x", "--prompt", "hi", "--top-p", "7"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace

namespace {

// --chat renders the user turn (and system message) with the tokenizer folder's chat template,
// as `tunekit template` does, and feeds exactly those tokens (no extra BOS) to the model.
TEST(GenerateCli, ChatPromptIsTheRenderedTemplate) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/tinyllama-1.1b-chat/tokenizer.json");
  const std::string tok = (shared_dir() / "tokenizers/tinyllama-1.1b-chat").string();
  auto tmp = temp_dir("cli_chat");
  std::ofstream(tmp / "config.json") << R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 32000,
    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2})";
  ASSERT_EQ(run_cli({"init", "--config", (tmp / "config.json").string(), "--out", (tmp / "m").string()}).exit_code, 0);
  std::ofstream(tmp / "messages.json")
      << R"([{"role": "system", "content": "You are an anatomy tutor."}, {"role": "user", "content": "What is the femur?"}])";
  auto rendered = run_cli({"template", "--template", tok, "--messages", (tmp / "messages.json").string()});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
  EXPECT_NE(rendered.out.find("<|assistant|>"), std::string::npos) << rendered.out;  // the generation prompt
  std::ofstream(tmp / "rendered.txt", std::ios::binary) << rendered.out;
  auto ids = run_cli({"tokenize", "--tokenizer", tok, "--file", (tmp / "rendered.txt").string()});
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  const auto n_ids = std::count(ids.out.begin(), ids.out.end(), ' ') + 1;
  auto g = run_cli({"generate", "--model", (tmp / "m").string(), "--tokenizer", tok, "--chat", "--system",
                    "You are an anatomy tutor.", "--prompt", "What is the femur?", "--max-tokens", "2", "--json"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(nlohmann::json::parse(g.out)["prompt_tokens"].get<long>(), n_ids);
}

}  // namespace
