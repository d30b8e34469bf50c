// The streaming section of linear, linear_multi and linear_swiglu for few rows of x: x is quantized
// once (where an integer kernel reads it), then the rows of every output, counted as one range,
// are split over the pool, so q, k and v (or gate and up) cost one synchronisation instead of three.
#include <algorithm>
#include <vector>

#include "ops/gemv.h"
#include "tunekit/core/parallel.h"

namespace tunekit::ops {

namespace {

constexpr int64_t kRowAlign = 4;          // chunks start at a multiple of the kernels' widest pass
constexpr int64_t kMinRowsPerChunk = 64;  // below this a chunk costs more to hand out than it saves

// One output with the kernels that compute it.
struct StreamOutput {
  const LinearOutput* out;
  GemvKernel main, low_rank;
  GemvX u;  // the low-rank term's input [T, r]

  int64_t rows() const { return out->W->shape[0]; }
  // Rows [n0, n1) of y: x·Wᵀ, then + bias, then + u·Bᵀ, in the order linear() adds them.
  void run(const GemvX& x, int64_t n0, int64_t n1) const {
    main.rows(x, *out->W, n0, n1, out->y, out->accumulate);
    if (out->bias) {
      const int64_t N = rows();
      for (int64_t t = 0; t < x.T; ++t)
        for (int64_t n = n0; n < n1; ++n) out->y[t * N + n] += out->bias[n];
    }
    if (out->B) low_rank.rows(u, *out->B, n0, n1, out->y, /*accumulate=*/true);
  }
};

int64_t groups_of(int64_t rows) { return (rows + kRowAlign - 1) / kRowAlign; }

}  // namespace

bool linear_streaming(const float* x, int64_t T, std::span<const LinearOutput> outputs, bool swiglu) {
  std::vector<StreamOutput> parts;  // small: one per output
  parts.reserve(outputs.size());
  QuantizeX quantize = nullptr;
  for (const LinearOutput& o : outputs) {
    StreamOutput p{&o, gemv_kernel(o.W->dtype), o.B ? gemv_kernel(o.B->dtype) : GemvKernel{},
                   GemvX{o.u, T, o.B ? o.B->shape[1] : 0, {}}};
    if (!p.main.rows || (o.B && (!p.low_rank.rows || p.low_rank.quantize_x))) return false;
    if (p.main.quantize_x) quantize = p.main.quantize_x;
    parts.push_back(p);
  }
  const int64_t K = outputs.empty() ? 0 : outputs[0].W->shape[1];
  const GemvX gx{x, T, K, quantize ? quantize(x, T, K) : QuantizedX{}};

  if (swiglu) {  // parts = {gate, up}: both of a range of rows, then silu(gate) · up on it
    const int64_t N = parts[0].rows();
    parallel_for(
        groups_of(N),
        [&](int64_t g0, int64_t g1) {
          const int64_t n0 = g0 * kRowAlign, n1 = std::min(N, g1 * kRowAlign);
          parts[0].run(gx, n0, n1);
          parts[1].run(gx, n0, n1);
          for (int64_t t = 0; t < T; ++t) {
            float* gate = parts[0].out->y + t * N + n0;
            ops::swiglu(gate, parts[1].out->y + t * N + n0, gate, n1 - n0);
          }
        },
        std::max<int64_t>(1, kMinRowsPerChunk / kRowAlign / 2));
    return true;
  }
  std::vector<int64_t> first_group(parts.size() + 1, 0);  // output i owns groups [first[i], first[i + 1])
  for (size_t i = 0; i < parts.size(); ++i) first_group[i + 1] = first_group[i] + groups_of(parts[i].rows());
  parallel_for(
      first_group.back(),
      [&](int64_t g0, int64_t g1) {
        for (size_t i = 0; i < parts.size(); ++i) {
          const int64_t lo = std::max(g0, first_group[i]), hi = std::min(g1, first_group[i + 1]);
          if (lo < hi)
            parts[i].run(gx, (lo - first_group[i]) * kRowAlign,
                         std::min(parts[i].rows(), (hi - first_group[i]) * kRowAlign));
        }
      },
      std::max<int64_t>(1, kMinRowsPerChunk / kRowAlign));
  return true;
}

}  // namespace tunekit::ops
