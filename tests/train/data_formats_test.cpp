// Each dataset format on small fixtures (tests/data/train/) with the real TinyLlama tokenizer and
// chat template: the exact token layout (from tokenizer.encode of the pieces, and the vocabulary
// entries spelled out by hand) and the exact loss weights.
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "tunekit/io/file_util.h"

namespace tunekit {
namespace {

using test::fixture;
using test::pieces;

constexpr int32_t kBos = 1, kEos = 2;  // TinyLlama's <s>, </s>

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class DataFormats : public ::testing::Test {
 protected:
  void SetUp() override { TUNEKIT_REQUIRE_SHARED(test::kTinyLlama); }

  static const test::TinyLlama& tiny() {
    static test::TinyLlama t;
    return t;
  }
  const Tokenizer& tok() const { return *tiny().tok; }
  std::vector<int32_t> encode(const std::string& text) const { return tok().encode(text, false); }

  std::vector<Sample> load(const std::filesystem::path& path, DataOptions options = {},
                           const ChatTemplate* chat = &*tiny().chat) const {
    return load_dataset({path}, {}, tok(), chat, options).train;
  }

  // The vocabulary entries of the tokens with weight 1; every other token but the first must have
  // the prompt weight.
  std::vector<std::string> trained(const Sample& s, float prompt_weight = 0.1f) const {
    std::vector<int32_t> ids;
    for (size_t i = 1; i < s.tokens.size(); ++i) {
      if (s.weights[i] == 1.0f) ids.push_back(s.tokens[i]);
      else EXPECT_EQ(s.weights[i], prompt_weight) << "token " << i << " of " << s.source;
    }
    return pieces(tok(), ids);
  }
};

TEST_F(DataFormats, TextIsAllCompletionWithBosAndEos) {
  std::vector<Sample> s = load(fixture("text.jsonl"));
  ASSERT_EQ(s.size(), 2u);  // the blank line 2 is ignored
  EXPECT_EQ(s[0].source, fixture("text.jsonl").string() + ":1");
  EXPECT_EQ(s[1].source, fixture("text.jsonl").string() + ":3");
  EXPECT_EQ(pieces(tok(), s[0].tokens),
            (std::vector<std::string>{"<s>", "▁The", "▁cat", "▁sat", "▁on", "▁the", "▁mat", ".", "</s>"}));
  EXPECT_EQ(s[0].tokens, concat(tok().encode("The cat sat on the mat.", true), {kEos}));
  EXPECT_EQ(s[0].weights, (std::vector<float>{0, 1, 1, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(s[1].tokens, concat(concat({kBos}, encode("Dogs bark.")), {kEos}));
}

TEST_F(DataFormats, PromptCompletionWeights) {
  std::vector<Sample> s = load(fixture("prompt_completion.jsonl"));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(pieces(tok(), s[0].tokens),
            (std::vector<std::string>{"<s>", "▁The", "▁capital", "▁of", "▁France", "▁is", "▁Paris", ".", "</s>"}));
  EXPECT_EQ(std::vector<int32_t>(s[0].tokens.begin() + 1, s[0].tokens.begin() + 6), encode("The capital of France is"));
  EXPECT_EQ(s[0].weights, (std::vector<float>{0, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 1, 1, 1}));
  // "2 + 2 =" + " 4": the space before 4 is its own token and belongs to the completion.
  EXPECT_EQ(pieces(tok(), s[1].tokens),
            (std::vector<std::string>{"<s>", "▁", "2", "▁+", "▁", "2", "▁=", "▁", "4", "</s>"}));
  EXPECT_EQ(s[1].weights, (std::vector<float>{0, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 1, 1, 1}));
  EXPECT_EQ(s[1].tokens, concat(concat({kBos}, encode("2 + 2 = 4")), {kEos}));

  DataOptions completion_only;
  completion_only.prompt_loss_weight = 0;
  EXPECT_EQ(load(fixture("prompt_completion.jsonl"), completion_only)[0].weights,
            (std::vector<float>{0, 0, 0, 0, 0, 0, 1, 1, 1}));
  DataOptions all_tokens;
  all_tokens.prompt_loss_weight = 1;
  EXPECT_EQ(load(fixture("prompt_completion.jsonl"), all_tokens)[0].weights,
            (std::vector<float>{0, 1, 1, 1, 1, 1, 1, 1, 1}));
}

TEST_F(DataFormats, MessagesTrainAssistantContentAndEndOfTurn) {
  std::vector<Sample> s = load(fixture("messages.jsonl"));
  ASSERT_EQ(s.size(), 2u);
  // The template's rendering (no BOS in it, so the tokenizer's BOS is added).
  const std::string before = "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\n";
  const std::string rendered = before + "Hello!</s>\n";
  EXPECT_EQ(s[0].tokens, concat({kBos}, encode(rendered)));
  EXPECT_EQ(trained(s[0]), (std::vector<std::string>{"Hello", "!", "</s>"}));
  const size_t first = 1 + encode(before).size();  // the assistant content starts right after the opener
  EXPECT_EQ(s[0].weights[first], 1.0f);
  EXPECT_EQ(s[0].weights[first - 1], 0.1f);
  EXPECT_EQ(s[0].weights.back(), 0.1f);  // the template's newline after </s>

  // Two assistant turns: both trained, the user turn between them is prompt.
  EXPECT_EQ(s[1].tokens, concat({kBos}, encode("<|user|>\nName a color.</s>\n<|assistant|>\nBlue.</s>\n"
                                                "<|user|>\nAnother?</s>\n<|assistant|>\nRed.</s>\n")));
  EXPECT_EQ(trained(s[1]), (std::vector<std::string>{"Blue", ".", "</s>", "Red", ".", "</s>"}));

  // Axolotl's ShareGPT layout gives the same sample.
  std::vector<Sample> share_gpt = load(fixture("sharegpt.jsonl"));
  ASSERT_EQ(share_gpt.size(), 1u);
  EXPECT_EQ(share_gpt[0].tokens, s[0].tokens);
  EXPECT_EQ(share_gpt[0].weights, s[0].weights);

  // So does content as OpenAI's / HF's list of text parts, joined in order.
  const auto dir = test::temp_dir("data_formats_parts");
  test::write_file(dir, "parts.jsonl",
                   R"({"messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}, )"
                   R"({"role": "user", "content": "Hi"}, )"
                   R"({"role": "assistant", "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo!"}]}]})"
                   "\n");
  std::vector<Sample> parts = load(dir / "parts.jsonl");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].tokens, s[0].tokens);
  EXPECT_EQ(parts[0].weights, s[0].weights);
}

TEST_F(DataFormats, ConversationalPromptCompletionTrainsOnlyTheCompletion) {
  std::vector<Sample> s = load(fixture("conversational_pc.jsonl"));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].tokens, concat({kBos}, encode("<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n")));
  EXPECT_EQ(trained(s[0]), (std::vector<std::string>{"Hello", "!", "</s>"}));

  auto dir = test::temp_dir("data_conversational");
  auto path = test::write_file(dir, "pc.jsonl",
      R"({"prompt": [{"role": "user", "content": "A?"}, {"role": "assistant", "content": "Blue."},)"
      R"( {"role": "user", "content": "B?"}], "completion": [{"role": "assistant", "content": "Red."}]})" "\n");
  s = load(path);
  EXPECT_EQ(trained(s[0]), (std::vector<std::string>{"Red", ".", "</s>"}));  // not the prompt's "Blue."
}

TEST_F(DataFormats, AlpacaAsAChatTurn) {
  std::vector<Sample> s = load(fixture("alpaca.jsonl"));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].tokens, concat({kBos}, encode("<|user|>\nAdd the numbers.\n\n2 and 3</s>\n<|assistant|>\n5</s>\n")));
  EXPECT_EQ(trained(s[0]), (std::vector<std::string>{"5", "</s>"}));
  EXPECT_EQ(s[1].tokens, concat({kBos}, encode("<|user|>\nSay hi.</s>\n<|assistant|>\nHi!</s>\n")));
  EXPECT_EQ(trained(s[1]), (std::vector<std::string>{"Hi", "!", "</s>"}));
}

TEST_F(DataFormats, AlpacaWithoutTemplateUsesTheClassicPrompt) {
  std::vector<Sample> s = load(fixture("alpaca.jsonl"), {}, nullptr);
  ASSERT_EQ(s.size(), 2u);
  const std::string with_input =
      "Below is an instruction that describes a task, paired with an input that provides further context. "
      "Write a response that appropriately completes the request.\n\n"
      "### Instruction:\nAdd the numbers.\n\n### Input:\n2 and 3\n\n### Response:\n";
  EXPECT_EQ(s[0].tokens, concat(concat({kBos}, encode(with_input + "5")), {kEos}));
  EXPECT_EQ(s[0].tokens.size(), 1 + encode(with_input).size() + 2);  // "5" is one token after the newline
  EXPECT_EQ(trained(s[0]), (std::vector<std::string>{"5", "</s>"}));
  const std::string no_input =
      "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
      "### Instruction:\nSay hi.\n\n### Response:\n";
  EXPECT_EQ(s[1].tokens, concat(concat({kBos}, encode(no_input + "Hi!")), {kEos}));
  EXPECT_EQ(trained(s[1]), (std::vector<std::string>{"Hi", "!", "</s>"}));
}

TEST_F(DataFormats, TemplateThatEmitsBosGetsNoSecondOne) {
  ChatTemplate chat = ChatTemplate::parse(
      "{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}{{ eos_token }}\n{% endfor %}");
  std::vector<Sample> s = load(fixture("conversational_pc.jsonl"), {}, &chat);
  EXPECT_EQ(s[0].tokens, encode("<s>user: Hi</s>\nassistant: Hello!</s>\n"));
  EXPECT_EQ(s[0].tokens[0], kBos);
  EXPECT_NE(s[0].tokens[1], kBos);
  // "▁Hello" spans the template's space and the content's first letters: it counts as content.
  EXPECT_EQ(trained(s[0]), (std::vector<std::string>{"▁Hello", "!", "</s>"}));
}

TEST_F(DataFormats, TemplateWithoutEndOfTurnGetsEosAfterTheLastAnswer) {
  ChatTemplate chat = ChatTemplate::parse("{% for m in messages %}{{ m.role }}: {{ m.content | trim }}\n{% endfor %}");
  auto dir = test::temp_dir("data_no_eot");
  auto path = test::write_file(dir, "m.jsonl",
      R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  Hello! "}]})" "\n");
  std::vector<Sample> s = load(path, {}, &chat);
  // The template trims the content: found by its trimmed text. No stop token closes the turn, so
  // EOS is added after the rendering and trained.
  EXPECT_EQ(s[0].tokens, concat(concat({kBos}, encode("user: Hi\nassistant: Hello!\n")), {kEos}));
  EXPECT_EQ(trained(s[0]), (std::vector<std::string>{"▁Hello", "!", "</s>"}));
  EXPECT_EQ(tok().id_to_token(s[0].tokens[s[0].tokens.size() - 2]), "<0x0A>");  // the newline stays prompt
}

// llama.cpp's collection of real templates (Llama 3.x, Qwen 2.5, Mistral Nemo, Phi 3.5, DeepSeek R1,
// Command R7B, ...): each either finds the answer (trained text starts with it, the prompt text never
// holds it) or raises its own error, reported against the record. (Their end-of-turn markers are
// plain text to TinyLlama's tokenizer, so here the turn ends at the appended EOS.)
TEST_F(DataFormats, RealTemplatesFindTheAnswer) {
  const char* templates = "tokenizers/llama.cpp-vocab-tests/templates";
  TUNEKIT_REQUIRE_SHARED(templates);
  int found = 0, raised = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::shared_dir() / templates)) {
    if (entry.path().extension() != ".jinja") continue;
    SCOPED_TRACE(entry.path().filename().string());
    ChatTemplate chat = ChatTemplate::parse(read_text_file(entry.path()), entry.path().filename().string());
    std::vector<Sample> s;
    try {
      s = load(fixture("sharegpt.jsonl"), {}, &chat);  // system "Be brief.", user "Hi", assistant "Hello!"
    } catch (const Error& e) {  // Gemma refuses system turns; tool-use templates need tools
      EXPECT_TRUE(std::string(e.what()).starts_with(fixture("sharegpt.jsonl").string() + ":1: chat template: ")) << e.what();
      ++raised;
      continue;
    }
    std::vector<int32_t> trained, prompt;
    for (size_t i = 1; i < s[0].tokens.size(); ++i) (s[0].weights[i] == 1.0f ? trained : prompt).push_back(s[0].tokens[i]);
    EXPECT_TRUE(tok().decode(trained).starts_with("Hello!")) << tok().decode(trained);
    EXPECT_EQ(tok().decode(prompt).find("Hello"), std::string::npos) << tok().decode(prompt);
    EXPECT_NE(tok().decode(prompt).find("Hi"), std::string::npos) << tok().decode(prompt);
    EXPECT_EQ(s[0].tokens.back(), kEos);
    ++found;
  }
  EXPECT_GE(found, 10);
  EXPECT_GE(raised, 1);
}

TEST_F(DataFormats, TokenizerWithoutBosGetsNone) {
  const char* gpt2 = "tokenizers/llama.cpp-vocab-tests/ggml-vocab-gpt-2.gguf";
  TUNEKIT_REQUIRE_SHARED(gpt2);
  auto tok = load_tokenizer(test::shared_dir() / gpt2);  // byte-level BPE; BOS = EOS = <|endoftext|>, not added
  ASSERT_EQ(tok->encode("Dogs", true), tok->encode("Dogs", false));
  const int32_t eos = tok->eos_id();
  std::vector<Sample> s = load_dataset({fixture("prompt_completion.jsonl")}, {}, *tok, nullptr, {}).train;
  EXPECT_EQ(s[0].tokens, concat(tok->encode("The capital of France is Paris.", false), {eos}));
  EXPECT_EQ(pieces(*tok, s[0].tokens),
            (std::vector<std::string>{"The", "Ġcapital", "Ġof", "ĠFrance", "Ġis", "ĠParis", ".", "<|endoftext|>"}));
  EXPECT_EQ(s[0].weights, (std::vector<float>{0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 1, 1, 1}));
}

}  // namespace
}  // namespace tunekit
