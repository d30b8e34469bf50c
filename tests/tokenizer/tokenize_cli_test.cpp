// `tunekit tokenize` end to end through the built binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "test_paths.h"
#include "tokenizer_test_util.h"

namespace tunekit {
namespace {

#define REQUIRE_CLI()                                                                              \
  do {                                                                                             \
    if (!std::filesystem::exists(test::cli_path()))                                                \
      GTEST_SKIP() << "skipped: " << test::cli_path().string() << " is not built (target tunekit_cli)"; \
  } while (0)

TEST(TokenizeCli, EncodesWithGgufVocabulary) {
  REQUIRE_CLI();
  const std::string gguf = "tokenizers/llama.cpp-vocab-tests/ggml-vocab-gpt-2.gguf";
  TUNEKIT_REQUIRE_SHARED(gguf);
  // ggml-vocab-gpt-2.gguf.out: "Hello world" -> 15496 995, " Hello, world!" -> 18435 11 995 0.
  auto r = test::run_cli({"tokenize", "--tokenizer", (test::shared_dir() / gguf).string(), "--text", "Hello world"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "15496 995\n");
  r = test::run_cli({"tokenize", "-t", (test::shared_dir() / gguf).string(), "--text", " Hello, world!"});
  EXPECT_EQ(r.out, "18435 11 995 0\n");
}

TEST(TokenizeCli, AddSpecialPutsBosFirst) {
  REQUIRE_CLI();
  const std::string dir = "tokenizers/tinyllama-1.1b-chat";
  TUNEKIT_REQUIRE_SHARED(dir);
  const auto path = (test::shared_dir() / dir / "tokenizer.json").string();
  auto r = test::run_cli({"tokenize", "--tokenizer", path, "--text", "Hello world"});
  EXPECT_EQ(r.out, "15043 3186\n") << r.err;
  r = test::run_cli({"tokenize", "--tokenizer", path, "--text", "Hello world", "--add-special"});
  EXPECT_EQ(r.out, "1 15043 3186\n") << r.err;
}

TEST(TokenizeCli, DecodesLlama2cReference) {
  REQUIRE_CLI();
  TUNEKIT_REQUIRE_SHARED("models/stories260K/greedy200_reference.json");
  const auto ref = nlohmann::json::parse(
      test::read_file(test::shared_dir() / "models/stories260K/greedy200_reference.json"));
  const auto r = test::run_cli({"tokenize", "--tokenizer", (test::shared_dir() / "models/stories260K/tok512.bin").string(),
                                "--decode", "--text", test::join_ids(ref.at("generated_ids").get<std::vector<int32_t>>())});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ref.at("text").get<std::string>() + "\n");
}

TEST(TokenizeCli, ErrorsNameTheProblem) {
  REQUIRE_CLI();
  auto r = test::run_cli({"tokenize", "--tokenizer", "/nonexistent/tok.json", "--text", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/tok.json"), std::string::npos) << r.err;
  TUNEKIT_REQUIRE_SHARED("models/stories260K/tok512.bin");
  r = test::run_cli({"tokenize", "--tokenizer", (test::shared_dir() / "models/stories260K/tok512.bin").string(),
                     "--decode", "--text", "1 2 99999"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("99999"), std::string::npos) << r.err;
  r = test::run_cli({"tokenize", "--text", "x"});
  EXPECT_EQ(r.exit_code, 2) << "a missing --tokenizer is a flag error";
}

}  // namespace
}  // namespace tunekit
