// load_dataset over files: raw documents in overlapping windows, folders, several files of different
// formats, CRLF and a UTF-8 BOM, the seeded train/validation split, validation files, and the samples
// going through BatchIterator with every weight landing on its target.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data_test_util.h"
#include "tunekit/io/file_util.h"

namespace tunekit {
namespace {

using test::fixture;

class DataLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED(test::kTinyLlama);
    dir_ = test::temp_dir(std::string("data_load_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  static const test::TinyLlama& tiny() {
    static test::TinyLlama t;
    return t;
  }
  const Tokenizer& tok() const { return *tiny().tok; }
  Dataset load(const std::vector<std::filesystem::path>& paths, const DataOptions& options = {},
               const std::vector<std::filesystem::path>& val = {}) const {
    return load_dataset(paths, val, tok(), &*tiny().chat, options);
  }
  static std::vector<std::string> sources(const std::vector<Sample>& samples) {
    std::vector<std::string> out;
    for (const Sample& s : samples) out.push_back(s.source);
    return out;
  }

  std::filesystem::path dir_;
};

TEST_F(DataLoad, RawDocumentInOverlappingWindows) {
  DataOptions options;
  options.seq_len = 8;
  std::vector<Sample> chunks = load({fixture("doc.md")}, options).train;
  // The whole document: BOS, its tokens, EOS; windows of 8 that share one token with the next.
  std::vector<int32_t> whole = tok().encode(read_text_file(fixture("doc.md")), true);
  whole.push_back(tok().eos_id());
  ASSERT_GT(whole.size(), 16u);
  std::vector<int32_t> joined;
  for (size_t k = 0; k < chunks.size(); ++k) {
    const Sample& c = chunks[k];
    EXPECT_EQ(c.source, fixture("doc.md").string() + ":chunk " + std::to_string(k + 1));
    EXPECT_LE(c.tokens.size(), 8u);
    EXPECT_GE(c.tokens.size(), 2u);
    EXPECT_EQ(c.weights, std::vector<float>(c.tokens.size(), 1.0f));
    if (k + 1 < chunks.size()) {
      EXPECT_EQ(c.tokens.size(), 8u);
      EXPECT_EQ(c.tokens.back(), chunks[k + 1].tokens.front());
    }
    joined.insert(joined.end(), c.tokens.begin() + (k == 0 ? 0 : 1), c.tokens.end());
  }
  EXPECT_EQ(joined, whole);  // every token once; each but the first is some window's target
  EXPECT_EQ(chunks.size(), (whole.size() - 1 + 6) / 7);

  options.seq_len = 4096;
  std::vector<Sample> one = load({fixture("doc.md")}, options).train;
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].tokens, whole);
}

// A .pdf is a raw document read through DataOptions::pdf_text (the CLI passes the knowledge base's
// reader): its samples are those of the same text in a .txt. Without a reader it is refused by name;
// .markdown counts as Markdown.
TEST_F(DataLoad, PdfThroughTheGivenReaderAndMarkdownExtension) {
  const std::string text = "The femur is the longest bone.\nIt articulates with the pelvis.";
  test::write_file(dir_, "manual.pdf", "%PDF-1.4 (bytes the fake reader never looks at)");
  test::write_file(dir_, "manual.txt", text);
  test::write_file(dir_, "notes.markdown", text);
  DataOptions options;
  options.seq_len = 8;
  std::vector<std::filesystem::path> asked;
  options.pdf_text = [&](const std::filesystem::path& p) {
    asked.push_back(p);
    return text;
  };
  const Dataset from_pdf = load({dir_ / "manual.pdf"}, options), from_txt = load({dir_ / "manual.txt"}, options),
                from_md = load({dir_ / "notes.markdown"}, options);
  EXPECT_EQ(asked, std::vector<std::filesystem::path>{dir_ / "manual.pdf"});
  ASSERT_EQ(from_pdf.train.size(), from_txt.train.size());
  ASSERT_EQ(from_md.train.size(), from_txt.train.size());
  for (size_t i = 0; i < from_txt.train.size(); ++i) {
    EXPECT_EQ(from_pdf.train[i].tokens, from_txt.train[i].tokens) << i;
    EXPECT_EQ(from_md.train[i].tokens, from_txt.train[i].tokens) << i;
  }
  EXPECT_EQ(from_pdf.train[0].source, (dir_ / "manual.pdf").string() + ":chunk 1");
  // a folder picks the .pdf up only when there is a reader
  EXPECT_EQ(load({dir_}, options).train.size(), 3 * from_txt.train.size());
  options.pdf_text = nullptr;
  EXPECT_EQ(load({dir_}, options).train.size(), 2 * from_txt.train.size());
  try {
    load({dir_ / "manual.pdf"}, options);
    ADD_FAILURE() << "a .pdf without a reader was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("manual.pdf: PDF needs a document reader"), std::string::npos) << e.what();
  }
}

// .json files as HF datasets reads them: an array of records (Alpaca's alpaca_data.json), JSON Lines
// under a .json name, or one record over several lines; each gives the samples of the same records
// in a .jsonl. A folder does not pick .json files up (in a dataset folder they are often metadata).
TEST_F(DataLoad, JsonArraysJsonLinesAndOneRecordUnderJsonNames) {
  const std::string a = R"({"instruction": "Name a bone.", "input": "", "output": "The femur."})",
                    b = R"({"instruction": "Name another.", "output": "The tibia."})";
  test::write_file(dir_, "ref.jsonl", a + "\n" + b + "\n");
  test::write_file(dir_, "array.json", "[" + a + ",\n  " + b + "]");
  test::write_file(dir_, "lines.json", a + "\n" + b + "\n");
  test::write_file(dir_, "one.json", "{\n  \"instruction\": \"Name a bone.\",\n  \"output\": \"The femur.\"\n}\n");
  const Dataset ref = load({dir_ / "ref.jsonl"});
  ASSERT_EQ(ref.train.size(), 2u);
  for (const char* name : {"array.json", "lines.json"}) {
    const Dataset d = load({dir_ / name});
    ASSERT_EQ(d.train.size(), 2u) << name;
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(d.train[i].tokens, ref.train[i].tokens) << name << " " << i;
      EXPECT_EQ(d.train[i].weights, ref.train[i].weights) << name << " " << i;
    }
  }
  EXPECT_EQ(sources(load({dir_ / "array.json"}).train),
            (std::vector<std::string>{(dir_ / "array.json").string() + ":record 1", (dir_ / "array.json").string() + ":record 2"}));
  const Dataset one = load({dir_ / "one.json"});
  ASSERT_EQ(one.train.size(), 1u);
  EXPECT_EQ(one.train[0].tokens, ref.train[0].tokens);
  EXPECT_EQ(load({dir_}).train.size(), 2u);  // ref.jsonl only

  auto error_of = [&](const std::string& name, const std::string& content) {
    test::write_file(dir_, name, content);
    try {
      load({dir_ / name});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("broken.json", "[" + a + ",").find("broken.json: not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("mixed.json", "[" + a + ", 5]").find("mixed.json:record 2: expected a JSON object"),
            std::string::npos);
  EXPECT_NE(error_of("dataset_info.json", R"({"features": {}, "splits": {}})").find("dataset_info.json:record 1: cannot tell"),
            std::string::npos);
}

TEST_F(DataLoad, FoldersAndFormatsPerFile) {
  test::write_file(dir_, "b.txt", "Second document.");
  test::write_file(dir_, "a.jsonl", "{\"prompt\": \"Q\", \"completion\": \" A\"}\n");
  std::filesystem::create_directories(dir_ / "sub");
  test::write_file(dir_, "sub/c.md", "# Third\n");
  test::write_file(dir_, "notes.csv", "ignored,file\n");
  Dataset d = load({dir_, fixture("messages.jsonl"), fixture("text.jsonl")});
  EXPECT_EQ(sources(d.train), (std::vector<std::string>{
      (dir_ / "a.jsonl").string() + ":1", (dir_ / "b.txt").string() + ":chunk 1", (dir_ / "sub/c.md").string() + ":chunk 1",
      fixture("messages.jsonl").string() + ":1", fixture("messages.jsonl").string() + ":2",
      fixture("text.jsonl").string() + ":1", fixture("text.jsonl").string() + ":3"}));
  EXPECT_EQ(d.train[1].tokens.front(), 1);  // a document gets BOS
  EXPECT_TRUE(d.val.empty());
  EXPECT_TRUE(d.skipped.empty());
}

TEST_F(DataLoad, CrlfAndByteOrderMark) {
  auto unix_file = test::write_file(dir_, "lf.jsonl", "{\"text\": \"one\"}\n{\"text\": \"two\"}");
  auto dos_file = test::write_file(dir_, "crlf.jsonl", "\xEF\xBB\xBF{\"text\": \"one\"}\r\n\r\n{\"text\": \"two\"}\r\n");
  std::vector<Sample> a = load({unix_file}).train, b = load({dos_file}).train;
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(a[0].tokens, b[0].tokens);
  EXPECT_EQ(a[1].tokens, b[1].tokens);
  EXPECT_EQ(b[1].source, dos_file.string() + ":3");
}

TEST_F(DataLoad, SeededValidationSplit) {
  std::string lines;
  for (int i = 1; i <= 20; ++i) lines += "{\"text\": \"record " + std::to_string(i) + "\"}\n";
  auto path = test::write_file(dir_, "d.jsonl", lines);
  DataOptions options;
  options.val_fraction = 0.25;
  options.seed = 3;
  Dataset a = load({path}, options);
  ASSERT_EQ(a.train.size(), 15u);
  ASSERT_EQ(a.val.size(), 5u);
  std::vector<std::string> train = sources(a.train), val = sources(a.val);
  std::set<std::string> all(train.begin(), train.end());
  all.insert(val.begin(), val.end());
  EXPECT_EQ(all.size(), 20u);  // disjoint, nothing lost
  auto line_of = [&](const std::string& s) { return std::stoi(s.substr(path.string().size() + 1)); };
  auto in_file_order = [&](const std::vector<std::string>& v) {
    return std::is_sorted(v.begin(), v.end(), [&](auto& x, auto& y) { return line_of(x) < line_of(y); });
  };
  EXPECT_TRUE(in_file_order(train));
  EXPECT_TRUE(in_file_order(val));
  EXPECT_FALSE(line_of(val.front()) == 1 && line_of(val.back()) == 5) << "a shuffle, not the first lines";

  EXPECT_EQ(sources(load({path}, options).val), val) << "same seed, same split";
  options.seed = 4;
  EXPECT_NE(sources(load({path}, options).val), val) << "another seed, another split";
  options.val_fraction = 0.01;
  EXPECT_EQ(load({path}, options).val.size(), 1u) << "a positive fraction keeps at least one sample";
}

TEST_F(DataLoad, ValidationFiles) {
  Dataset d = load({fixture("text.jsonl")}, {}, {fixture("prompt_completion.jsonl")});
  EXPECT_EQ(d.train.size(), 2u);
  EXPECT_EQ(sources(d.val), (std::vector<std::string>{fixture("prompt_completion.jsonl").string() + ":1",
                                                      fixture("prompt_completion.jsonl").string() + ":2"}));
}

// Every sample's weights reach the batch at the target they belong to: Σ batch weights equals
// Σ over samples of weights[1..n), and the completion tokens are targets with weight 1.
TEST_F(DataLoad, SamplesThroughBatches) {
  Dataset d = load({fixture("prompt_completion.jsonl"), fixture("messages.jsonl"), fixture("alpaca.jsonl")});
  double expected = 0;
  for (const Sample& s : d.train)
    for (size_t i = 1; i < s.weights.size(); ++i) expected += s.weights[i];
  BatchIterator it(d.train, {.seq_len = 96, .n_row = 2, .pack = true, .shuffle = true, .seed = 1});
  double total = 0;
  int64_t paris = 0;
  const int32_t paris_id = tok().encode("Paris", false).back();
  for (int64_t b = 0, n = it.batches_in_epoch(0); b < n; ++b) {
    Batch batch;
    it.next(batch);
    total += batch.weight_sum();
    for (int64_t j = 0; j < batch.size(); ++j)
      if (batch.targets[size_t(j)] == paris_id) {
        ++paris;
        EXPECT_EQ(batch.weights[size_t(j)], 1.0f);
        EXPECT_EQ(batch.tokens[size_t(j)], tok().encode("The capital of France is", false).back());
      }
  }
  EXPECT_NEAR(total, expected, 1e-4);
  EXPECT_EQ(paris, 1);
}

}  // namespace
}  // namespace tunekit
