// WordPiece from an HF tokenizer.json: all-MiniLM-L6-v2 uses the bert-base-uncased vocabulary, as
// bge-small does, so llama.cpp's bert-bge vectors are an independent reference for it.
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tokenizer_test_util.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {
namespace {

const char* const kJson = "tokenizers/all-MiniLM-L6-v2-no-weights/tokenizer.json";
const char* const kVectors = "tokenizers/llama.cpp-vocab-tests/ggml-vocab-bert-bge.gguf";

TEST(WordPiece, MiniLmJsonMatchesBertBgeVectors) {
  TUNEKIT_REQUIRE_SHARED(kJson);
  TUNEKIT_REQUIRE_SHARED(std::string(kVectors) + ".inp");
  const auto dir = test::shared_dir();
  const auto tok = load_tokenizer(dir / kJson);
  const auto inputs = test::read_vocab_test_inputs(dir / (std::string(kVectors) + ".inp"));
  const auto expected = test::read_vocab_test_outputs(dir / (std::string(kVectors) + ".out"));
  ASSERT_EQ(inputs.size(), expected.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    EXPECT_EQ(test::join_ids(tok->encode(inputs[i], false)), test::join_ids(expected[i])) << "string " << i;
}

TEST(WordPiece, SpecialTokensAndDecode) {
  TUNEKIT_REQUIRE_SHARED(kJson);
  const auto tok = load_tokenizer(test::shared_dir() / kJson);
  // [CLS]=101 hello=7592 ,=1010 world=2088 !=999 [SEP]=102 (bert-base-uncased vocab.txt lines).
  EXPECT_EQ(tok->encode("Hello, World!", true), (std::vector<int32_t>{101, 7592, 1010, 2088, 999, 102}));
  EXPECT_EQ(tok->bos_id(), 101);
  EXPECT_EQ(tok->eos_id(), 102);
  EXPECT_EQ(tok->decode(tok->encode("Hello, World!", true)), "hello, world!");
  EXPECT_EQ(tok->decode(tok->encode("Hello, World!", true), true), "[CLS] hello, world! [SEP]");
  // Subwords join without spaces; accents are stripped; a word longer than 100 characters is [UNK].
  EXPECT_EQ(tok->decode(tok->encode("unaffable Crème brûlée", false)), "unaffable creme brulee");
  EXPECT_EQ(tok->encode(std::string(101, 'a'), false), std::vector<int32_t>{100});
}

}  // namespace
}  // namespace tunekit
