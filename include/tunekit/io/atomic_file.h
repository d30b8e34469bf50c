// Atomic file writes: bytes go to "<path>.tmp-<pid>" in the same folder, which is fsync'ed and
// renamed over path, and then the folder is fsync'ed. A failed or interrupted write never leaves a
// partial file at path: on any error the temp file is removed and an Error naming path is thrown.
// Every writer in tunekit (GGUF, safetensors, checkpoints, adapters) goes through this.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tunekit {

class AtomicFile {
 public:
  // Creates (truncates) the temp file beside path; throws Error naming path when it cannot.
  explicit AtomicFile(std::filesystem::path path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();  // removes the temp file unless commit() succeeded

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void write_zeros(size_t n);
  void pad_to(size_t alignment);  // zero bytes up to the next multiple of alignment
  uint64_t offset() const { return offset_; }  // bytes written so far

  // Flushes, fsyncs, renames over path and fsyncs the folder. Throws Error naming path on failure
  // (and removes the temp file).
  void commit();

  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  void flush();
  void write_raw(const char* p, size_t n);
  [[noreturn]] void fail_io(const std::string& what, int err);
  std::filesystem::path path_, temp_;
  int fd_ = -1;
  std::vector<char> buffer_;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

// Writes bytes to path atomically.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);
// Calls fill with an AtomicFile for path, then commits; if fill throws, nothing is left at path
// (an existing file there is untouched) and the exception propagates.
void write_file_atomic(const std::filesystem::path& path, const std::function<void(AtomicFile&)>& fill);

}  // namespace tunekit
