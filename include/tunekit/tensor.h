// Tensor: a typed, shaped view of bytes that something keeps alive (a heap buffer, a file mapping).
// Shapes are outermost-first, row-major: a linear weight is [n_out, n_in], activations [T, C].
// Quantized tensors store whole blocks along the last dimension (see dtype.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tunekit/dtype.h"

namespace tunekit {

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  void* data = nullptr;
  std::shared_ptr<const void> keepalive;  // owns (or pins) the bytes that data points into

  // A new zero-filled, 64-byte-aligned buffer.
  static Tensor zeros(DType dtype, std::vector<int64_t> shape);
  // A view of bytes owned by keepalive (for example a memory-mapped file).
  static Tensor view(DType dtype, std::vector<int64_t> shape, const void* data, std::shared_ptr<const void> keepalive);

  bool empty() const { return data == nullptr; }
  int64_t numel() const;
  size_t nbytes() const { return dtype_bytes(dtype, numel()); }
  int64_t dim(int i) const { return shape.at(i < 0 ? shape.size() + i : i); }
  int rank() const { return int(shape.size()); }
  std::string shape_str() const;  // "[576, 1536]"

  // Typed access for plain types; throws Error when the dtype does not match T.
  template <class T> T* as();
  template <class T> const T* as() const { return const_cast<Tensor*>(this)->as<T>(); }

  // A deep copy into a new heap buffer.
  Tensor clone() const;
};

}  // namespace tunekit
