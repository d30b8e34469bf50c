// Loading sentence encoders: the real all-MiniLM-L6-v2 folder (config and tokenizer, no weights),
// vocab.txt-only folders, prefix styles, and the errors bad folders give.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "encoder_test_util.h"
#include "rag/bert_config.h"
#include "rag/encoder_text.h"
#include "tokenizer/tokenizer_test_util.h"
#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "tunekit/rag/encoder.h"

namespace tunekit::rag {
namespace {

namespace fs = std::filesystem;

const char* const kMiniLm = "tokenizers/all-MiniLM-L6-v2-no-weights";
const char* const kBgeVectors = "tokenizers/llama.cpp-vocab-tests/ggml-vocab-bert-bge.gguf.inp";

// The Error's message, or "" when fn does not throw one.
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A copy of a golden encoder folder under a new name, with config.json edited by edit.
fs::path edited_copy(const std::string& model, const std::string& name,
                     const std::function<void(nlohmann::json&)>& edit = {}) {
  const fs::path dir = test::temp_dir("encoder") / name;
  fs::copy(test::golden_encoder_dir(model), dir, fs::copy_options::recursive);
  if (edit) {
    nlohmann::json config = read_json_file(dir / "config.json");
    edit(config);
    std::ofstream(dir / "config.json") << config.dump();
  }
  return dir;
}

TEST(EncoderLoad, RealMiniLmConfigAndTokenizer) {
  TUNEKIT_REQUIRE_SHARED(kMiniLm);
  const fs::path dir = test::shared_dir() / kMiniLm;
  const EncoderFolderConfig c = read_encoder_config(dir);
  EXPECT_EQ(c.bert.d_model, 384);
  EXPECT_EQ(c.bert.n_layer, 6);
  EXPECT_EQ(c.bert.n_head, 12);
  EXPECT_EQ(c.bert.d_ff, 1536);
  EXPECT_EQ(c.bert.n_vocab, 30522);
  EXPECT_FLOAT_EQ(c.bert.layer_norm_eps, 1e-12f);
  EXPECT_EQ(c.pooling, Pooling::Mean);
  EXPECT_EQ(c.max_tokens, 256);
  const auto tokenizer = load_encoder_tokenizer(dir);
  // [CLS] hello , world ! [SEP], checked by hand against vocab.txt's lines
  EXPECT_EQ(encode_truncated(*tokenizer, "Hello, world!", c.max_tokens),
            (std::vector<int32_t>{101, 7592, 1010, 2088, 999, 102}));
  // Cut to 4 tokens with [SEP] kept: [CLS] a b [SEP]
  EXPECT_EQ(encode_truncated(*tokenizer, "a b c d e f", 4), (std::vector<int32_t>{101, 1037, 1038, 102}));
}

TEST(EncoderLoad, MissingWeightsSayWhatToDownload) {
  TUNEKIT_REQUIRE_SHARED(kMiniLm);
  const fs::path dir = test::shared_dir() / kMiniLm;
  const std::string message = error_of([&] { SentenceEncoder::load(dir); });
  EXPECT_NE(message.find("model.safetensors not found in " + dir.string()), std::string::npos) << message;
  EXPECT_NE(message.find("download the weights"), std::string::npos) << message;
}

TEST(EncoderLoad, VocabTxtTokenizesAsTokenizerJson) {
  TUNEKIT_REQUIRE_SHARED(kMiniLm);
  TUNEKIT_REQUIRE_SHARED(kBgeVectors);
  const fs::path dir = test::temp_dir("encoder") / "vocab-only";
  fs::create_directories(dir);
  for (const char* file : {"vocab.txt", "tokenizer_config.json"})
    fs::copy(test::shared_dir() / kMiniLm / file, dir / file);
  const auto from_vocab = load_encoder_tokenizer(dir);
  const auto from_json = load_encoder_tokenizer(test::shared_dir() / kMiniLm);
  std::vector<std::string> texts = test::read_vocab_test_inputs(test::shared_dir() / kBgeVectors);
  texts.push_back("[CLS] a [MASK] in the [SEP] text");
  for (const std::string& text : texts)
    EXPECT_EQ(from_vocab->encode(text, true), from_json->encode(text, true)) << text;
}

TEST(EncoderLoad, PrefixStyles) {
  EXPECT_EQ(text_prefixes("auto", "e5-small-v2").query, "query: ");
  EXPECT_EQ(text_prefixes("auto", "multilingual-e5-base").passage, "passage: ");
  EXPECT_EQ(text_prefixes("auto", "bge-small-en-v1.5").query,
            "Represent this sentence for searching relevant passages: ");
  EXPECT_EQ(text_prefixes("auto", "bge-small-en-v1.5").passage, "");
  EXPECT_EQ(text_prefixes("auto", "all-MiniLM-L6-v2").query, "");
  EXPECT_EQ(text_prefixes("auto", "some5-model").query, "");  // "e5" only as a whole part of the name
  EXPECT_EQ(text_prefixes("none", "e5-small-v2").query, "");
  EXPECT_EQ(text_prefixes("e5", "anything").query, "query: ");
  EXPECT_NE(error_of([] { text_prefixes("instructor", "x"); }).find("auto, none, e5 or bge"), std::string::npos);
}

TEST(EncoderLoad, E5PrefixesTheTextsItEncodes) {
  const fs::path e5 = edited_copy("minilm_mean", "e5-tiny");
  const auto with_prefix = SentenceEncoder::load(e5);
  const auto plain = SentenceEncoder::load(test::golden_encoder_dir("minilm_mean"));
  const std::vector<std::string> texts{"insulin lowers glucose", "wash your hands"};
  EXPECT_EQ(with_prefix->encode(texts, EncodeRole::Query),
            plain->encode({"query: " + texts[0], "query: " + texts[1]}, EncodeRole::Query));
  EXPECT_EQ(with_prefix->encode(texts, EncodeRole::Passage),
            plain->encode({"passage: " + texts[0], "passage: " + texts[1]}, EncodeRole::Passage));
  const auto unprefixed = SentenceEncoder::load(e5, {.prefix_style = "none"});
  EXPECT_EQ(unprefixed->encode(texts, EncodeRole::Query), plain->encode(texts, EncodeRole::Query));
}

TEST(EncoderLoad, MaxSeqLengthStaysWithinThePositions) {
  const fs::path dir = edited_copy("minilm_mean", "long-max-seq");
  std::ofstream(dir / "sentence_bert_config.json") << R"({"max_seq_length": 1000})";
  EXPECT_EQ(SentenceEncoder::load(dir)->max_tokens(), 40);  // max_position_embeddings
  fs::remove(dir / "sentence_bert_config.json");
  EXPECT_EQ(SentenceEncoder::load(dir)->max_tokens(), 40);
}

TEST(EncoderLoad, OddTextsGiveUnitVectors) {
  const auto encoder = SentenceEncoder::load(test::golden_encoder_dir());
  const std::vector<std::string> texts{std::string("nul\0inside", 11),
                                       "\xff\xfe broken utf-8 \xc3",
                                       "   \t\n ",
                                       std::string(5000, 'a'),
                                       "!!!???...",
                                       "[CLS] [SEP] [PAD] [MASK]",
                                       "\xe2\x80\x8b\xef\xbb\xbf zero-width"};
  const std::vector<float> vectors = encoder->encode(texts, EncodeRole::Passage);
  ASSERT_EQ(vectors.size(), texts.size() * size_t(encoder->dim()));
  for (size_t t = 0; t < texts.size(); ++t) {
    double norm = 0;
    for (int64_t i = 0; i < encoder->dim(); ++i)
      norm += double(vectors[t * size_t(encoder->dim()) + size_t(i)]) * vectors[t * size_t(encoder->dim()) + size_t(i)];
    EXPECT_NEAR(norm, 1.0, 1e-5) << "text " << t;
  }
}

TEST(EncoderLoad, BadFoldersNameTheFileAndTheProblem) {
  struct Case {
    std::string name;
    std::function<void(nlohmann::json&)> edit;
    std::string expected;
  };
  const std::vector<Case> cases{
      {"no-hidden", [](nlohmann::json& c) { c.erase("hidden_size"); }, "config.json: missing \"hidden_size\""},
      {"heads", [](nlohmann::json& c) { c["num_attention_heads"] = 5; }, "not a multiple of num_attention_heads"},
      {"layers", [](nlohmann::json& c) { c["num_hidden_layers"] = 3; },
       "tensor 'encoder.layer.2.attention.self.query.weight' is missing"},
      {"ffn", [](nlohmann::json& c) { c["intermediate_size"] = 48; }, "is [64, 32], config.json implies [48, 32]"},
      {"act", [](nlohmann::json& c) { c["hidden_act"] = "relu"; }, "hidden_act 'relu' is not supported"},
      {"type", [](nlohmann::json& c) { c["model_type"] = "llama"; }, "model_type 'llama' is not a BERT encoder"},
      {"vocab", [](nlohmann::json& c) { c["vocab_size"] = 100; }, "the tokenizer has 3002 tokens"},
  };
  for (const Case& c : cases) {
    const fs::path dir = edited_copy("minilm_mean", c.name, c.edit);
    const std::string message = error_of([&] { SentenceEncoder::load(dir); });
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.name << ": " << message;
    EXPECT_NE(message.find(dir.string()), std::string::npos) << c.name << ": " << message;
  }
  const fs::path pooling = edited_copy("minilm_mean", "max-pooling");
  std::ofstream(pooling / "1_Pooling" / "config.json") << R"({"pooling_mode_max_tokens": true})";
  EXPECT_NE(error_of([&] { SentenceEncoder::load(pooling); }).find("pooling_mode_max_tokens is not supported"),
            std::string::npos);
  const fs::path bad_vocab = edited_copy("bge_cls", "bad-vocab");  // bge_cls has vocab.txt only
  std::ofstream(bad_vocab / "vocab.txt", std::ios::app) << "\xff\xfe\n";
  EXPECT_NE(error_of([&] { SentenceEncoder::load(bad_vocab); }).find("vocab.txt: cannot be read"), std::string::npos);
  const fs::path truncated = edited_copy("minilm_mean", "truncated-weights");
  fs::resize_file(truncated / "model.safetensors", 1000);
  EXPECT_NE(error_of([&] { SentenceEncoder::load(truncated); }).find("model.safetensors"), std::string::npos);
  EXPECT_NE(
      error_of([] { SentenceEncoder::load("/nonexistent/encoder"); }).find("/nonexistent/encoder: no such folder"),
      std::string::npos);
  EXPECT_NE(error_of([] { SentenceEncoder::load(test::golden_encoder_dir(), {.batch_size = 0}); }).find("batch_size"),
            std::string::npos);
}

}  // namespace
}  // namespace tunekit::rag
