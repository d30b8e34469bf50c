// GenerateOptions::continues_prompt on stories260K (a SentencePiece tokenizer, which drops the
// leading space of a text's first token): a completion decoded as the prompt's continuation makes
// prompt + completion read as the whole sequence decoded at once; an answer decoded on its own
// starts without that space.
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tunekit/infer/generate.h"
#include "tunekit/infer/model_files.h"

using namespace tunekit;

namespace {

const char* kModel = "models/stories260K/stories260K.bin";

TEST(Continuation, CompletionTextContinuesThePromptAndAnAnswerStandsAlone) {
  TUNEKIT_REQUIRE_SHARED(kModel);
  const Model model = load_model(test::shared_dir() / kModel);
  const auto tok = load_tokenizer_for_model(test::shared_dir() / kModel,
                                            test::shared_dir() / "models/stories260K/tok512.bin");
  const std::vector<int32_t> prompt = tok->encode("The cat", true);
  GenerateOptions opt;
  opt.max_tokens = 12;
  opt.sampling.temperature = 0;
  opt.continues_prompt = true;
  const GenerateResult completion = generate(model, *tok, prompt, opt);
  std::vector<int32_t> whole = prompt;
  whole.insert(whole.end(), completion.tokens.begin(), completion.tokens.end());
  EXPECT_EQ(tok->decode(prompt) + completion.text, tok->decode(whole));
  ASSERT_FALSE(completion.text.empty());
  EXPECT_EQ(completion.text[0], ' ') << completion.text;  // "The cat" goes on with a word of its own

  opt.continues_prompt = false;
  const GenerateResult answer = generate(model, *tok, prompt, opt);
  EXPECT_EQ(answer.tokens, completion.tokens);
  EXPECT_EQ(" " + answer.text, completion.text);
  // From BOS alone both read the same (llama2.c's text starts without a space too).
  const std::vector<int32_t> bos = tok->encode("", true);
  opt.continues_prompt = true;
  const std::string from_bos = generate(model, *tok, bos, opt).text;
  opt.continues_prompt = false;
  EXPECT_EQ(generate(model, *tok, bos, opt).text, from_bos);
}

}  // namespace
