// Grounded prompts (rag/grounded_prompt.h): content-word relevance, fitting sources into the context
// budget (checked by re-tokenizing the text independently), chat and plain renderings, citations.
#include "tunekit/rag/grounded_prompt.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/tokenizer/chat_template.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit::rag {
namespace {

ChunkRecord chunk(int64_t id, const std::string& doc, int64_t page, const std::string& text) {
  ChunkRecord c;
  c.id = id;
  c.document = doc;
  c.page_first = c.page_last = page;
  c.text = text;
  return c;
}

std::string long_text(int words) {
  std::string s;
  for (int i = 0; i < words; ++i) s += "bone" + std::to_string(i % 17) + " ";
  return s;
}

TEST(ContentWords, DropsFunctionWordsAndCase) {
  EXPECT_EQ(content_words("What is the Target blood-glucose range, before meals?"),
            (std::vector<std::string>{"target", "blood", "glucose", "range", "meals"}));
  EXPECT_TRUE(content_words("what is it and how? a the of").empty());
}

TEST(ContentWords, SharedWordsMatchInflections) {
  // question stems: target, blood, glucos(e), meal(s); the chunk has all four.
  EXPECT_EQ(shared_content_words("What is the target blood glucose before meals?",
                                 "Target blood glucose levels before a meal are 70 to 130 mg/dL."),
            4);
  // bone(s), form(ed), skull
  EXPECT_EQ(shared_content_words("Which bones form the skull?", "The skull is formed by eight cranial bones."), 3);
  EXPECT_EQ(shared_content_words("What is the airspeed of a swallow?", "Hand hygiene is the most important step."), 0);
  EXPECT_EQ(shared_content_words("what is the of", "the of what is"), 0);  // nothing but function words
  EXPECT_EQ(distinct_content_words("Which bones form the skull? The bone, the skull."), 3);  // bone, form, skull
}

class GroundedPromptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED("tokenizers/tinyllama-1.1b-chat");
    TUNEKIT_REQUIRE_SHARED("models/stories260K/tok512.bin");
  }
  static const Tokenizer& tinyllama() {
    static auto t = load_tokenizer(test::shared_dir() / "tokenizers/tinyllama-1.1b-chat");
    return *t;
  }
  static const ChatTemplate& zephyr() {
    static auto c = ChatTemplate::parse(*find_chat_template(test::shared_dir() / "tokenizers/tinyllama-1.1b-chat"));
    return c;
  }
  static const Tokenizer& stories() {
    static auto t = load_tokenizer(test::shared_dir() / "models/stories260K/tok512.bin");
    return *t;
  }
  std::vector<ChunkRecord> chunks_ = {chunk(7, "a.pdf", 3, "Glucose should be 70 to 130 before meals."),
                                      chunk(9, "b.pdf", 12, "Clean hands before every procedure."),
                                      chunk(4, "a.pdf", 4, "Eat vegetables.")};
};

TEST_F(GroundedPromptTest, PlainPromptHoldsNumberedSourcesAndTheQuestion) {
  PromptOptions o;
  o.context_tokens = 4096;
  GroundedPrompt p = build_grounded_prompt("What is the glucose target?", chunks_, stories(), nullptr, o);
  ASSERT_EQ(p.sources.size(), 3u);
  EXPECT_EQ(p.sources[1].id, 9);
  EXPECT_NE(p.text.find("[1] (a.pdf, p. 3) Glucose should be 70 to 130 before meals."), std::string::npos) << p.text;
  EXPECT_NE(p.text.find("[2] (b.pdf, p. 12) Clean hands"), std::string::npos);
  EXPECT_TRUE(p.text.starts_with(kDefaultSystemPrompt));
  EXPECT_TRUE(p.text.ends_with("Question: What is the glucose target?\nAnswer:")) << p.text;
  EXPECT_EQ(p.tokens, stories().encode(p.text, true));  // BOS + the text, as the tokenizer encodes it
  EXPECT_EQ(p.n_truncated, 0);
  o.max_sources = 2;
  EXPECT_EQ(build_grounded_prompt("q?", chunks_, stories(), nullptr, o).sources.size(), 2u);
}

TEST_F(GroundedPromptTest, ChatPromptUsesTheTemplate) {
  PromptOptions o;
  o.context_tokens = 4096;
  GroundedPrompt p = build_grounded_prompt("What is the glucose target?", chunks_, tinyllama(), &zephyr(), o);
  // Zephyr: "<|system|>\n...</s>\n<|user|>\n...</s>\n<|assistant|>\n"
  EXPECT_TRUE(p.text.starts_with("<|system|>\n")) << p.text;
  EXPECT_TRUE(p.text.ends_with("Question: What is the glucose target?</s>\n<|assistant|>\n")) << p.text;
  EXPECT_EQ(p.tokens, tinyllama().encode(p.text, false));
}

TEST_F(GroundedPromptTest, SourcesAreFittedToTheBudget) {
  std::vector<ChunkRecord> big = {chunk(1, "a.pdf", 1, long_text(60)), chunk(2, "a.pdf", 2, long_text(400)),
                                  chunk(3, "a.pdf", 3, long_text(50))};
  PromptOptions o;
  o.answer_tokens = 64;
  // Room for the first source whole and part of the second.
  const int64_t base = int64_t(build_grounded_prompt("Which bone?", {}, stories(), nullptr, o).tokens.size());
  PromptOptions roomy;
  roomy.context_tokens = 100000;
  const int64_t first = int64_t(build_grounded_prompt("Which bone?", {big[0]}, stories(), nullptr, roomy).tokens.size());
  o.context_tokens = first + 300 + o.answer_tokens;
  GroundedPrompt p = build_grounded_prompt("Which bone?", big, stories(), nullptr, o);
  ASSERT_EQ(p.sources.size(), 2u);
  EXPECT_EQ(p.n_truncated, 1);
  EXPECT_LE(int64_t(p.tokens.size()), o.context_tokens - o.answer_tokens);
  EXPECT_GT(int64_t(p.tokens.size()), o.context_tokens - o.answer_tokens - 20);  // the cut uses the room
  EXPECT_EQ(p.tokens, stories().encode(p.text, true));
  EXPECT_NE(p.text.find(" ...\n\n"), std::string::npos);
  EXPECT_EQ(p.text.find("[3]"), std::string::npos);
  // Less than 32 tokens of room for a source: it is left out, not cut to a stub.
  o.context_tokens = base + 20 + o.answer_tokens;
  EXPECT_TRUE(build_grounded_prompt("Which bone?", big, stories(), nullptr, o).sources.empty());
  // A question that does not fit is an error that says what to change.
  o.context_tokens = base + o.answer_tokens - 1;
  try {
    build_grounded_prompt("Which bone?", big, stories(), nullptr, o);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lower --max-tokens"), std::string::npos) << e.what();
  }
}

TEST(CitedSources, FollowsTheAnswersCitationsElseAllSources) {
  std::vector<ChunkRecord> s = {chunk(10, "a.pdf", 3, "x"), chunk(11, "b.pdf", 5, "y"), chunk(12, "a.pdf", 3, "z"),
                                chunk(13, "c.md", 1, "w")};
  std::vector<double> scores = {0.9, 0.8, 0.7, 0.6};
  auto c = cited_sources("Glucose is 70-130 [2]. See also [1, 4] and [9] and [x].", s, scores);
  ASSERT_EQ(c.size(), 3u);  // [9] names no source; [x] is not a citation
  EXPECT_EQ(c[0].chunk_id, 11);
  EXPECT_EQ(c[0].number, 2);
  EXPECT_EQ(c[1].chunk_id, 10);
  EXPECT_EQ(c[2].chunk_id, 13);
  EXPECT_DOUBLE_EQ(c[2].score, 0.6);
  // No citations: every source, one per (document, page): chunk 12 repeats a.pdf p. 3.
  auto all = cited_sources("I think so.", s, scores);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].chunk_id, 11);
  EXPECT_EQ(format_citation(all[0]), "[a.pdf, p. 3]");
  EXPECT_THROW(cited_sources("x", s, {1.0}), Error);
}

TEST(CitedNumbers, InOrderOfFirstMentionOncePerSource) {
  EXPECT_EQ(cited_numbers("Glucose is 70-130 [2]. See also [1, 4], [2] and [9] and [x].", 4),
            (std::vector<int64_t>{2, 1, 4}));
  EXPECT_TRUE(cited_numbers("No markers; [0] and [5] name no source.", 4).empty());
  EXPECT_TRUE(cited_numbers("[1]", 0).empty());
}

}  // namespace
}  // namespace tunekit::rag
