// Finding the files that go with a model: its tokenizer and chat template.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>

#include "tunekit/tokenizer/chat_template.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {

// The tokenizer for a model: `explicit_path` when given; else the model's own (a GGUF's vocabulary,
// an HF folder's tokenizer.json / tokenizer.model / tokenizer.bin, or a tokenizer.bin / tok*.bin
// beside a llama2.c checkpoint). Throws Error with a hint to pass --tokenizer when none is found.
std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::filesystem::path& model_path,
                                                    const std::optional<std::filesystem::path>& explicit_path);

// The chat template that goes with a model: the tokenizer's (when given) else the model's, each a
// folder, a GGUF or a tokenizer_config-style .json; std::nullopt where there is none. Other files
// (a llama2.c checkpoint, tokenizer.model, tokenizer.bin) have no template; find_chat_template would
// read them as template text. The template is parsed with the path it came from as its origin.
std::optional<ChatTemplate> load_chat_template_for_model(const std::filesystem::path& model_path,
                                                         const std::optional<std::filesystem::path>& tokenizer_path);

// Copies the tokenizer files that belong to a model (the same search as above) into an HF output
// folder under their standard names (tokenizer.json, tokenizer.model, tokenizer.bin,
// tokenizer_config.json, special_tokens_map.json, chat_template.jinja). Returns how many files
// were copied; 0 when the tokenizer lives only inside a GGUF.
int copy_tokenizer_files(const std::filesystem::path& model_path,
                         const std::optional<std::filesystem::path>& explicit_path, const std::filesystem::path& out_dir);

}  // namespace tunekit
