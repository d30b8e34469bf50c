// HF tokenizer.json parsing: small hand-made files with known answers, and bad input that must
// give an Error naming the file (never a crash).
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tokenizer_test_util.h"
#include "tunekit/error.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {
namespace {

// Byte-level BPE over the letters of "low lower" (GPT-2 style; merges as strings and as pairs).
const char* const kTinyBpe = R"({
  "added_tokens": [{"id": 9, "content": "<|end|>", "special": true}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|end|>", "type_id": 0}}],
    "special_tokens": {"<|end|>": {"id": "<|end|>", "ids": [9], "tokens": ["<|end|>"]}}},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"l": 0, "o": 1, "w": 2, "e": 3, "r": 4, "\u0120": 5, "lo": 6, "low": 7,
                                     "\u0120l": 8, "<|end|>": 9, "\u0120low": 10, "er": 11},
            "merges": ["l o", "lo w", ["\u0120", "l"], "\u0120l o", "e r"]}
})";

TEST(HfJson, TinyByteLevelBpe) {
  // "\u0120l o" has no "\u0120lo" token, so it is rejected: build without it.
  std::string json = kTinyBpe;
  json.replace(json.find(", \"\\u0120l o\""), std::string(", \"\\u0120l o\"").size(), "");
  const auto tok = parse_tokenizer_json(json, "tiny.json");
  // "low lower": "low" -> 7; " lower" -> Ġ l o w e r: "l o" (rank 0) beats "Ġ l" (rank 2), then
  // "lo w", then "e r": Ġ low er -> 5 7 11.
  EXPECT_EQ(tok->encode("low lower", false), (std::vector<int32_t>{7, 5, 7, 11}));
  EXPECT_EQ(tok->encode(" l", false), (std::vector<int32_t>{8}));
  EXPECT_EQ(tok->encode("low<|end|>", true), (std::vector<int32_t>{7, 9, 9}));
  EXPECT_EQ(tok->decode({7, 5, 7, 11, 9}), "low lower");
  EXPECT_EQ(tok->decode({7, 9}, true), "low<|end|>");
  EXPECT_EQ(tok->eos_id(), 9);
  EXPECT_EQ(tok->bos_id(), -1);
}

void expect_json_error(const std::string& json, const std::string& what) {
  try {
    parse_tokenizer_json(json, "bad.json");
    ADD_FAILURE() << "no error for: " << json.substr(0, 80);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(HfJson, BadInputNamesTheFile) {
  expect_json_error("{not json", "invalid tokenizer.json");
  expect_json_error("[]", "no \"model\"");
  expect_json_error(R"({"model": {"type": "BPE", "vocab": [1, 2], "merges": []}})", "model.vocab");
  expect_json_error(R"({"model": {"type": "BPE", "vocab": {"a": 5}, "merges": []}})", "is 5");
  expect_json_error(R"({"model": {"type": "BPE", "vocab": {"a": 1e30}, "merges": []}})", "expected an integer");
  expect_json_error(R"({"model": {"type": "WordPiece", "unk_token": "a", "vocab": {"a": 0},
                        "max_input_chars_per_word": -1}})",
                    "max_input_chars_per_word");
  expect_json_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})", "merge 'a b'");
  expect_json_error(R"({"model": {"type": "Unigram", "vocab": {"a": 0}}})", "Unigram");
  expect_json_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(["}, "behavior": "Isolated"}})",
                    "regex");
  expect_json_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                        "normalizer": {"type": "Precompiled"}})",
                    "tokenizer.model");
  expect_json_error(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})", "unknown token");
}

TEST(HfJson, TruncatedRealFileNamesTheFile) {
  const std::string rel = "tokenizers/tinyllama-1.1b-chat/tokenizer.json";
  TUNEKIT_REQUIRE_SHARED(rel);
  const std::string full = test::read_file(test::shared_dir() / rel);
  const auto path = test::temp_dir("hf_json_bad") / "tokenizer.json";
  for (size_t cut : {size_t{0}, size_t{100}, full.size() / 2, full.size() - 2}) {
    std::ofstream(path, std::ios::binary) << full.substr(0, cut);
    try {
      load_tokenizer(path);
      ADD_FAILURE() << "no error for a file cut at " << cut;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tunekit
