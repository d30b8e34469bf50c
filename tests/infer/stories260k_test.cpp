// The real-model oracle: stories260K (llama2.c) must reproduce llama2.c's greedy output token for
// token, from the llama2.c file and after conversion to HF safetensors and to GGUF.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tunekit/infer/generate.h"
#include "tunekit/io/gguf.h"
#include "tunekit/tokenizer/tokenizer.h"

using namespace tunekit;

namespace {

const char* kDir = "models/stories260K";

struct Reference {
  std::vector<int32_t> ids;
  std::string text;
};

Reference reference() {
  std::ifstream in(test::shared_dir() / kDir / "greedy200_reference.json");
  auto j = nlohmann::json::parse(in);
  return {j["generated_ids"].get<std::vector<int32_t>>(), j["text"].get<std::string>()};
}

GenerateResult greedy(const Model& m, const Tokenizer& tok, int64_t n, std::vector<std::string> stop = {}) {
  GenerateOptions opt;
  opt.max_tokens = n;
  opt.sampling.temperature = 0;
  opt.stop = std::move(stop);
  return generate(m, tok, tok.encode("", true), opt);
}

class Stories260K : public ::testing::Test {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED(std::string(kDir) + "/stories260K.bin");
    model_ = load_model(test::shared_dir() / kDir / "stories260K.bin");
    tok_ = load_tokenizer(test::shared_dir() / kDir / "tok512.bin");
    ref_ = reference();
  }
  Model model_;
  std::unique_ptr<Tokenizer> tok_;
  Reference ref_;
};

TEST_F(Stories260K, GreedyMatchesLlama2c) {
  EXPECT_EQ(tok_->encode("", true), std::vector<int32_t>{1});
  GenerateResult r = greedy(model_, *tok_, 200);
  EXPECT_EQ(r.tokens, ref_.ids);
  EXPECT_EQ(r.text, ref_.text);
  EXPECT_EQ(r.finish_reason, "length");
}

TEST_F(Stories260K, SameOutputAfterConversionToHfAndGguf) {
  auto tmp = test::temp_dir("stories260k_convert");
  save_hf(model_, tmp / "hf");
  save_gguf(model_, tmp / "model.gguf", DType::F32, [&](GgufWriter& w) { tok_->write_gguf(w); });
  GenerateResult hf = greedy(load_model(tmp / "hf"), *tok_, 200);
  EXPECT_EQ(hf.tokens, ref_.ids);
  // The GGUF carries its own tokenizer: use that one.
  GgufFile gguf = GgufFile::open(tmp / "model.gguf");
  auto gguf_tok = load_tokenizer(gguf);
  GenerateResult g = greedy(load_model(tmp / "model.gguf"), *gguf_tok, 200);
  EXPECT_EQ(g.tokens, ref_.ids);
  EXPECT_EQ(g.text, ref_.text);
}

TEST_F(Stories260K, StopStringCutsTheTextBeforeIt) {
  const std::string stop = "She loved";
  GenerateResult r = greedy(model_, *tok_, 200, {stop});
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.text, ref_.text.substr(0, ref_.text.find(stop)));
}

TEST_F(Stories260K, StreamedPiecesConcatenateToTheText) {
  GenerateOptions opt;
  opt.max_tokens = 200;
  opt.sampling.temperature = 0;
  std::string streamed;
  opt.on_text = [&](const std::string& s) {
    streamed += s;
    return true;
  };
  GenerateResult r = generate(model_, *tok_, tok_->encode("", true), opt);
  EXPECT_EQ(streamed, ref_.text);
}

TEST_F(Stories260K, SeededSamplingIsReproducible) {
  GenerateOptions opt;
  opt.max_tokens = 40;
  opt.sampling.temperature = 1.0f;
  opt.sampling.seed = 1234;
  auto prompt = tok_->encode("Once upon a time", true);
  GenerateResult a = generate(model_, *tok_, prompt, opt);
  GenerateResult b = generate(model_, *tok_, prompt, opt);
  EXPECT_EQ(a.tokens, b.tokens);
  opt.sampling.seed = 4321;
  GenerateResult c = generate(model_, *tok_, prompt, opt);
  EXPECT_NE(a.tokens, c.tokens);
}

}  // namespace
