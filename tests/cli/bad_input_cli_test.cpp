// Bad files through the CLI: each gives exit code 1 and one line on stderr that names the file,
// and nothing is left behind by a failed conversion.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "cli_runner.h"
#include "test_paths.h"

using namespace tunekit::test;

namespace {

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

// Little-endian u64 followed by a header and data.
std::string safetensors_with_header(uint64_t header_len, const std::string& header, const std::string& data) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char(header_len >> (8 * i));
  return s + header + data;
}

const char* kConfig = R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 8, "hidden_size": 4,
  "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1})";

void expect_clean_failure(const CliResult& r, const std::string& names) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(names), std::string::npos) << "stderr does not name " << names << ": " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
}

TEST(BadInputCli, SafetensorsTruncatedOversizedWrongOffsetRandom) {
  auto tmp = temp_dir("bad_safetensors");
  const std::string header = R"({"model.embed_tokens.weight":{"dtype":"F32","shape":[8,4],"data_offsets":[0,128]}})";
  const std::string cases[] = {
      safetensors_with_header(header.size(), header, std::string(100, '\0')),        // truncated data
      safetensors_with_header(uint64_t(1) << 40, header, std::string(128, '\0')),    // oversized header length
      safetensors_with_header(header.size(),
                              R"({"model.embed_tokens.weight":{"dtype":"F32","shape":[8,4],"data_offsets":[64,192]}})",
                              std::string(128, '\0')),                                // offsets past the end
      random_bytes(4096, 1),                                                          // noise
  };
  int i = 0;
  for (const auto& bytes : cases) {
    auto dir = tmp / std::string("m").append(std::to_string(i++));
    std::filesystem::create_directories(dir);
    write_bytes(dir / "config.json", kConfig);
    write_bytes(dir / "model.safetensors", bytes);
    auto r = run_cli({"convert", "--model", dir.string(), "--out", (tmp / "out.gguf").string()});
    expect_clean_failure(r, "model.safetensors");
    EXPECT_FALSE(std::filesystem::exists(tmp / "out.gguf"));
  }
}

TEST(BadInputCli, GgufTruncatedAndRandom) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/ggml-vocab-llama-spm.gguf");
  auto tmp = temp_dir("bad_gguf");
  std::ifstream in(shared_dir() / "tokenizers/llama.cpp-vocab-tests/ggml-vocab-llama-spm.gguf", std::ios::binary);
  std::string real((std::istreambuf_iterator<char>(in)), {});
  write_bytes(tmp / "truncated.gguf", real.substr(0, real.size() / 3));
  write_bytes(tmp / "random.gguf", std::string("GGUF").append(random_bytes(2000, 2)));
  for (const char* name : {"truncated.gguf", "random.gguf"}) {
    expect_clean_failure(run_cli({"generate", "--model", (tmp / name).string(), "--prompt", "x"}), name);
    expect_clean_failure(run_cli({"tokenize", "--tokenizer", (tmp / name).string(), "--text", "x"}), name);
  }
  // A vocabulary-only GGUF is no model: the error says what is missing.
  auto r = run_cli({"generate", "--model", (shared_dir() / "tokenizers/llama.cpp-vocab-tests/ggml-vocab-llama-spm.gguf").string(),
                    "--prompt", "x"});
  expect_clean_failure(r, "ggml-vocab-llama-spm.gguf");
}

TEST(BadInputCli, TokenizerJsonAndConfigJson) {
  auto tmp = temp_dir("bad_json");
  write_bytes(tmp / "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [)");
  expect_clean_failure(run_cli({"tokenize", "--tokenizer", (tmp / "tokenizer.json").string(), "--text", "a"}),
                       "tokenizer.json");
  write_bytes(tmp / "random.json", random_bytes(3000, 3));
  expect_clean_failure(run_cli({"tokenize", "--tokenizer", (tmp / "random.json").string(), "--text", "a"}),
                       "random.json");
  std::filesystem::create_directories(tmp / "model");
  write_bytes(tmp / "model" / "config.json", R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 8})");
  expect_clean_failure(run_cli({"generate", "--model", (tmp / "model").string(), "--prompt", "x"}), "config.json");
}

}  // namespace
