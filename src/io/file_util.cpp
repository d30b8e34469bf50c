#include "tunekit/io/file_util.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tunekit/error.h"

namespace tunekit {

std::string read_text_file(const std::filesystem::path& path) {
  std::error_code ec;
  check(!std::filesystem::is_directory(path, ec), path.string(), ": is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  check(in.good(), path.string(), ": cannot open (", std::strerror(errno), ")");
  std::ostringstream text;
  try {
    text << in.rdbuf();  // the stream buffer throws on a read error (EISDIR, EIO, ...)
  } catch (const std::exception& e) {
    fail(path.string(), ": read failed (", e.what(), ")");
  }
  check(!in.bad(), path.string(), ": read failed");
  return text.str();
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  try {
    return nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path.string(), ": not valid JSON (", e.what(), ")");
  }
}

bool has_gguf_magic(const std::filesystem::path& path) {
  if (std::filesystem::is_directory(path)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace tunekit
