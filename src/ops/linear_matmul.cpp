// y[M, N] (+)= x[M, K] · W[N, K]ᵀ by oneDNN's matmul primitive (its brgemm kernels read W as the
// transposed [K, N] it is), one primitive per shape, made on first use and kept per thread.
#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <tuple>

#include "ops/linear_kernels.h"
#include "ops/onednn_operands.h"
#include "tunekit/error.h"

namespace tunekit::ops {

namespace {

using Dims = dnnl::memory::dims;
constexpr auto kF32 = dnnl::memory::data_type::f32;
constexpr size_t kMaxShapes = 64;  // per thread; the cache starts over beyond it

struct Product {
  dnnl::matmul primitive;
  dnnl::memory src, weights, dst;
};

struct Cache {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, bool>, Product> products;  // (M, N, K, ldy, accumulate)

  Product& get(int64_t M, int64_t N, int64_t K, int64_t ldy, bool accumulate) {
    const auto key = std::make_tuple(M, N, K, ldy, accumulate);
    if (auto it = products.find(key); it != products.end()) return it->second;
    if (products.size() >= kMaxShapes) products.clear();
    const dnnl::memory::desc src({M, K}, kF32, Dims{K, 1});
    const dnnl::memory::desc weights({K, N}, kF32, Dims{1, K});  // W[N, K] row-major, read as Wᵀ
    const dnnl::memory::desc dst({M, N}, kF32, Dims{ldy, 1});
    dnnl::primitive_attr attr;
    if (accumulate) {
      dnnl::post_ops sum;
      sum.append_sum(1.0f);
      attr.set_post_ops(sum);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, dst), attr, engine);
    Product p{dnnl::matmul(pd), dnnl::memory(src, engine, DNNL_MEMORY_NONE), dnnl::memory(weights, engine, DNNL_MEMORY_NONE),
              dnnl::memory(dst, engine, DNNL_MEMORY_NONE)};
    return products.emplace(key, std::move(p)).first->second;
  }
};

}  // namespace

void matmul_xwt(const float* x, int64_t M, const float* W, int64_t N, int64_t K, float* y, int64_t ldy,
                bool accumulate) {
  single_threaded_onednn();
  expect_operand(x, M, K, K, "x");
  expect_operand(W, N, K, K, "W");
  expect_operand(y, M, N, ldy, "y");
  try {
    thread_local Cache cache;  // its engine and stream are oneDNN objects too
    Product& p = cache.get(M, N, K, ldy, accumulate);
    p.src.set_data_handle(const_cast<float*>(x));
    p.weights.set_data_handle(const_cast<float*>(W));
    p.dst.set_data_handle(y);
    p.primitive.execute(cache.stream, {{DNNL_ARG_SRC, p.src}, {DNNL_ARG_WEIGHTS, p.weights}, {DNNL_ARG_DST, p.dst}});
    cache.stream.wait();
  } catch (const dnnl::error& e) {
    fail("matmul: oneDNN failed (", e.what(), ") on x [", M, ", ", K, "] x W [", N, ", ", K, "]ᵀ");
  }
}

}  // namespace tunekit::ops
