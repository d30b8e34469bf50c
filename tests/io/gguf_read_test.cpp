#include <gtest/gtest.h>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/io/gguf.h"

using namespace tunekit;

namespace {
const char* kVocabDir = "tokenizers/llama.cpp-vocab-tests";

struct VocabCase {
  const char* file;
  const char* model;  // tokenizer.ggml.model
  size_t n_vocab;
};
}  // namespace

TEST(GgufRead, RealVocabFiles) {
  TUNEKIT_REQUIRE_SHARED(kVocabDir);
  const VocabCase cases[] = {
      {"ggml-vocab-llama-spm.gguf", "llama", 32000}, {"ggml-vocab-phi-3.gguf", "llama", 32064},
      {"ggml-vocab-gpt-2.gguf", "gpt2", 50257},      {"ggml-vocab-starcoder.gguf", "gpt2", 49152},
      {"ggml-vocab-bert-bge.gguf", "bert", 30522},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    GgufFile g = GgufFile::open(test::shared_dir() / kVocabDir / c.file);
    EXPECT_EQ(g.version(), 3u);
    EXPECT_EQ(g.alignment(), 32u);
    EXPECT_EQ(g.get_string("tokenizer.ggml.model"), c.model);
    const auto& tokens = g.get_string_array("tokenizer.ggml.tokens");
    EXPECT_EQ(tokens.size(), c.n_vocab);
    EXPECT_EQ(g.get_int_array("tokenizer.ggml.token_type").size(), tokens.size());
    if (g.has("tokenizer.ggml.scores")) {
      EXPECT_EQ(g.get_float_array("tokenizer.ggml.scores").size(), tokens.size());
    }
    if (std::string(c.model) == "gpt2") {
      EXPECT_GT(g.get_string_array("tokenizer.ggml.merges").size(), 40000u);
    }
    int n_ids = 0;
    for (const auto& key : g.keys_in_order()) {
      if (key.size() > 9 && key.compare(key.size() - 9, 9, "_token_id") == 0) {
        ++n_ids;
        EXPECT_GE(g.get_int(key), 0) << key;
        EXPECT_LT(g.get_int(key), int64_t(tokens.size())) << key;
      }
    }
    EXPECT_GE(n_ids, 1);
    EXPECT_EQ(g.keys_in_order().size(), g.metadata().size());
    EXPECT_TRUE(g.tensor_names().empty());
    // Wrong-type access names the file and the key.
    try {
      g.get_int("tokenizer.ggml.model");
      ADD_FAILURE() << "expected an Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.file), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.model"), std::string::npos) << e.what();
    }
    EXPECT_THROW(g.value("no.such.key"), Error);
    EXPECT_EQ(g.get_int("no.such.key", 7), 7);
  }
}

TEST(GgufRead, LlamaSpmKnownTokens) {
  TUNEKIT_REQUIRE_SHARED(kVocabDir);
  GgufFile g = GgufFile::open(test::shared_dir() / kVocabDir / "ggml-vocab-llama-spm.gguf");
  const auto& tokens = g.get_string_array("tokenizer.ggml.tokens");
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(tokens[3], "<0x00>");
  EXPECT_EQ(g.get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(g.get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
}
