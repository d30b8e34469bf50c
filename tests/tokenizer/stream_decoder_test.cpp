// StreamDecoder: pushing ids one at a time yields exactly decode(all ids), in pieces that are whole
// UTF-8 characters, with SentencePiece's leading-space rule applied once.
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tokenizer/utf8.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {
namespace {

const std::string kText =
    "Once upon a time 🦙 met 中文 friends, naïve café-goers; they counted 1 2 3 … and waved 👋🏽!\n"
    "The end. Then a long tail of words to push the window past its restart point many times over.";

void check_stream(const Tokenizer& tok) {
  const auto ids = tok.encode(kText, true);
  StreamDecoder stream(tok);
  std::string joined;
  size_t held_back = 0;  // pushes that returned nothing while the text had grown
  for (int32_t id : ids) {
    const std::string piece = stream.push(id);
    EXPECT_EQ(utf8::complete_prefix_len(piece), piece.size()) << "a piece ends inside a character";
    if (piece.empty()) ++held_back;
    joined += piece;
  }
  joined += stream.flush();
  EXPECT_EQ(joined, tok.decode(ids));
  EXPECT_EQ(joined, kText);
  EXPECT_GT(held_back, 0u) << "byte tokens of 🦙 should be held back until complete";
}

TEST(StreamDecoder, SentencePieceByteFallback) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/tinyllama-1.1b-chat/tokenizer.json");
  check_stream(*load_tokenizer(test::shared_dir() / "tokenizers/tinyllama-1.1b-chat/tokenizer.json"));
}

TEST(StreamDecoder, ByteLevelBpe) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/ggml-vocab-gpt-2.gguf");
  check_stream(*load_tokenizer(test::shared_dir() / "tokenizers/llama.cpp-vocab-tests/ggml-vocab-gpt-2.gguf"));
}

TEST(StreamDecoder, FlushReturnsAnIncompleteTail) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/tok512.bin");
  const auto tok = load_tokenizer(test::shared_dir() / "models/stories260K/tok512.bin");
  StreamDecoder stream(*tok);
  EXPECT_EQ(stream.push(0xE4 + 3), "");  // first byte of 中 (byte tokens are id byte+3)
  EXPECT_EQ(stream.push(0xB8 + 3), "");
  EXPECT_EQ(stream.flush(), "\xE4\xB8");
}

}  // namespace
}  // namespace tunekit
