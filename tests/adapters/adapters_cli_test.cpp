// The CLI end to end on stories260K with a random non-zero adapter saved as a PEFT folder:
// generate --adapter (unmerged) writes the same greedy text as generate on the merged model,
// from the HF folder and from the GGUF that merge-adapter writes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "test_paths.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/adapters/peft.h"
#include "tunekit/io/gguf.h"
#include "tunekit/models/model.h"

using namespace tunekit;
using namespace tunekit::test;

namespace {

std::string stories(const std::string& file) { return (shared_dir() / "models/stories260K" / file).string(); }

// A PEFT folder with a random adapter for stories260K (all linear layers, B non-zero).
std::string make_adapter(const std::filesystem::path& dir) {
  Model m = load_model(stories("stories260K.bin"));
  LoraConfig cfg;
  cfg.rank = 4;
  cfg.targets = {"all-linear"};
  cfg.b_std = 0.2;
  save_peft_adapter(init_lora(m.config, cfg, 2024), m.config, dir);
  return dir.string();
}

nlohmann::json generate_json(std::vector<std::string> args) {
  std::vector<std::string> all = {"generate", "--prompt", "Once upon a time", "--max-tokens", "120", "--temperature", "0",
                                  "--json", "--quiet"};
  all.insert(all.end(), args.begin(), args.end());
  CliResult r = run_cli(all);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{{"text", "<error>"}, {"tokens", {}}};
}

TEST(AdaptersCli, GenerateWithAdapterEqualsTheMergedModel) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto tmp = temp_dir("cli_adapter");
  const std::string adapter = make_adapter(tmp / "lora");
  const std::string merged = (tmp / "merged").string(), gguf = (tmp / "merged.gguf").string();
  CliResult m = run_cli({"merge-adapter", "--model", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"),
                         "--adapter", adapter, "--out", merged, "--dtype", "f32", "--gguf", gguf, "--gguf-type", "f32"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_TRUE(std::filesystem::exists(tmp / "merged/model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(tmp / "merged/tokenizer.bin"));

  auto unmerged = generate_json({"--model", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"),
                                 "--adapter", adapter});
  auto from_hf = generate_json({"--model", merged});
  auto from_gguf = generate_json({"--model", gguf});
  auto base = generate_json({"--model", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin")});
  EXPECT_EQ(unmerged["tokens"], from_hf["tokens"]);
  EXPECT_EQ(unmerged["text"], from_hf["text"]);
  EXPECT_EQ(unmerged["tokens"], from_gguf["tokens"]);
  EXPECT_NE(unmerged["tokens"], base["tokens"]);  // the adapter changes the text
  EXPECT_GE(unmerged["tokens"].size(), 20u);
}

TEST(AdaptersCli, LoraGgufExport) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto tmp = temp_dir("cli_lora_gguf");
  const std::string adapter = make_adapter(tmp / "lora");
  CliResult r = run_cli({"merge-adapter", "--model", stories("stories260K.bin"), "--adapter", adapter, "--lora-gguf",
                         (tmp / "lora.gguf").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  GgufFile g = GgufFile::open(tmp / "lora.gguf");
  EXPECT_EQ(g.get_string("general.type"), "adapter");
  EXPECT_TRUE(g.has_tensor("blk.4.ffn_down.weight.lora_b"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "merged"));
}

TEST(AdaptersCli, ErrorsNameTheFileAndHelpIsUseful) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto tmp = temp_dir("cli_adapter_errors");
  CliResult r = run_cli({"merge-adapter", "--model", stories("stories260K.bin"), "--adapter", (tmp / "nope").string(),
                         "--out", (tmp / "out").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find((tmp / "nope").string() + ": not a folder"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "out"));

  const std::string adapter = make_adapter(tmp / "lora");
  r = run_cli({"merge-adapter", "--model", stories("stories260K.bin"), "--adapter", adapter});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nothing to write"), std::string::npos) << r.err;

  // An adapter made for another model shape.
  r = run_cli({"generate", "--model", (golden_dir() / "models/qwen2_bias").string(), "--adapter", adapter, "--prompt",
               "x", "--tokenizer", stories("tok512.bin")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("adapter_model.safetensors"), std::string::npos) << r.err;

  r = run_cli({"merge-adapter", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--adapter", "--out", "--dtype", "--gguf", "--gguf-type", "--lora-gguf", "--tokenizer"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

}  // namespace
