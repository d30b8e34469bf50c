// Trainable's step over one packed micro-batch: embedding, the layers (train/layer.h), final norm,
// chunked cross-entropy; then the same in reverse. With checkpointing only each layer's input is
// kept and the layer is recomputed just before its backward (identical arithmetic, identical
// gradients).
#include <algorithm>

#include "train/trainable_state.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

namespace tunekit {

namespace {

void check_batch(const Batch& b) {
  check(b.n_row > 0 && b.seq_len > 0, "batch: no tokens (", b.n_row, " rows of ", b.seq_len, ")");
  const size_t n = size_t(b.size());
  check(b.tokens.size() == n && b.targets.size() == n && b.weights.size() == n && b.positions.size() == n &&
            b.seg_start.size() == n,
        "batch: tokens, targets, weights, positions and seg_start must each hold n_row·seq_len = ", n,
        " values; they hold ", b.tokens.size(), ", ", b.targets.size(), ", ", b.weights.size(), ", ",
        b.positions.size(), ", ", b.seg_start.size());
  for (int64_t t = 0; t < b.size(); ++t) {
    const int64_t row_start = t / b.seq_len * b.seq_len, s = b.seg_start[size_t(t)];
    check(s >= row_start && s <= t, "batch: seg_start[", t, "] = ", s,
          " must lie in the token's row and not after it (", row_start, "..", t, ")");
    check(b.positions[size_t(t)] >= 0, "batch: positions[", t, "] = ", b.positions[size_t(t)], " is negative");
  }
}

// x[T, d_model] = rows tokens[t] of the embedding table (any storage dtype).
void embed(const Tensor& table, const int32_t* tokens, int64_t T, float* x) {
  const int64_t n_vocab = table.dim(0), d = table.dim(1);
  const size_t row_bytes = dtype_bytes(table.dtype, d);
  for (int64_t t = 0; t < T; ++t) {
    check(tokens[t] >= 0 && tokens[t] < n_vocab, "batch: token id ", tokens[t], " at ", t,
          " is outside the vocabulary [0, ", n_vocab, ")");
    ops::dequantize(static_cast<const uint8_t*>(table.data) + size_t(tokens[t]) * row_bytes, table.dtype, d, x + t * d);
  }
}

// Whether any parameter of layer w trains.
bool trains(const train::TrainLayer& w) {
  return w.d_attn_norm || w.d_ffn_norm || std::any_of(w.lin.begin(), w.lin.end(), [](const train::TrainLinear& m) {
           return m.dW || m.dbias || m.dA || m.dB;
         });
}

// The lowest layer that trains (layers.size() when none does).
int lowest_trained_layer(const std::vector<train::TrainLayer>& layers) {
  return int(std::find_if(layers.begin(), layers.end(), trains) - layers.begin());
}

}  // namespace

train::StepContext Trainable::State::context(const Batch& b, double dropout, uint64_t seed) const {
  train::StepContext ctx;
  ctx.config = &model.config;
  ctx.inv_freq = model.inv_freq.data();
  ctx.positions = b.positions.data();
  ctx.seg_start = b.seg_start.data();
  ctx.T = b.size();
  ctx.lora_scale = adapter ? adapter->scale() : 0.0f;
  ctx.dropout = adapter ? dropout : 0.0;
  ctx.dropout_seed = seed;
  return ctx;
}

void Trainable::State::reserve(int64_t T, bool keep_all, bool dropout) {
  const ModelConfig& c = model.config;
  auto& a = arena;
  train::grow(a.xs, (c.n_layer + 1) * T * c.d_model);
  const size_t n_acts = keep_all ? size_t(c.n_layer) : 1;
  if (a.acts.size() < n_acts) a.acts.resize(n_acts);
  for (size_t l = 0; l < n_acts; ++l) a.acts[l].reserve(c, T, lora_rank());
  a.scratch.reserve(c, T, lora_rank(), dropout);
  for (auto* v : {&a.h, &a.dh, &a.dx}) train::grow(*v, T * c.d_model);
  train::grow(a.rstd, T);
}

void Trainable::State::forward(const train::StepContext& ctx, const int32_t* tokens, bool keep_all) {
  const ModelConfig& c = model.config;
  const int64_t T = ctx.T, D = c.d_model;
  auto& a = arena;
  embed(model.tok_embeddings, tokens, T, a.xs.data());  // xs[0] [T, d_model]
  for (int l = 0; l < c.n_layer; ++l)
    train::layer_forward(layers[size_t(l)], ctx, a.xs.data() + l * T * D, a.xs.data() + (l + 1) * T * D,
                         a.acts[keep_all ? size_t(l) : 0], a.scratch);
  ops::rmsnorm_forward_train(a.xs.data() + c.n_layer * T * D, model.norm.as<float>(), a.h.data(), a.rstd.data(), T, D,
                             float(c.rms_eps));  // h [T, d_model]
}

LossSum Trainable::evaluate(const Batch& batch) {
  State& s = *s_;
  check_batch(batch);
  const train::StepContext ctx = s.context(batch, 0.0, 0);
  s.reserve(ctx.T, false, false);
  s.forward(ctx, batch.tokens.data(), false);
  LossSum sums;
  sums.loss = ops::cross_entropy_loss(s.arena.h.data(), s.model.lm_head, batch.targets.data(), batch.weights.data(),
                                      ctx.T, 0.0f, nullptr, nullptr);
  sums.weight = batch.weight_sum();
  sums.tokens = ctx.T;
  return sums;
}

LossSum Trainable::forward_backward(const Batch& batch, float grad_scale, const StepOptions& options) {
  if (grad_scale == 0.0f) return evaluate(batch);  // nothing to add to the gradients
  State& s = *s_;
  check_batch(batch);
  const ModelConfig& c = s.model.config;
  const double dropout = s.adapter ? s.adapter->dropout : 0.0;
  const train::StepContext ctx = s.context(batch, dropout, options.dropout_seed);
  const int64_t T = ctx.T, D = c.d_model;
  const bool keep_all = !options.checkpointing;
  s.reserve(T, keep_all, dropout > 0);
  s.forward(ctx, batch.tokens.data(), keep_all);
  auto& a = s.arena;

  LossSum sums;  // loss; dh [T, d_model] = grad_scale · ∂loss/∂h; d_lm_head += grad_scale · ∂loss/∂W
  sums.loss = ops::cross_entropy_loss(a.h.data(), s.model.lm_head, batch.targets.data(), batch.weights.data(), T,
                                      grad_scale, a.dh.data(), s.d_lm_head);
  sums.weight = batch.weight_sum();
  sums.tokens = T;

  float* dx = a.dx.data();  // [T, d_model]: ∂/∂(the residual stream), from the top down
  std::fill(dx, dx + T * D, 0.0f);
  ops::rmsnorm_backward(a.dh.data(), a.xs.data() + c.n_layer * T * D, s.model.norm.as<float>(), a.rstd.data(), dx,
                        s.d_norm, T, D);
  // Backward goes down to the embeddings when they train; else it stops at the lowest layer that
  // trains, whose input gradient nothing needs (autograd skips the same work).
  const bool embeddings_train = s.d_embeddings != nullptr;
  const int lowest = embeddings_train ? 0 : lowest_trained_layer(s.layers);
  for (int l = int(c.n_layer) - 1; l >= lowest; --l) {
    const float* x_in = a.xs.data() + l * T * D;
    train::LayerActs& acts = a.acts[keep_all ? size_t(l) : 0];
    if (!keep_all)  // recompute this layer's activations (not its output: the next layer's input is kept)
      train::layer_forward(s.layers[size_t(l)], ctx, x_in, nullptr, acts, a.scratch);
    train::layer_backward(s.layers[size_t(l)], ctx, x_in, acts, dx, /*input_gradient=*/embeddings_train || l > lowest,
                          a.scratch);
  }
  if (s.d_embeddings) ops::embedding_backward(dx, batch.tokens.data(), T, D, s.d_embeddings);
  return sums;
}

}  // namespace tunekit
