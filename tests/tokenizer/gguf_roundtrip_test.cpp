// write_gguf: every format written as tokenizer.ggml.* metadata and read back through
// load_tokenizer(GgufFile) (the path llama.cpp's vectors check) must encode as the original does.
// Bad vocabulary metadata is rejected with the file named.
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tokenizer_test_util.h"
#include "tunekit/error.h"
#include "tunekit/io/gguf.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {
namespace {

std::vector<std::string> sample_texts() {
  auto texts = test::read_vocab_test_inputs(test::shared_dir() /
                                            "tokenizers/llama.cpp-vocab-tests/ggml-vocab-gpt-2.gguf.inp");
  texts.push_back("Ünïcödé café 中文 🦙 3.14159 \t\n  spaces  ");
  return texts;
}

class GgufRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufRoundTrip, EncodesLikeTheOriginal) {
  TUNEKIT_REQUIRE_SHARED(GetParam());
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/ggml-vocab-gpt-2.gguf.inp");
  const auto original = load_tokenizer(test::shared_dir() / GetParam());
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  original->write_gguf(w);
  const auto path = test::temp_dir("gguf_roundtrip") / "vocab.gguf";
  w.write(path);
  const auto copy = load_tokenizer(GgufFile::open(path));
  EXPECT_EQ(copy->vocab_size(), original->vocab_size());
  EXPECT_EQ(copy->bos_id(), original->bos_id());
  EXPECT_EQ(copy->eos_id(), original->eos_id());
  for (const std::string& text : sample_texts()) {
    for (bool special : {false, true}) {
      const auto ids = original->encode(text, special);
      EXPECT_EQ(test::join_ids(copy->encode(text, special)), test::join_ids(ids)) << "'" << text << "'";
      EXPECT_EQ(copy->decode(ids), original->decode(ids)) << "'" << text << "'";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, GgufRoundTrip,
                         ::testing::Values("tokenizers/tinyllama-1.1b-chat/tokenizer.json",
                                           "tokenizers/tinyllama-1.1b-chat/tokenizer.model",
                                           "models/stories260K/tok512.bin",
                                           "tokenizers/all-MiniLM-L6-v2-no-weights/tokenizer.json",
                                           "tokenizers/llama.cpp-vocab-tests/ggml-vocab-gpt-2.gguf",
                                           "tokenizers/llama.cpp-vocab-tests/ggml-vocab-starcoder.gguf"));

void expect_gguf_error(const GgufWriter& w, const std::string& what) {
  const auto path = test::temp_dir("gguf_bad_vocab") / "bad.gguf";
  w.write(path);
  try {
    load_tokenizer(path);
    ADD_FAILURE() << "no error for " << what;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.gguf"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(GgufVocab, RejectsInconsistentMetadata) {
  GgufWriter no_tokens;
  no_tokens.set_string("tokenizer.ggml.model", "llama");
  expect_gguf_error(no_tokens, "tokenizer.ggml.tokens");

  GgufWriter scores;
  scores.set_string("tokenizer.ggml.model", "llama");
  scores.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  scores.set_f32_array("tokenizer.ggml.scores", {0.0f, 0.0f});
  expect_gguf_error(scores, "scores has 2 entries");

  GgufWriter bos;
  bos.set_string("tokenizer.ggml.model", "llama");
  bos.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  bos.set_u32("tokenizer.ggml.bos_token_id", 7);
  expect_gguf_error(bos, "bos_token_id is 7");

  GgufWriter model;
  model.set_string("tokenizer.ggml.model", "t5");
  model.set_string_array("tokenizer.ggml.tokens", {"a"});
  expect_gguf_error(model, "'t5' is not supported");

  GgufWriter pre;
  pre.set_string("tokenizer.ggml.model", "gpt2");
  pre.set_string("tokenizer.ggml.pre", "no-such-pre");
  pre.set_string_array("tokenizer.ggml.tokens", {"a"});
  pre.set_string_array("tokenizer.ggml.merges", {});
  expect_gguf_error(pre, "no-such-pre");
}

}  // namespace
}  // namespace tunekit
