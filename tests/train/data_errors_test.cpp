// Bad input to load_dataset: every error names file:line (or the file) and what is wrong, before any
// training work; skip_bad_lines skips and counts; truncate cuts and counts.
#include <gtest/gtest.h>

#include "data_test_util.h"

namespace tunekit {
namespace {

using test::error_of;

class DataErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED(test::kTinyLlama);
    dir_ = test::temp_dir(std::string("data_errors_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  static const test::TinyLlama& tiny() {
    static test::TinyLlama t;
    return t;
  }

  std::filesystem::path write(const std::string& name, const std::string& text) {
    return test::write_file(dir_, name, text);
  }
  Dataset load(const std::filesystem::path& path, const DataOptions& options = {},
               const ChatTemplate* chat = &*tiny().chat) {
    return load_dataset({path}, {}, *tiny().tok, chat, options);
  }
  // The error loading `jsonl` (as d.jsonl) gives, with the file's path replaced by "d.jsonl".
  std::string error(const std::string& jsonl, const DataOptions& options = {}, const ChatTemplate* chat = &*tiny().chat) {
    auto path = write("d.jsonl", jsonl);
    std::string e = error_of([&] { load(path, options, chat); });
    for (size_t at; (at = e.find(path.string())) != std::string::npos;) e.replace(at, path.string().size(), "d.jsonl");
    return e;
  }

  std::filesystem::path dir_;
};

TEST_F(DataErrors, BadJsonNamesTheLine) {
  EXPECT_EQ(error("{\"text\": \"a\"}\n{\"text\": \"b\"\n"),
            "d.jsonl:2: bad JSON at column 13: syntax error while parsing object - "
            "unexpected end of input; expected '}'");
  // Blank lines count: the line number is the file's.
  std::string e = error("\n\n{\"text\": nope}\n");
  EXPECT_TRUE(e.starts_with("d.jsonl:3: bad JSON at column 11: ")) << e;
  // A number no double holds is nlohmann's out_of_range, not parse_error: still an error naming the line
  // (found by fuzz_dataset_jsonl, which saw it escape as an uncaught exception).
  e = error("{\"text\": \"a\", \"n\": 1e999}\n");
  EXPECT_TRUE(e.starts_with("d.jsonl:1: bad JSON ")) << e;
  EXPECT_NE(e.find("1e999"), std::string::npos) << e;
}

TEST_F(DataErrors, MissingKeysAndWrongTypes) {
  EXPECT_EQ(error("{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"c\"}\n"),
            "d.jsonl:2: missing key \"completion\" (prompt/completion records need \"prompt\" and \"completion\")");
  EXPECT_EQ(error("{\"text\": 5}\n"), "d.jsonl:1: \"text\" must be a string, got number");
  EXPECT_EQ(error("[1, 2]\n"), "d.jsonl:1: expected a JSON object, got array");
  EXPECT_EQ(error("{\"prompt\": \"a\", \"completion\": [{\"role\": \"assistant\", \"content\": \"b\"}]}\n"),
            "d.jsonl:1: \"prompt\" and \"completion\" must both be strings or both be lists of messages, got string "
            "and array");
  EXPECT_EQ(error("{\"instruction\": \"a\", \"input\": 3, \"output\": \"b\"}\n"),
            "d.jsonl:1: \"input\" must be a string, got number");
  EXPECT_EQ(error("{\"messages\": {\"role\": \"user\"}}\n"),
            "d.jsonl:1: \"messages\" must be a list of messages, got object");
  EXPECT_EQ(error("{\"messages\": [{\"role\": \"user\", \"content\": null}]}\n"),
            "d.jsonl:1: messages[0].content must be a string or a list of text parts, got null");
  EXPECT_EQ(error("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}\n"),
            "d.jsonl:1: messages[0].content[0] is a \"image_url\" part; only text parts are supported");
  EXPECT_EQ(error("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": 5}]}]}\n"),
            "d.jsonl:1: messages[0].content[0].text must be a string");
  EXPECT_EQ(error("{\"messages\": [{\"content\": \"hi\"}]}\n"), "d.jsonl:1: messages[0] has no \"role\"");
}

TEST_F(DataErrors, UnknownFormatAndForcedFormat) {
  EXPECT_EQ(error("{\"question\": \"q\", \"answer\": \"a\"}\n"),
            "d.jsonl:1: cannot tell the dataset format from the keys {\"question\", \"answer\"}: expected \"text\", "
            "\"prompt\"+\"completion\", \"messages\" (or \"conversations\") or \"instruction\"+\"output\" (or set the "
            "format)");
  DataOptions text;
  text.format = DataFormat::Text;
  EXPECT_EQ(error("{\"prompt\": \"a\", \"completion\": \"b\"}\n", text),
            "d.jsonl:1: missing key \"text\" (text records need \"text\")");
}

TEST_F(DataErrors, ChatRecords) {
  EXPECT_EQ(error("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"bot\", \"content\": \"yo\"}]}\n"),
            "d.jsonl:1: messages[1].role \"bot\" is not a known role (system, user, assistant, tool)");
  EXPECT_EQ(error("{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, {\"from\": \"bot\", \"value\": \"yo\"}]}\n"),
            "d.jsonl:1: conversations[1].from \"bot\" is not a known role (system, user, assistant, tool; ShareGPT's "
            "human, gpt)");
  EXPECT_EQ(error("{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"hi\"}]}\n"),
            "d.jsonl:1: no assistant message: nothing to learn from (roles: system, user)");
  EXPECT_EQ(error("{\"prompt\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}], "
                  "\"completion\": [{\"role\": \"user\", \"content\": \"c\"}]}\n"),
            "d.jsonl:1: no assistant message in the completion: nothing to learn from (roles: user, assistant, user)");
  EXPECT_EQ(error("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n",
                  {}, nullptr),
            "d.jsonl:1: chat records need the model's chat template and it has none (use text or prompt/completion "
            "records, or give the template)");
  ChatTemplate raising = ChatTemplate::parse("{{ raise_exception('roles must alternate') }}", "t.jinja");
  std::string e = error("{\"messages\": [{\"role\": \"assistant\", \"content\": \"yo\"}]}\n", {}, &raising);
  EXPECT_TRUE(e.starts_with("d.jsonl:1: chat template: t.jinja:")) << e;
  EXPECT_NE(e.find("roles must alternate"), std::string::npos) << e;
}

TEST_F(DataErrors, EmptyFiles) {
  EXPECT_EQ(error(""), "d.jsonl: no samples (the file holds no records)");
  EXPECT_EQ(error("\n  \n\r\n"), "d.jsonl: no samples (the file holds no records)");
  DataOptions skip;
  skip.skip_bad_lines = true;
  EXPECT_EQ(error("{oops\n{\"text\": 1}\n", skip),
            "d.jsonl: no samples (all 2 records were skipped as bad; the first: d.jsonl:1: bad JSON at column 2: "
            "syntax error while parsing object key - invalid literal; last read: '{o'; expected "
            "string literal)");
  auto doc = write("empty.md", " \n\n");
  EXPECT_EQ(error_of([&] { load(doc); }), doc.string() + ": the document is empty");
}

TEST_F(DataErrors, SkipBadLinesCountsThem) {
  auto path = write("d.jsonl", "{\"text\": \"one\"}\n{\"text\": \n{\"text\": 5}\n\n{\"text\": \"two\"}\n");
  DataOptions skip;
  skip.skip_bad_lines = true;
  Dataset d = load(path, skip);
  ASSERT_EQ(d.train.size(), 2u);
  EXPECT_EQ(d.train[0].source, path.string() + ":1");
  EXPECT_EQ(d.train[1].source, path.string() + ":5");
  ASSERT_EQ(d.skipped.size(), 2u);
  EXPECT_TRUE(d.skipped[0].starts_with(path.string() + ":2: bad JSON at column ")) << d.skipped[0];
  EXPECT_EQ(d.skipped[1], path.string() + ":3: \"text\" must be a string, got number");
  // The first good record decides the format even when line 1 is bad.
  auto late = write("late.jsonl", "nope\n{\"prompt\": \"The capital of France is\", \"completion\": \" Paris.\"}\n");
  d = load(late, skip);
  ASSERT_EQ(d.train.size(), 1u);
  EXPECT_EQ(d.train[0].weights.back(), 1.0f);
  EXPECT_EQ(d.train[0].weights[1], 0.1f);
}

TEST_F(DataErrors, LongSamplesFailOrTruncate) {
  DataOptions short_rows;
  short_rows.seq_len = 4;
  EXPECT_EQ(error("{\"text\": \"ok\"}\n{\"text\": \"The cat sat on the mat.\"}\n", short_rows),
            "d.jsonl:2: sample has 9 tokens, more than seq_len 4 (raise seq_len, or set truncate to cut long samples)");
  auto path = write("d.jsonl", "{\"text\": \"The cat sat on the mat.\"}\n");
  short_rows.truncate = true;
  Dataset d = load(path, short_rows);
  ASSERT_EQ(d.train.size(), 1u);
  EXPECT_EQ(d.n_truncated, 1);
  std::vector<int32_t> whole = tiny().tok->encode("The cat sat on the mat.", true);
  EXPECT_EQ(d.train[0].tokens, std::vector<int32_t>(whole.begin(), whole.begin() + 4));
  EXPECT_EQ(d.train[0].weights.size(), 4u);
}

TEST_F(DataErrors, PathsAndOptions) {
  const Tokenizer& tok = *tiny().tok;
  auto missing = dir_ / "nope.jsonl";
  EXPECT_EQ(error_of([&] { load(missing); }), missing.string() + ": no such file or folder");
  auto csv = write("data.csv", "a,b\n");
  EXPECT_EQ(error_of([&] { load(csv); }),
            csv.string() + ": not a dataset file (expected .json or .jsonl, .txt, .md or .markdown, or a folder of them)");
  auto empty_dir = dir_ / "empty";
  std::filesystem::create_directories(empty_dir);
  write("empty/notes.csv", "x");
  EXPECT_EQ(error_of([&] { load(empty_dir); }), empty_dir.string() + ": the folder holds no .jsonl, .txt, .md or .markdown files");

  auto good = write("good.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
  auto with = [&](auto change) {
    DataOptions o;
    change(o);
    return error_of([&] { load(good, o); });
  };
  EXPECT_EQ(with([](DataOptions& o) { o.prompt_loss_weight = 1.5; }), "prompt_loss_weight must be in [0, 1], got 1.5");
  EXPECT_EQ(with([](DataOptions& o) { o.seq_len = 1; }), "seq_len must be at least 2, got 1");
  EXPECT_EQ(with([](DataOptions& o) { o.val_fraction = 1; }), "val_fraction must be in [0, 1), got 1");
  EXPECT_EQ(with([](DataOptions& o) { o.val_fraction = 0.9; }),
            "val_fraction 0.9 of 2 samples leaves no training samples (lower val_fraction or give more data)");
  DataOptions split;
  split.val_fraction = 0.5;
  EXPECT_EQ(error_of([&] { load_dataset({good}, {good}, tok, nullptr, split); }),
            "give either validation files or val_fraction, not both");
  EXPECT_EQ(error_of([&] { load_dataset({}, {}, tok, nullptr, {}); }), "no training data given");
  EXPECT_EQ(error_of([] { parse_data_format("csv"); }),
            "unknown dataset format \"csv\" (expected auto, text, prompt_completion, messages, alpaca or raw)");
  EXPECT_EQ(parse_data_format("prompt_completion"), DataFormat::PromptCompletion);
}

}  // namespace
}  // namespace tunekit
