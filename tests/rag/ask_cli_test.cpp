// tunekit ask end to end on the real PDFs with stories260K: the pipeline, the citations and the JSON
// (the model's answers are nonsense; what is checked is what the tool builds around them).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "encoder_test_util.h"
#include "test_paths.h"
#include "tunekit/rag/answer.h"

namespace tunekit {
namespace {

using test::run_cli;

class AskCli : public ::testing::Test {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
    TUNEKIT_REQUIRE_SHARED("data/docs/niddk-eating-and-diabetes.pdf");
    static const std::filesystem::path kb = [] {
      auto dir = test::temp_dir("ask_cli") / "kb";
      auto r = run_cli({"kb", "ingest", (test::shared_dir() / "data/docs").string(), "--kb", dir.string(), "--chunk",
                        "page"});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return dir;
    }();
    kb_ = kb;
  }
  std::vector<std::string> ask(const std::string& question, std::vector<std::string> extra = {}) const {
    const auto m = test::shared_dir() / "models/stories260K";
    std::vector<std::string> args = {"ask",     "--kb", kb_.string(), "--model", (m / "stories260K.bin").string(),
                                     "--tokenizer", (m / "tok512.bin").string(), question};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::filesystem::path kb_;
};

TEST_F(AskCli, JsonHasAnswerSourcesAndTimings) {
  auto r = run_cli(ask("What is the target blood glucose range before meals?", {"--json", "--mode", "bm25"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["grounded"].get<bool>());
  EXPECT_FALSE(j["answer"].get<std::string>().empty());
  EXPECT_EQ(j["retrieval_mode"], "bm25");
  EXPECT_EQ(j["warning"], "");
  ASSERT_GE(j["sources"].size(), 1u);
  for (const auto& s : j["sources"]) {
    EXPECT_TRUE(s["document"] == "niddk-eating-and-diabetes.pdf" ||
                s["document"] == "cdc-infection-prevention-outpatient-guide.pdf") << s;
    EXPECT_GE(s["page"].get<int64_t>(), 1);
    EXPECT_GT(s["chunk_id"].get<int64_t>(), 0);
    EXPECT_GT(s["score"].get<double>(), 0);
  }
  // The first source is the diabetes guide (the question's words are its words).
  EXPECT_EQ(j["sources"][0]["document"], "niddk-eating-and-diabetes.pdf");
  // stories260K's context is 512 tokens: prompt + answer fit in it.
  EXPECT_LE(j["prompt_tokens"].get<int64_t>() + j["answer_tokens"].get<int64_t>(), 512);
  for (const char* key : {"retrieve_s", "prefill_s", "decode_s", "total_s"}) EXPECT_GE(j["timings"][key].get<double>(), 0) << key;
}

TEST_F(AskCli, TextOutputEndsWithCitations) {
  auto r = run_cli(ask("How many calories a day are recommended for a small woman who exercises?", {"-q"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto at = r.out.find("\nSources:\n  [niddk-eating-and-diabetes.pdf, p. ");
  EXPECT_NE(at, std::string::npos) << r.out;
  // Hybrid without vectors says it fell back to BM25.
  EXPECT_NE(r.err.find("fell back to BM25"), std::string::npos) << r.err;
}

TEST_F(AskCli, NothingRelevantIsSaidNotInvented) {
  auto r = run_cli(ask("Who won the 1966 football world cup?", {"--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["grounded"].get<bool>());
  EXPECT_EQ(j["answer"], rag::kNothingRelevantAnswer);
  EXPECT_TRUE(j["sources"].empty());
  EXPECT_EQ(j["finish_reason"], "no_context");
  EXPECT_EQ(j["answer_tokens"], 0);
}

TEST_F(AskCli, MultiQueryAndRerankFitTheSmallContext) {
  // stories260K's 512-token context cannot hold 8 passages of 600 bytes: rerank shortens them.
  auto r = run_cli(ask("What is the target blood glucose range before meals?",
                       {"--json", "--mode", "bm25", "--rephrasings", "2", "--rerank", "8"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_GE(j["queries"].size(), 1u);
  EXPECT_LE(j["queries"].size(), 3u);
  EXPECT_EQ(j["queries"][0], "What is the target blood glucose range before meals?");
  EXPECT_TRUE(j["grounded"].get<bool>());
  ASSERT_GE(j["sources"].size(), 1u);
  EXPECT_LE(j["sources"][0]["score"].get<double>(), 1.0);  // reranked scores are 1 / rank
}

TEST_F(AskCli, HybridUsesTheBasesEncoderAndVectors) {
  // A copy of the base, embedded with the tiny golden encoder (a real BERT forward, random weights).
  const auto kb = kb_.parent_path() / "kb_dense";
  std::filesystem::remove_all(kb);
  std::filesystem::copy(kb_, kb, std::filesystem::copy_options::recursive);
  auto r = run_cli({"kb", "embed", "--kb", kb.string(), "--encoder", test::golden_encoder_dir().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto args = ask("What is the target blood glucose range before meals?", {"--json"});
  args[2] = kb.string();
  r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["retrieval_mode"], "hybrid");
  EXPECT_EQ(j["warning"], "");
  EXPECT_TRUE(j["grounded"].get<bool>());
  ASSERT_GE(j["sources"].size(), 1u);
  EXPECT_GT(j["sources"][0]["score"].get<double>(), 0);
  EXPECT_LE(j["sources"][0]["score"].get<double>(), 2.0 / 61);  // an RRF score: at most 1/61 per list
}

TEST_F(AskCli, BadInputIsAnError) {
  auto r = run_cli(ask("", {}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("question is empty"), std::string::npos) << r.err;
  r = run_cli(ask("glucose?", {"--mode", "fuzzy"}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("fuzzy"), std::string::npos) << r.err;
  r = run_cli(ask("glucose?", {"--mode", "dense"}));  // no vectors in this base
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("kb embed"), std::string::npos) << r.err;
  auto m = test::shared_dir() / "models/stories260K";
  r = run_cli({"ask", "--kb", (kb_.parent_path() / "nowhere").string(), "--model", (m / "stories260K.bin").string(),
               "--tokenizer", (m / "tok512.bin").string(), "glucose?"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nowhere"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tunekit
