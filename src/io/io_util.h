// Internal helpers shared by the io readers: a bounds-checked little-endian cursor over a mapped
// file, overflow-checked arithmetic, and forming Tensor views into a mapping.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tunekit/error.h"
#include "tunekit/io/mapped_file.h"
#include "tunekit/tensor.h"

static_assert(std::endian::native == std::endian::little, "tunekit's file readers assume a little-endian host");

namespace tunekit::io_detail {

// a * b, or false on overflow (all operands non-negative).
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
inline bool checked_add(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

class ByteReader {
 public:
  explicit ByteReader(const MappedFile& file) : file_(file) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return file_.size() - pos_; }
  std::string name() const { return file_.path().string(); }

  // Throws "<path>: truncated: <what> needs n bytes at offset p, but the file ends at s".
  void need(uint64_t n, const std::string& what) const {
    if (n > remaining())
      fail(name(), ": truncated: ", what, " needs ", n, " bytes at offset ", pos_, ", but the file ends at ",
           file_.size());
  }

  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, file_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  const uint8_t* take(uint64_t n, const std::string& what) {
    need(n, what);
    const uint8_t* p = file_.data() + pos_;
    pos_ += size_t(n);
    return p;
  }

 private:
  const MappedFile& file_;
  size_t pos_ = 0;
};

// Natural alignment of one element of a storage type (what a typed pointer into it needs).
inline size_t element_alignment(DType t) {
  switch (t) {
    case DType::F32:
    case DType::I32:
    case DType::NF4:
      return 4;
    default:
      return 2;  // f16/bf16 and the ggml blocks (which start with or hold f16 scales)
  }
}

// A view of bytes inside file when suitably aligned; otherwise an aligned heap copy (a file whose
// header length is not a multiple of 4 must not give out misaligned float pointers).
inline Tensor tensor_in_file(DType dtype, std::vector<int64_t> shape, const uint8_t* p, size_t nbytes,
                             const std::shared_ptr<const MappedFile>& file) {
  if (reinterpret_cast<uintptr_t>(p) % element_alignment(dtype) == 0)
    return Tensor::view(dtype, std::move(shape), p, file);
  Tensor t = Tensor::zeros(dtype, std::move(shape));
  if (nbytes) std::memcpy(t.data, p, nbytes);
  return t;
}

// Number of elements of shape, or false when a dimension is negative or the product overflows.
inline bool checked_numel(const std::vector<int64_t>& shape, uint64_t& out) {
  for (int64_t d : shape)
    if (d < 0) return false;
  for (int64_t d : shape)  // a zero dimension empties the tensor whatever the others are, as in Tensor::numel
    if (d == 0) {
      out = 0;
      return true;
    }
  uint64_t n = 1;
  for (int64_t d : shape)
    if (!checked_mul(n, uint64_t(d), n)) return false;
  if (n > uint64_t(INT64_MAX)) return false;
  out = n;
  return true;
}

}  // namespace tunekit::io_detail
