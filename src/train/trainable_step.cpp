// Trainable's step over one packed micro-batch: embedding, the layers (train/layer.h), final norm,
// chunked cross-entropy; then the same in reverse. With checkpointing only each layer's input is
// kept and each layer but the top one (whose activations the forward leaves in place) is recomputed
// just before its backward (identical arithmetic, identical gradients).
//
// A micro-batch whose rows divide evenly among the threads runs in parts, one per thread, each start
// to end on its own thread (its kernels single-threaded) into its own gradient buffer, the buffers
// added together at the end: on 2 cores this ran a 4 x 256 LoRA step of SmolLM2-135M ~5% faster
// than splitting every product between the threads (bench_train: no thread waits for the other
// between kernels, and oneDNN packs each operand once per product rather than once per chunk). The
// sum is in a fixed order and the dropout masks are keyed by a token's index in the whole
// micro-batch, so which thread runs which part changes nothing.
#include <algorithm>

#include "train/trainable_state.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

namespace tunekit {

namespace {

// The most memory the parts may hold in their own gradient buffers (full fine-tuning of a larger
// model runs its micro-batches whole instead).
constexpr int64_t kMaxPartGradientBytes = int64_t(256) << 20;
// The fewest tokens per part: below it a micro-batch runs whole (tiny products gain nothing from
// one thread each, and at 32 rows or fewer ops::linear streams a quantized W with 8-bit inputs).
constexpr int64_t kMinPartTokens = 128;
// Rows cross_entropy_loss takes at once, in each part and in a whole micro-batch. With a frozen
// output matrix (LoRA) a chunk holds [256, 1024] logits at a time, and 256 rows ran SmolLM2's head
// ~5% faster than 128 (each chunk streams the whole head). When the head trains, each part holds [256, n_vocab] logits
// (48 MiB for SmolLM2's vocabulary), beside that training's optimizer state of 16 bytes a weight.
constexpr int64_t kLossChunkRows = 256;

void check_batch(const Batch& b, int64_t n_vocab) {
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
    check(b.tokens[size_t(t)] >= 0 && b.tokens[size_t(t)] < n_vocab, "batch: token id ", b.tokens[size_t(t)], " at ",
          t, " is outside the vocabulary [0, ", n_vocab, ")");
  }
}

// x[T, d_model] = rows tokens[t] of the embedding table (any storage dtype); the ids are checked.
void embed(const Tensor& table, const int32_t* tokens, int64_t T, float* x) {
  const int64_t d = table.dim(1);
  const size_t row_bytes = dtype_bytes(table.dtype, d);
  for (int64_t t = 0; t < T; ++t)
    ops::dequantize(static_cast<const uint8_t*>(table.data) + size_t(tokens[t]) * row_bytes, table.dtype, d, x + t * d);
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

int64_t Trainable::State::part_count(const Batch& b) const {
  const int64_t threads = threads_here();
  if (threads < 2 || b.n_row % threads != 0 || b.size() / threads < kMinPartTokens) return 1;
  const int64_t bytes = threads * int64_t(grads.size()) * int64_t(sizeof(float));
  return bytes <= kMaxPartGradientBytes ? threads : 1;
}

void Trainable::State::reserve(Arena& a, int64_t T, bool keep_all, bool dropout) {
  const ModelConfig& c = model.config;
  train::grow(a.xs, (c.n_layer + 1) * T * c.d_model);
  const size_t n_acts = keep_all ? size_t(c.n_layer) : 1;
  if (a.acts.size() < n_acts) a.acts.resize(n_acts);
  for (size_t l = 0; l < n_acts; ++l) a.acts[l].reserve(c, T, lora_rank());
  a.scratch.reserve(c, T, lora_rank(), dropout);
  for (auto* v : {&a.h, &a.dh, &a.dx}) train::grow(*v, T * c.d_model);
  train::grow(a.rstd, T);
}

void Trainable::State::forward(Shard& shard, const train::StepContext& ctx, const int32_t* tokens, bool keep_all) {
  const ModelConfig& c = model.config;
  const int64_t T = ctx.T, D = c.d_model;
  Arena& a = shard.arena;
  embed(model.tok_embeddings, tokens, T, a.xs.data());  // xs[0] [T, d_model]
  for (int l = 0; l < c.n_layer; ++l)
    train::layer_forward(shard.layers[size_t(l)], ctx, a.xs.data() + l * T * D, a.xs.data() + (l + 1) * T * D,
                         a.acts[keep_all ? size_t(l) : 0], a.scratch);
  ops::rmsnorm_forward_train(a.xs.data() + c.n_layer * T * D, model.norm.as<float>(), a.h.data(), a.rstd.data(), T, D,
                             float(c.rms_eps));  // h [T, d_model]
}

LossSum Trainable::State::run(Shard& shard, const Batch& batch, float grad_scale, const StepOptions& options,
                              int64_t first_token) {
  const ModelConfig& c = model.config;
  const bool grad = grad_scale != 0.0f;
  const double dropout = grad && adapter ? adapter->dropout : 0.0;
  train::StepContext ctx = context(batch, dropout, options.dropout_seed);
  ctx.first_token = first_token;
  const int64_t T = ctx.T, D = c.d_model;
  const bool keep_all = grad && !options.checkpointing;
  Arena& a = shard.arena;
  reserve(a, T, keep_all, dropout > 0);
  forward(shard, ctx, batch.tokens.data(), keep_all);

  LossSum sums;  // loss; dh [T, d_model] = grad_scale · ∂loss/∂h; d_lm_head += grad_scale · ∂loss/∂W
  sums.loss = ops::cross_entropy_loss(a.h.data(), model.lm_head, batch.targets.data(), batch.weights.data(), T,
                                      grad_scale, grad ? a.dh.data() : nullptr, grad ? shard.d_lm_head : nullptr,
                                      kLossChunkRows);
  sums.weight = batch.weight_sum();
  sums.tokens = T;
  if (!grad) return sums;

  float* dx = a.dx.data();  // [T, d_model]: ∂/∂(the residual stream), from the top down
  std::fill(dx, dx + T * D, 0.0f);
  ops::rmsnorm_backward(a.dh.data(), a.xs.data() + c.n_layer * T * D, model.norm.as<float>(), a.rstd.data(), dx,
                        shard.d_norm, T, D);
  // Backward goes down to the embeddings when they train; else it stops at the lowest layer that
  // trains, whose input gradient nothing needs (autograd skips the same work).
  const bool embeddings_train = shard.d_embeddings != nullptr;
  const int lowest = embeddings_train ? 0 : lowest_trained_layer(shard.layers);
  for (int l = int(c.n_layer) - 1; l >= lowest; --l) {
    const float* x_in = a.xs.data() + l * T * D;
    train::LayerActs& acts = a.acts[keep_all ? size_t(l) : 0];
    // Recompute this layer's activations (not its output: the next layer's input is kept), but for
    // the top layer's: acts[0] still holds them from the forward.
    if (!keep_all && l != c.n_layer - 1)
      train::layer_forward(shard.layers[size_t(l)], ctx, x_in, nullptr, acts, a.scratch);
    train::layer_backward(shard.layers[size_t(l)], ctx, x_in, acts, dx,
                          /*input_gradient=*/embeddings_train || l > lowest, a.scratch);
  }
  if (shard.d_embeddings) ops::embedding_backward(dx, batch.tokens.data(), T, D, shard.d_embeddings);
  return sums;
}

LossSum Trainable::State::step(const Batch& batch, float grad_scale, const StepOptions& options) {
  check_batch(batch, model.tok_embeddings.dim(0));
  const int64_t n_parts = part_count(batch);
  if (n_parts == 1) return run(whole, batch, grad_scale, options, 0);

  const int64_t rows = batch.n_row / n_parts;
  std::vector<Batch> batches;
  for (int64_t i = 0; i < n_parts; ++i) batches.push_back(batch.rows(i * rows, rows));
  for (int64_t i = 0; i < n_parts; ++i) part(size_t(i));  // made here, not by the threads
  std::vector<LossSum> part_sums(static_cast<size_t>(n_parts));
  parallel_for(n_parts, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Shard& shard = parts[size_t(i)];
      if (grad_scale != 0.0f) std::fill(shard.own_grads.begin(), shard.own_grads.end(), 0.0f);
      part_sums[size_t(i)] = run(shard, batches[size_t(i)], grad_scale, options, i * rows * batch.seq_len);
    }
  });

  LossSum sums;
  for (const LossSum& part_sum : part_sums) {  // in part order: deterministic
    sums.loss += part_sum.loss;
    sums.weight += part_sum.weight;
    sums.tokens += part_sum.tokens;
  }
  if (grad_scale != 0.0f)  // grads += the parts' sum (taken first, so that adding twice the same
                           // half-scaled micro-batch gives exactly its whole gradient, as whole does)
    parallel_for(
        int64_t(grads.size()),
        [&](int64_t begin, int64_t end) {
          for (int64_t j = begin; j < end; ++j) {
            float sum = 0.0f;
            for (int64_t i = 0; i < n_parts; ++i) sum += parts[size_t(i)].own_grads[size_t(j)];
            grads[size_t(j)] += sum;
          }
        },
        1 << 16);
  return sums;
}

int64_t Trainable::parts_of(const Batch& batch) const { return s_->part_count(batch); }

LossSum Trainable::evaluate(const Batch& batch) { return s_->step(batch, 0.0f, StepOptions{}); }

LossSum Trainable::forward_backward(const Batch& batch, float grad_scale, const StepOptions& options) {
  return s_->step(batch, grad_scale, options);
}

}  // namespace tunekit
