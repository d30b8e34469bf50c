// The BERT sentence encoder against PyTorch: token ids and pooled, normalised vectors of the golden
// folders (scripts/ref/make_bert_goldens.py), encoded in one batch, one text at a time and in mixed
// batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "encoder_test_util.h"
#include "rag/encoder_text.h"
#include "tunekit/io/file_util.h"
#include "tunekit/rag/encoder.h"

namespace tunekit::rag {
namespace {

struct GoldenCase {
  EncodeRole role;
  std::string prefix;
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<float>> vectors;
};

std::vector<GoldenCase> read_cases(const std::string& model) {
  const nlohmann::json doc = read_json_file(test::golden_encoder_dir(model) / "golden.json");
  std::vector<GoldenCase> cases;
  for (const auto& c : doc.at("cases"))
    cases.push_back({c.at("role") == "query" ? EncodeRole::Query : EncodeRole::Passage, c.at("prefix"), c.at("texts"),
                     c.at("ids"), c.at("vectors")});
  return cases;
}

double max_abs_diff(const std::vector<float>& got, size_t row, const std::vector<float>& want) {
  double diff = 0;
  for (size_t i = 0; i < want.size(); ++i)
    diff = std::max(diff, std::fabs(double(got[row * want.size() + i]) - want[i]));
  return diff;
}

// Encodes the case's texts batch_size at a time and compares every vector with PyTorch's.
void expect_matches_torch(const std::string& model, const GoldenCase& c, int64_t batch_size) {
  const auto encoder = SentenceEncoder::load(test::golden_encoder_dir(model), {.batch_size = batch_size});
  const std::vector<float> got = encoder->encode(c.texts, c.role);
  ASSERT_EQ(got.size(), c.texts.size() * size_t(encoder->dim()));
  for (size_t t = 0; t < c.texts.size(); ++t)
    EXPECT_LE(max_abs_diff(got, t, c.vectors[t]), 1e-5)
        << model << " batch_size " << batch_size << ": text " << t << " '" << c.texts[t] << "'";
}

class EncoderGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(EncoderGolden, TokenIdsMatchTheReferenceTokenizer) {
  const auto dir = test::golden_encoder_dir(GetParam());
  const auto tokenizer = load_encoder_tokenizer(dir);
  const auto encoder = SentenceEncoder::load(dir);
  for (const GoldenCase& c : read_cases(GetParam()))
    for (size_t t = 0; t < c.texts.size(); ++t)
      EXPECT_EQ(encode_truncated(*tokenizer, c.prefix + c.texts[t], encoder->max_tokens()), c.ids[t])
          << GetParam() << ": '" << c.prefix + c.texts[t] << "'";
}

TEST_P(EncoderGolden, VectorsMatchTorchBatchedAndSingle) {
  for (const GoldenCase& c : read_cases(GetParam()))
    for (int64_t batch_size : {32, 1, 3}) expect_matches_torch(GetParam(), c, batch_size);
}

TEST_P(EncoderGolden, AVectorDoesNotDependOnItsBatch) {
  const auto encoder = SentenceEncoder::load(test::golden_encoder_dir(GetParam()));
  const GoldenCase c = read_cases(GetParam()).front();
  const std::vector<float> together = encoder->encode(c.texts, EncodeRole::Passage);
  std::vector<std::string> reversed(c.texts.rbegin(), c.texts.rend());
  const std::vector<float> backwards = encoder->encode(reversed, EncodeRole::Passage);
  const size_t D = size_t(encoder->dim()), n = c.texts.size();
  for (size_t t = 0; t < n; ++t) {
    const std::vector<float> alone = encoder->encode({c.texts[t]}, EncodeRole::Passage);
    double norm = 0;
    for (size_t i = 0; i < D; ++i) {
      EXPECT_NEAR(together[t * D + i], alone[i], 1e-6) << "text " << t;
      EXPECT_NEAR(backwards[(n - 1 - t) * D + i], alone[i], 1e-6) << "text " << t;
      norm += double(alone[i]) * alone[i];
    }
    EXPECT_NEAR(norm, 1.0, 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Bert, EncoderGolden, ::testing::Values("minilm_mean", "bge_cls"));

TEST(Encoder, DescribesItself) {
  const auto mean = SentenceEncoder::load(test::golden_encoder_dir("minilm_mean"));
  EXPECT_EQ(mean->dim(), 32);
  EXPECT_EQ(mean->max_tokens(), 24);  // sentence_bert_config.json's max_seq_length
  EXPECT_EQ(mean->name(), "minilm_mean");
  const auto cls = SentenceEncoder::load(test::golden_encoder_dir("bge_cls") / "");  // a trailing slash
  EXPECT_EQ(cls->name(), "bge_cls");
  EXPECT_EQ(cls->max_tokens(), 40);
  EXPECT_TRUE(mean->encode({}, EncodeRole::Query).empty());
}

}  // namespace
}  // namespace tunekit::rag
