// TinyLlama's tokenizer.json (our BPE with byte fallback) against its tokenizer.model encoded by
// libsentencepiece, the reference implementation, on text that exercises every path.
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tokenizer_test_util.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {
namespace {

const char* const kDir = "tokenizers/tinyllama-1.1b-chat";

const std::vector<std::string>& varied_texts() {
  static const std::vector<std::string> texts = {
      "",
      " ",
      "   ",
      "Hello world",
      " Hello world",
      "  leading and trailing  ",
      "multiple     spaces\tand\ttabs\n\nnewlines\n",
      "\n\n\nstarts with newlines",
      "Ünïcödé àccénts: café, naïve, façade, Øresund, İstanbul",
      "中文字符和日本語のテキスト、한국어 텍스트",
      "emoji 🦙🚀 😶‍🌫️ 👍🏽 and symbols ©®™ ½ ∑∫√",
      "digits 0 12 345 6789 3.14159 1,000,000 2024-01-01",
      "code: for (int i = 0; i < n; ++i) { x[i] = y[i] * 2; }",
      "Mixed ÀÉÎÕÜ ɐɔɘ ΑΒΓ абв אבג عربي हिन्दी ไทย",
      "rare glyphs \U00010348 \U0001F9EC \u2603 \u00A0nbsp\u3000ideographic space",
      "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!!!",
  };
  return texts;
}

TEST(TinyLlama, TokenizerJsonMatchesSentencePieceModel) {
  TUNEKIT_REQUIRE_SHARED(std::string(kDir) + "/tokenizer.json");
  const auto dir = test::shared_dir() / kDir;
  const auto json = load_tokenizer(dir / "tokenizer.json");
  const auto spm = load_tokenizer(dir / "tokenizer.model");
  for (const std::string& text : varied_texts()) {
    for (bool special : {false, true}) {
      const auto a = json->encode(text, special);
      EXPECT_EQ(test::join_ids(a), test::join_ids(spm->encode(text, special))) << "'" << text << "'";
      EXPECT_EQ(json->decode(a), text) << "tokenizer.json round trip";
      EXPECT_EQ(spm->decode(a), text) << "tokenizer.model round trip";
    }
  }
}

// 100 KB of real prose (Gray's Anatomy): tokenizer.json, tokenizer.model and llama.cpp's Llama-2
// GGUF vocabulary must agree id for id on long text (it is encoded in chunks; see MergeBoundaries).
TEST(TinyLlama, LongTextAgreesAcrossFormats) {
  const std::string doc = "data/docs/grays-anatomy-1918-osteology.txt";
  TUNEKIT_REQUIRE_SHARED(doc);
  TUNEKIT_REQUIRE_SHARED(std::string(kDir) + "/tokenizer.json");
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/ggml-vocab-llama-spm.gguf");
  const std::string text = test::read_file(test::shared_dir() / doc).substr(0, 100000);
  const auto dir = test::shared_dir() / kDir;
  const auto reference = load_tokenizer(dir / "tokenizer.model")->encode(text, false);
  ASSERT_GT(reference.size(), 20000u);
  const auto json = load_tokenizer(dir / "tokenizer.json");
  const auto ids = json->encode(text, false);
  EXPECT_TRUE(ids == reference) << "tokenizer.json differs from libsentencepiece";
  EXPECT_EQ(json->decode(ids), text);
  const auto gguf = load_tokenizer(test::shared_dir() / "tokenizers/llama.cpp-vocab-tests/ggml-vocab-llama-spm.gguf");
  EXPECT_TRUE(gguf->encode(text, false) == reference) << "GGUF vocabulary differs from libsentencepiece";
}

TEST(TinyLlama, RolesAndSpecialTokens) {
  TUNEKIT_REQUIRE_SHARED(std::string(kDir) + "/tokenizer.json");
  const auto dir = test::shared_dir() / kDir;
  for (const char* file : {"tokenizer.json", "tokenizer.model"}) {
    SCOPED_TRACE(file);
    const auto tok = load_tokenizer(dir / file);
    EXPECT_EQ(tok->vocab_size(), 32000);
    EXPECT_EQ(tok->bos_id(), 1);
    EXPECT_EQ(tok->eos_id(), 2);
    EXPECT_EQ(tok->bos_token(), "<s>");
    EXPECT_EQ(tok->eos_token(), "</s>");
    EXPECT_EQ(tok->stop_ids(), std::vector<int32_t>{2});
    EXPECT_EQ(tok->id_to_token(13), "<0x0A>");
    // add_special puts BOS first (no EOS); special tokens in the text are matched as tokens.
    const auto ids = tok->encode("Hi</s>", true);
    ASSERT_GE(ids.size(), 3u);
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(ids.back(), 2);
    EXPECT_EQ(tok->decode(ids), "Hi");
    EXPECT_EQ(tok->decode(ids, true), "<s> Hi</s>");
  }
}

TEST(TinyLlama, FolderLoadsTokenizerJson) {
  TUNEKIT_REQUIRE_SHARED(kDir);
  const auto tok = load_tokenizer(test::shared_dir() / kDir);
  // "▁Hello" is 15043 and "▁world" 3186 in the Llama-2 vocabulary (llama.cpp's llama-spm vectors).
  EXPECT_EQ(tok->encode("Hello world", false), (std::vector<int32_t>{15043, 3186}));
}

}  // namespace
}  // namespace tunekit
