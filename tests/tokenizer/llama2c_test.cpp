// llama2.c tokenizer.bin (stories260K's tok512.bin): decoding llama2.c's own greedy output gives its
// printed text exactly; encoding is llama2.c's; malformed files are rejected with the file named.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tokenizer_test_util.h"
#include "tunekit/error.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {
namespace {

const char* const kTok = "models/stories260K/tok512.bin";
const char* const kReference = "models/stories260K/greedy200_reference.json";

TEST(Llama2c, DecodesGreedyReferenceExactly) {
  TUNEKIT_REQUIRE_SHARED(kTok);
  TUNEKIT_REQUIRE_SHARED(kReference);
  const auto ref = nlohmann::json::parse(test::read_file(test::shared_dir() / kReference));
  const auto ids = ref.at("generated_ids").get<std::vector<int32_t>>();
  const std::string text = ref.at("text").get<std::string>();
  ASSERT_EQ(ids.size(), 200u);
  const auto tok = load_tokenizer(test::shared_dir() / kTok);
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->decode(ids), text);
  // With the prompt's BOS in front, as llama2.c printed it.
  std::vector<int32_t> with_bos = ref.at("prompt_ids").get<std::vector<int32_t>>();
  with_bos.insert(with_bos.end(), ids.begin(), ids.end());
  EXPECT_EQ(tok->decode(with_bos), text);
}

TEST(Llama2c, EncodesReferenceText) {
  TUNEKIT_REQUIRE_SHARED(kTok);
  const auto ref = nlohmann::json::parse(test::read_file(test::shared_dir() / kReference));
  const std::string text = ref.at("text").get<std::string>();
  const auto tok = load_tokenizer(test::shared_dir() / kTok);
  const auto ids = tok->encode(text, true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(tok->decode(ids), text);
  // The model generated the same text, so a best-score encoding is at most as long as its ids.
  EXPECT_LE(ids.size() - 1, ref.at("generated_ids").size());
  // llama2.c: dummy prefix then merges; "Once" is a single token " Once" in the generated ids.
  EXPECT_EQ(tok->encode("Once", false), std::vector<int32_t>{ref.at("generated_ids")[0].get<int32_t>()});
  // Characters outside the vocabulary fall back to bytes at id byte+3.
  // "中" (E4 B8 AD) is not among the 512 tokens.
  const auto han = tok->encode("\xE4\xB8\xAD", false);
  ASSERT_GE(han.size(), 3u);
  EXPECT_EQ(std::vector<int32_t>(han.end() - 3, han.end()), (std::vector<int32_t>{0xE4 + 3, 0xB8 + 3, 0xAD + 3}));
  EXPECT_EQ(tok->decode(han), "\xE4\xB8\xAD");
  EXPECT_EQ(tok->bos_token(), "<s>");
  EXPECT_EQ(tok->eos_token(), "</s>");
}

std::filesystem::path write_bytes(const std::string& name, const std::string& bytes) {
  const auto path = test::temp_dir("llama2c_bad") / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string le32(int32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

void expect_error_naming(const std::filesystem::path& path, const std::string& what) {
  try {
    load_tokenizer(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(Llama2c, RejectsMalformedFiles) {
  const std::string good_token = std::string(4, '\0') + le32(1) + "a";
  expect_error_naming(write_bytes("short.bin", "ab"), "too short");
  expect_error_naming(write_bytes("maxlen.bin", le32(-5) + good_token), "max_token_len");
  expect_error_naming(write_bytes("toolong.bin", le32(4) + std::string(4, '\0') + le32(9) + "abcdefghi"),
                      "has length 9");
  expect_error_naming(write_bytes("past_end.bin", le32(8) + std::string(4, '\0') + le32(8) + "abc"), "bytes but");
  expect_error_naming(write_bytes("truncated.bin", le32(8) + good_token + "\x01\x02"), "truncated");
  expect_error_naming(write_bytes("few.bin", le32(8) + good_token), "only 1 tokens");
}

}  // namespace
}  // namespace tunekit
