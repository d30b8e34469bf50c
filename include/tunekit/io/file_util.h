// Small file helpers shared by every reader: whole-file text, JSON with the file named in errors,
// and format sniffing.
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace tunekit {

// The whole file; throws Error("<path>: cannot open ...") / read errors naming the file.
std::string read_text_file(const std::filesystem::path& path);
// Parsed JSON; throws Error("<path>: not valid JSON (...)").
nlohmann::json read_json_file(const std::filesystem::path& path);
// True when the file starts with GGUF's magic bytes (false for folders and unreadable files).
bool has_gguf_magic(const std::filesystem::path& path);

}  // namespace tunekit
