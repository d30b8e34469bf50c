#include "tunekit/tensor.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "tunekit/error.h"

namespace tunekit {

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  for (int64_t d : t.shape) check(d >= 0, "Tensor::zeros: negative dimension in ", t.shape_str());
  size_t bytes = t.nbytes();
  size_t padded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, padded == 0 ? 64 : padded);
  check(p != nullptr, "out of memory allocating ", bytes, " bytes for a ", dtype_name(dtype), " tensor ",
        t.shape_str());
  std::memset(p, 0, padded == 0 ? 64 : padded);
  t.data = p;
  t.keepalive = std::shared_ptr<const void>(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  return t;
}

Tensor Tensor::view(DType dtype, std::vector<int64_t> shape, const void* data, std::shared_ptr<const void> keepalive) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data = const_cast<void*>(data);
  t.keepalive = std::move(keepalive);
  return t;
}

int64_t Tensor::numel() const {
  // A zero dimension makes the tensor empty whatever the others are ([2, 2^62, 0] holds 0 values),
  // so look for it before multiplying; a product that does not fit is an error, not a wrapped count.
  for (int64_t d : shape)
    if (d == 0) return 0;
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) fail("tensor shape ", shape_str(), ": element count overflows");
  return n;
}

std::string Tensor::shape_str() const {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

template <class T>
static constexpr DType plain_dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::F32;
  else if constexpr (std::is_same_v<T, int32_t>) return DType::I32;
  else return DType::F16;  // uint16_t: f16 or bf16 storage
}

template <class T>
T* Tensor::as() {
  constexpr DType want = plain_dtype_of<T>();
  bool ok = dtype == want || (want == DType::F16 && dtype == DType::BF16);
  if (!ok) fail("tensor ", shape_str(), " holds ", dtype_name(dtype), ", not ", dtype_name(want));  // no string per call
  return static_cast<T*>(data);
}
template float* Tensor::as<float>();
template int32_t* Tensor::as<int32_t>();
template uint16_t* Tensor::as<uint16_t>();

Tensor Tensor::clone() const {
  Tensor t = zeros(dtype, shape);
  if (nbytes()) std::memcpy(t.data, data, nbytes());
  return t;
}

}  // namespace tunekit
