// MappedFile: a read-only view of a whole file's bytes, memory-mapped (or, for tests and fuzzers, a
// heap copy of bytes given in memory). Always held by shared_ptr: every Tensor viewing into the
// file keeps it alive through Tensor::keepalive.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace tunekit {

class MappedFile {
 public:
  // Maps path read-only; throws Error("<path>: <problem>") when it cannot be opened or mapped.
  // An empty file is valid (size 0, data nullptr).
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
  // A heap copy of n bytes, named path in error messages (no file is touched). The copy is exactly
  // n bytes long, so AddressSanitizer catches any read past the end.
  static std::shared_ptr<const MappedFile> from_bytes(const std::filesystem::path& path, const void* data, size_t n);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile() = default;
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;  // munmap on destruction; otherwise data_ is a new[] buffer
};

}  // namespace tunekit
