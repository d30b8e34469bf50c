#include "tunekit/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tunekit/error.h"

namespace tunekit {

namespace {
constexpr size_t kBufferSize = 1 << 20;

std::filesystem::path temp_name(const std::filesystem::path& path) {
  std::filesystem::path t = path;
  t += ".tmp-" + std::to_string(::getpid());
  return t;
}
}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path) : path_(std::move(path)), temp_(temp_name(path_)) {
  if (path_.filename().empty()) fail(path_.string(), ": cannot write (not a file name)");
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    int e = errno;
    fail(path_.string(), ": cannot create ", temp_.filename().string(), " (", std::strerror(e), ")");
  }
  buffer_.reserve(kBufferSize);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::fail_io(const std::string& what, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_.c_str());
  fail(path_.string(), ": ", what, " (", std::strerror(err), ")");
}

void AtomicFile::flush() {
  write_raw(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFile::write_raw(const char* p, size_t left) {
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_io("cannot write", errno);
    }
    p += n;
    left -= size_t(n);
  }
}

void AtomicFile::write(const void* data, size_t n) {
  if (fd_ < 0 || committed_) fail(path_.string(), ": write after the file was closed");
  const char* p = static_cast<const char*>(data);
  offset_ += n;
  if (buffer_.size() + n > kBufferSize) flush();
  if (n >= kBufferSize) {  // large blocks go straight to the file
    write_raw(p, n);
    return;
  }
  buffer_.insert(buffer_.end(), p, p + n);
}

void AtomicFile::write_zeros(size_t n) {
  static const char zeros[4096] = {};
  while (n > 0) {
    size_t k = std::min(n, sizeof(zeros));
    write(zeros, k);
    n -= k;
  }
}

void AtomicFile::pad_to(size_t alignment) {
  if (alignment > 1 && offset_ % alignment) write_zeros(size_t(alignment - offset_ % alignment));
}

void AtomicFile::commit() {
  if (fd_ < 0 || committed_) fail(path_.string(), ": commit after the file was closed");
  flush();
  if (::fsync(fd_) != 0) fail_io("cannot fsync", errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail_io("cannot close", errno);
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), path_.c_str()) != 0) fail_io("cannot rename " + temp_.filename().string() + " into place", errno);
  committed_ = true;
  std::filesystem::path dir = path_.parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) fail(path_.string(), ": written, but cannot open its folder to fsync it (", std::strerror(errno), ")");
  int rc = ::fsync(dfd);
  int e = errno;
  ::close(dfd);
  // Some file systems cannot fsync a folder (EINVAL); the rename itself has happened.
  if (rc != 0 && e != EINVAL) fail(path_.string(), ": written, but fsync of its folder failed (", std::strerror(e), ")");
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

void write_file_atomic(const std::filesystem::path& path, const std::function<void(AtomicFile&)>& fill) {
  AtomicFile f(path);
  fill(f);
  f.commit();
}

}  // namespace tunekit
