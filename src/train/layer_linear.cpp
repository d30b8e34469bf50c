// Linear modules for training: y = x·Wᵀ + bias + scale · (drop(x)·Aᵀ)·Bᵀ, its backward, and the LoRA
// dropout masks (inverted dropout on the input of A, drawn by a counter-based hash so that a
// checkpointed recompute and the backward see the same masks without storing them).
#include "train/layer.h"
#include "tunekit/core/parallel.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

namespace tunekit::train {

namespace {

uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// out[T, K] (+= when accumulate) = in · keep / (1 - p), the masks of apply_dropout.
void masked_scale(const float* in, int64_t T, int64_t K, const DropoutMask& mask, float* out, bool accumulate) {
  const double p = mask.p;
  const float keep_scale = float(1.0 / (1.0 - p));
  const uint64_t first = uint64_t(mask.first_token * K);  // the flat index of in[0]
  parallel_for(
      T * K,
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const uint64_t hash = splitmix64(mask.key ^ (first + uint64_t(i)));
          const bool keep = double(hash >> 40) / double(1 << 24) >= p;  // exact in double
          const float v = keep ? in[i] * keep_scale : 0.0f;
          out[i] = accumulate ? out[i] + v : v;
        }
      },
      4096);
}

}  // namespace

DropoutMask dropout_mask(const StepContext& ctx, int layer, LinearModule m) {
  DropoutMask mask;
  mask.p = ctx.dropout;
  mask.key = splitmix64(splitmix64(ctx.dropout_seed) ^ uint64_t(layer * kNumLinearModules + int(m)));
  mask.first_token = ctx.first_token;
  return mask;
}

void apply_dropout(const float* x, int64_t T, int64_t K, const DropoutMask& mask, float* xd) {
  masked_scale(x, T, K, mask, xd, false);
}

void lora_input(const TrainLinear& m, const StepContext& ctx, int layer, LinearModule which, const float* x,
                std::vector<float>& u, LayerScratch& s) {
  const int64_t T = ctx.T, K = m.W->dim(1), r = m.lora->A.dim(0);
  const float* xd = x;
  if (ctx.dropout > 0) {
    apply_dropout(x, T, K, dropout_mask(ctx, layer, which), s.xd.data());  // xd [T, K]
    xd = s.xd.data();
  }
  grow(u, T * r);
  ops::lora_project(xd, T, m.lora->A, u.data());  // u [T, r] = xd·Aᵀ, then · scale (as project() does)
  for (int64_t i = 0; i < T * r; ++i) u[size_t(i)] *= ctx.lora_scale;
}

void linear_forward(const TrainLinear& m, const StepContext& ctx, int layer, LinearModule which, const float* x,
                    float* y, bool accumulate, std::vector<float>& u, LayerScratch& s) {
  if (!m.lora || ctx.dropout == 0) {  // u [T, r] = scale · x·Aᵀ is project()'s scratch
    project(x, ctx.T, *m.W, m.bias, m.lora, ctx.lora_scale, y, accumulate, u);
    return;
  }
  project(x, ctx.T, *m.W, m.bias, nullptr, 0.0f, y, accumulate, u);          // y (+)= x·Wᵀ + bias
  lora_input(m, ctx, layer, which, x, u, s);                                  // u [T, r] = scale · drop(x)·Aᵀ
  ops::linear(u.data(), ctx.T, m.lora->B, nullptr, y, /*accumulate=*/true);  // y += u·Bᵀ
}

void linear_backward_data(const TrainLinear& m, const StepContext& ctx, int layer, LinearModule which, const float* dy,
                          const std::vector<float>& u, float* dx, bool accumulate, LayerScratch& s) {
  const int64_t T = ctx.T, N = m.W->dim(0), K = m.W->dim(1);
  if (dx) ops::linear_backward_input(dy, T, *m.W, dx, accumulate);  // dx [T, K] (+)= dy·W
  if (m.dbias) ops::bias_backward(dy, T, N, m.dbias);                 // dbias [N] += Σ_t dy
  if (!m.lora) return;
  float* du = s.du.data();  // du [T, r] = scale · dy·B; dB [N, r] += dyᵀ·u
  ops::lora_b_backward(dy, T, m.lora->B, u.data(), ctx.lora_scale, du, m.dB);
  if (!dx) return;
  if (ctx.dropout == 0) {
    ops::linear_backward_input(du, T, m.lora->A, dx, true);  // dx += du·A
  } else {
    ops::linear_backward_input(du, T, m.lora->A, s.dxd.data(), false);  // dxd [T, K] = du·A
    masked_scale(s.dxd.data(), T, K, dropout_mask(ctx, layer, which), dx, true);
    // dx += keep · dxd / (1 - p)
  }
}

void linear_backward_input_side(const TrainLinear& m, const StepContext& ctx, int layer, LinearModule which,
                                const float* dy, const float* x, LayerScratch& s) {
  const int64_t T = ctx.T, N = m.W->dim(0), K = m.W->dim(1);
  if (m.dW) ops::linear_backward_weight(dy, x, T, N, K, m.dW, true);  // dW [N, K] += dyᵀ·x
  if (!m.lora) return;
  const float* xd = x;  // the input A saw
  if (ctx.dropout > 0) {
    apply_dropout(x, T, K, dropout_mask(ctx, layer, which), s.xd.data());
    xd = s.xd.data();
  }
  ops::linear_backward_weight(s.du.data(), xd, T, m.lora->A.dim(0), K, m.dA, true);  // dA [r, K] += duᵀ·xd
}

void linear_backward(const TrainLinear& m, const StepContext& ctx, int layer, LinearModule which, const float* dy,
                     const float* x, const std::vector<float>& u, float* dx, bool accumulate, LayerScratch& s) {
  linear_backward_data(m, ctx, layer, which, dy, u, dx, accumulate, s);
  linear_backward_input_side(m, ctx, layer, which, dy, x, s);
}

}  // namespace tunekit::train
