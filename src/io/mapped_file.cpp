#include "tunekit/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tunekit/error.h"

namespace tunekit {

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // NONBLOCK: a FIFO must not hang us
  if (fd < 0) fail(path.string(), ": cannot open (", std::strerror(errno), ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail(path.string(), ": cannot stat (", std::strerror(e), ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path.string(), ": not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = size_t(st.st_size);
  if (file->size_ > 0) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail(path.string(), ": cannot memory-map ", file->size_, " bytes (", std::strerror(e), ")");
    }
    file->data_ = static_cast<const uint8_t*>(p);
    file->mapped_ = true;
  }
  ::close(fd);  // the mapping stays valid after close
  return file;
}

std::shared_ptr<const MappedFile> MappedFile::from_bytes(const std::filesystem::path& path, const void* data,
                                                         size_t n) {
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = n;
  if (n > 0) {
    auto* copy = new uint8_t[n];
    std::memcpy(copy, data, n);
    file->data_ = copy;
  }
  return file;
}

MappedFile::~MappedFile() {
  if (data_ == nullptr) return;
  if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
  else delete[] data_;
}

}  // namespace tunekit
