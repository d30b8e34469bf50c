// Backward of one decoder layer (layer_forward in reverse). The normed inputs and the SwiGLU output
// are recomputed from what forward kept (cheap element-wise work) instead of being stored.
#include "train/layer.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

namespace tunekit::train {

void layer_backward(const TrainLayer& w, const StepContext& ctx, const float* x_in, const LayerActs& a, float* dx,
                    bool input_gradient, LayerScratch& s) {
  using M = LinearModule;
  const ModelConfig& c = *ctx.config;
  const int64_t T = ctx.T, D = c.d_model;
  const float eps = float(c.rms_eps);
  float* h = s.h.data();
  float* dh = s.dh.data();
  auto linear = [&](M m, const float* dy, const float* x, float* dx_m, bool accumulate) {
    linear_backward(w.lin[size_t(m)], ctx, w.index, m, dy, x, a.lora_u[size_t(m)], dx_m, accumulate, s);
  };

  // ---- MLP block: x_out = x_mid + down(act), act = silu(gate)·up, gate/up = h·Wᵀ, h = rmsnorm(x_mid)
  // dx [T, d_model] = ∂L/∂x_out
  ops::rmsnorm_forward_train(a.x_mid.data(), w.ffn_norm, h, s.rstd.data(), T, D, eps);  // h [T, d_model] again
  const TrainLinear& down = w.lin[size_t(M::down)];
  linear_backward_data(down, ctx, w.index, M::down, dx, a.lora_u[size_t(M::down)], s.dgate.data(), false,
                       s);  // dact [T, d_ff]
  // dgate, dup [T, d_ff], and act [T, d_ff] again (what down's dW and dA read) in the same pass
  ops::swiglu_backward(s.dgate.data(), a.gate.data(), a.up.data(), s.dgate.data(), s.dup.data(), T * c.d_ff,
                       s.act.data());
  linear_backward_input_side(down, ctx, w.index, M::down, dx, s.act.data(), s);
  linear(M::gate, s.dgate.data(), h, dh, false);  // dh [T, d_model] = dgate·W_gate
  linear(M::up, s.dup.data(), h, dh, true);       //               + dup·W_up
  ops::rmsnorm_backward(dh, a.x_mid.data(), w.ffn_norm, a.rstd2.data(), dx, w.d_ffn_norm, T, D);
  // dx = ∂L/∂x_mid (the residual path plus the norm's)

  // ---- attention block: x_mid = x_in + att·woᵀ, att = attention(rope(q), rope(k), v), q/k/v = h·Wᵀ
  ops::rmsnorm_forward_train(x_in, w.attn_norm, h, s.rstd.data(), T, D, eps);  // h [T, d_model] again
  linear(M::o, dx, a.att.data(), s.datt.data(), false);                         // datt [T, n_head, d_head]
  ops::attention_train_backward(s.datt.data(), a.q.data(), a.k.data(), a.v.data(), a.att.data(), a.lse.data(),
                                ctx.seg_start, s.dq.data(), s.dk.data(), s.dv.data(), T, c.n_head, c.n_head_kv,
                                c.d_head, c.sliding_window);  // dq [T, n_head, d_head], dk/dv [T, n_head_kv, d_head]
  ops::rope_backward(s.dq.data(), T, c.n_head, c.d_head, ctx.positions, ctx.inv_freq);
  ops::rope_backward(s.dk.data(), T, c.n_head_kv, c.d_head, ctx.positions, ctx.inv_freq);
  // dh [T, d_model] = dq·Wq + dk·Wk + dv·Wv, needed for ∂L/∂x_in and the norm's weight only
  float* dh_qkv = input_gradient || w.d_attn_norm ? dh : nullptr;
  linear(M::q, s.dq.data(), h, dh_qkv, false);
  linear(M::k, s.dk.data(), h, dh_qkv, true);
  linear(M::v, s.dv.data(), h, dh_qkv, true);
  if (dh_qkv) ops::rmsnorm_backward(dh, x_in, w.attn_norm, a.rstd1.data(), dx, w.d_attn_norm, T, D);
  // dx = ∂L/∂x_in (when input_gradient)
}

}  // namespace tunekit::train
