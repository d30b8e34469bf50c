#include "tunekit/adapters/merge.h"

#include <vector>

#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit {

namespace {

// W [d_out, d_in] (any dtype) + scale · B [d_out, r] · A [r, d_in], summed in double per row,
// rounded to f32 once, then stored as dtype.
Tensor merged_weight(const Tensor& W, const LoraPair& p, double scale, DType dtype) {
  const int64_t d_out = W.dim(0), d_in = W.dim(1), r = p.A.dim(0);
  const float* A = p.A.as<float>();
  const float* B = p.B.as<float>();
  Tensor out = Tensor::zeros(DType::F32, {d_out, d_in});
  const size_t row_bytes = dtype_bytes(W.dtype, d_in);
  parallel_for(d_out, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(d_in));  // [d_in]
    std::vector<float> w(static_cast<size_t>(d_in));    // [d_in]
    for (int64_t i = begin; i < end; ++i) {
      ops::dequantize(static_cast<const uint8_t*>(W.data) + size_t(i) * row_bytes, W.dtype, d_in, w.data());
      for (int64_t j = 0; j < d_in; ++j) acc[size_t(j)] = w[size_t(j)];
      for (int64_t k = 0; k < r; ++k) {
        const double b = scale * double(B[i * r + k]);
        const float* a = A + k * d_in;
        for (int64_t j = 0; j < d_in; ++j) acc[size_t(j)] += b * double(a[j]);
      }
      float* o = out.as<float>() + i * d_in;
      for (int64_t j = 0; j < d_in; ++j) o[j] = float(acc[size_t(j)]);
    }
  }, 8);
  return dtype == DType::F32 ? out : ops::convert(out, dtype);
}

}  // namespace

Model merge_adapter(const Model& base, const LoraAdapter& adapter, const MergeOptions& options) {
  adapter.validate(base.config, "merge: adapter");
  const double scale = adapter.scale();  // the float the unmerged path multiplies by
  Model out = base;  // tensors are shared views; only adapted weights are replaced
  for (int l = 0; l < base.config.n_layer; ++l)
    for (int i = 0; i < kNumLinearModules; ++i)
      if (const LoraPair* p = adapter.find(l, LinearModule(i))) {
        Tensor& W = out.layers[size_t(l)].*module_weight(LinearModule(i));
        W = merged_weight(W, *p, scale, options.dtype.value_or(W.dtype));
      }
  return out;
}

}  // namespace tunekit
