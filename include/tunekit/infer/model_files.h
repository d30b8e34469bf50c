// Finding the files that go with a model: its tokenizer and chat template.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>

#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {

// The tokenizer for a model: `explicit_path` when given; else the model's own (a GGUF's vocabulary,
// an HF folder's tokenizer.json / tokenizer.model / tokenizer.bin, or a tokenizer.bin / tok*.bin
// beside a llama2.c checkpoint). Throws Error with a hint to pass --tokenizer when none is found.
std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::filesystem::path& model_path,
                                                    const std::optional<std::filesystem::path>& explicit_path);


// Copies the tokenizer files that belong to a model (the same search as above) into an HF output
// folder under their standard names (tokenizer.json, tokenizer.model, tokenizer.bin,
// tokenizer_config.json, special_tokens_map.json, chat_template.jinja). Returns how many files
// were copied; 0 when the tokenizer lives only inside a GGUF.
int copy_tokenizer_files(const std::filesystem::path& model_path,
                         const std::optional<std::filesystem::path>& explicit_path, const std::filesystem::path& out_dir);

}  // namespace tunekit
