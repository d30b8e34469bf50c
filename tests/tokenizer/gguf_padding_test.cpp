// write_gguf_vocab_for_model: the vocabulary in a model GGUF matches the embedding's rows.
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/io/gguf.h"
#include "tunekit/tokenizer/tokenizer.h"

using namespace tunekit;

namespace {

class GgufVocabPadding : public ::testing::Test {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED("models/stories260K/tok512.bin");
    tok_ = load_tokenizer(test::shared_dir() / "models/stories260K/tok512.bin");
  }
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(GgufVocabPadding, SmallerVocabularyIsPaddedWithUnusedTokens) {
  auto path = test::temp_dir("gguf_padding") / "vocab.gguf";
  GgufWriter w;
  write_gguf_vocab_for_model(*tok_, w, 520);
  w.write(path);
  GgufFile g = GgufFile::open(path);
  const auto& tokens = g.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 520u);
  EXPECT_EQ(tokens[511], tok_->id_to_token(511));
  EXPECT_EQ(tokens[512], "[PAD512]");
  EXPECT_EQ(tokens[519], "[PAD519]");
  EXPECT_EQ(g.get_int_array("tokenizer.ggml.token_type")[519], 5);
  EXPECT_EQ(g.get_float_array("tokenizer.ggml.scores").size(), 520u);
  // The padded vocabulary still encodes text as the original does.
  auto padded = load_tokenizer(g);
  const std::string text = "Once upon a time, Lily saw a big red ball.";
  EXPECT_EQ(padded->encode(text, true), tok_->encode(text, true));
}

TEST_F(GgufVocabPadding, LargerVocabularyThanTheModelIsAnError) {
  GgufWriter w;
  try {
    write_gguf_vocab_for_model(*tok_, w, 120);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("512 tokens but the model's embedding only 120 rows"), std::string::npos)
        << e.what();
  }
}

}  // namespace
