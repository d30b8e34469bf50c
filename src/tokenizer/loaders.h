// The format loaders behind load_tokenizer(); each throws Error naming the file and the problem.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {

// HF tokenizer.json; a tokenizer_config.json beside it names BOS/EOS where it has them.
std::unique_ptr<Tokenizer> load_hf_json_file(const std::filesystem::path& path);
// config: the parsed tokenizer_config.json, or null.
std::unique_ptr<Tokenizer> parse_hf_json(std::string_view json_text, const std::string& name,
                                         const nlohmann::json& config);

// llama2.c tokenizer.bin: int32 max_token_len, then {f32 score, int32 len, bytes} to the end.
std::unique_ptr<Tokenizer> load_llama2c_file(const std::filesystem::path& path);
std::unique_ptr<Tokenizer> parse_llama2c(const uint8_t* data, size_t size, const std::string& name);

// SentencePiece .model through libsentencepiece.
std::unique_ptr<Tokenizer> load_sentencepiece_file(const std::filesystem::path& path);

}  // namespace tunekit
