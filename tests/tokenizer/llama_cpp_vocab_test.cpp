// llama.cpp's tokenizer test vectors (../shared/tokenizers/llama.cpp-vocab-tests): every string of
// the .inp must encode (no BOS/EOS) to exactly the ids of the .out, from the GGUF vocabulary alone;
// decode must give the string back where the tokenizer is lossless.
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tokenizer_test_util.h"
#include "tunekit/io/gguf.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {
namespace {

struct VocabCase {
  const char* name;
  bool lossless;  // decode(encode(s)) == s
};

class LlamaCppVocab : public ::testing::TestWithParam<VocabCase> {};

TEST_P(LlamaCppVocab, EncodesLikeLlamaCpp) {
  const std::string base = std::string("tokenizers/llama.cpp-vocab-tests/ggml-vocab-") + GetParam().name + ".gguf";
  TUNEKIT_REQUIRE_SHARED(base);
  const auto dir = test::shared_dir();
  const auto inputs = test::read_vocab_test_inputs(dir / (base + ".inp"));
  const auto expected = test::read_vocab_test_outputs(dir / (base + ".out"));
  ASSERT_EQ(inputs.size(), 46u);
  ASSERT_EQ(inputs.size(), expected.size());

  const auto tok = load_tokenizer(GgufFile::open(dir / base));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto ids = tok->encode(inputs[i], false);
    EXPECT_EQ(test::join_ids(ids), test::join_ids(expected[i])) << "string " << i << ": '" << inputs[i] << "'";
    if (GetParam().lossless) {
      EXPECT_EQ(tok->decode(ids), inputs[i]) << "string " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabs, LlamaCppVocab,
                         ::testing::Values(VocabCase{"llama-spm", true}, VocabCase{"phi-3", true},
                                           VocabCase{"gpt-2", true}, VocabCase{"starcoder", true},
                                           VocabCase{"bert-bge", false}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace tunekit

namespace tunekit {
namespace {

std::unique_ptr<Tokenizer> load_vocab(const std::string& name) {
  return load_tokenizer(GgufFile::open(test::shared_dir() / ("tokenizers/llama.cpp-vocab-tests/ggml-vocab-" + name + ".gguf")));
}

// Roles and specials as the GGUF metadata states them (token ids read off the files' token lists).
TEST(GgufVocabRoles, Phi3SpecialTokensAndStops) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/ggml-vocab-phi-3.gguf");
  const auto tok = load_vocab("phi-3");
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 32000);  // <|endoftext|>
  EXPECT_EQ(tok->bos_token(), "<s>");
  EXPECT_EQ(tok->eos_token(), "<|endoftext|>");
  EXPECT_EQ(tok->stop_ids(), (std::vector<int32_t>{32000, 32007}));  // + <|end|>
  const auto ids = tok->encode("<|user|>\nHi<|end|>", true);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(ids[1], 32010);  // <|user|>
  EXPECT_EQ(ids.back(), 32007);
  EXPECT_EQ(tok->decode(ids), "\nHi");
}

TEST(GgufVocabRoles, BertAddsClsAndSep) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/ggml-vocab-bert-bge.gguf");
  const auto tok = load_vocab("bert-bge");
  // ggml-vocab-bert-bge.gguf.out: "Hello" -> 7592; [CLS] = 101, [SEP] = 102.
  EXPECT_EQ(tok->encode("Hello", true), (std::vector<int32_t>{101, 7592, 102}));
  EXPECT_EQ(tok->decode({101, 7592, 1010, 2088, 999, 102}), "hello, world!");
}

TEST(GgufVocabRoles, Gpt2EndOfText) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/ggml-vocab-gpt-2.gguf");
  const auto tok = load_vocab("gpt-2");
  EXPECT_EQ(tok->bos_id(), 50256);
  EXPECT_EQ(tok->stop_ids(), std::vector<int32_t>{50256});
  EXPECT_EQ(tok->encode("Hello world<|endoftext|>", false), (std::vector<int32_t>{15496, 995, 50256}));
}

}  // namespace
}  // namespace tunekit
