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
