// Helpers of the data pipeline tests (tests/train/data_*_test.cpp): the real TinyLlama tokenizer and
// chat template from ../shared, fixture paths, small files written on the fly, and error capture.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/tokenizer/chat_template.h"
#include "tunekit/tokenizer/tokenizer.h"
#include "tunekit/train/data.h"

namespace tunekit::test {

inline const char* kTinyLlama = "tokenizers/tinyllama-1.1b-chat";

// TinyLlama's tokenizer (SentencePiece-style BPE, BOS <s> = 1, EOS </s> = 2) and Zephyr-style template.
struct TinyLlama {
  std::unique_ptr<Tokenizer> tok;
  std::optional<ChatTemplate> chat;
  TinyLlama() {
    tok = load_tokenizer(shared_dir() / kTinyLlama);
    chat = ChatTemplate::parse(*find_chat_template(shared_dir() / kTinyLlama), "tinyllama");
  }
};

inline std::filesystem::path fixture(const std::string& name) { return source_dir() / "tests/data/train" / name; }

// Writes text to dir/name (dir from temp_dir) and returns that path.
inline std::filesystem::path write_file(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
  auto path = dir / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The tokens' vocabulary entries (hand-checkable layouts).
inline std::vector<std::string> pieces(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(tok.id_to_token(id));
  return out;
}

// The message of the Error that fn throws ("" and a test failure when it throws none).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a tunekit::Error";
  return "";
}

}  // namespace tunekit::test
