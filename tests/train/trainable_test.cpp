// Trainable beyond the PyTorch goldens: checkpointing changes nothing, a zero-B LoRA is the base,
// evaluate() agrees with the inference forward, gradients accumulate and scale exactly, parameter
// names and layout, non-f32 bases, and clear errors for bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "trainable_test_util.h"
#include "tunekit/error.h"
#include "tunekit/models/forward.h"

namespace tunekit {
namespace {

std::vector<float> grads_of(Trainable& tr, const Batch& b, const StepOptions& o, float scale = 1.0f) {
  tr.zero_grads();
  tr.forward_backward(b, scale, o);
  return {tr.grads(), tr.grads() + tr.n_values()};
}

Trainable lora_trainable(const std::string& model, double dropout = 0.0) {
  const test::TrainGolden g = test::train_golden(model);
  Model base = test::golden_model(model);
  LoraAdapter lora = g.lora(base.config);
  lora.dropout = dropout;
  return Trainable::lora(std::move(base), std::move(lora));
}

class TrainableModels : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainableModels, CheckpointingGivesIdenticalGradients) {
  const Batch b = test::train_golden(GetParam()).batch(0);
  Trainable lora = lora_trainable(GetParam());
  Trainable lora_dropout = lora_trainable(GetParam(), 0.1);
  Trainable full = Trainable::full(test::golden_model(GetParam()));
  for (Trainable* tr : {&lora, &lora_dropout, &full}) {
    const StepOptions off{.checkpointing = false, .dropout_seed = 7}, on{.checkpointing = true, .dropout_seed = 7};
    const std::vector<float> plain = grads_of(*tr, b, off);
    const std::vector<float> ckpt = grads_of(*tr, b, on);
    ASSERT_EQ(plain.size(), ckpt.size());
    EXPECT_EQ(std::memcmp(plain.data(), ckpt.data(), plain.size() * sizeof(float)), 0);
    EXPECT_EQ(grads_of(*tr, b, off), plain);  // the arena, reused across modes, holds nothing stale
  }
}

TEST_P(TrainableModels, ZeroBLoraIsExactlyTheBase) {
  const test::TrainGolden g = test::train_golden(GetParam());
  Model base = test::golden_model(GetParam());
  LoraAdapter lora = g.lora(base.config);
  for (auto& layer : lora.layers)
    for (LoraPair& p : layer) std::memset(p.B.data, 0, p.B.nbytes());
  Trainable with_lora = Trainable::lora(base, std::move(lora));
  Trainable plain = Trainable::full(std::move(base));
  for (int j : {0, 1}) {
    const Batch b = g.batch(j);
    EXPECT_EQ(with_lora.evaluate(b).loss, plain.evaluate(b).loss);
    // The LoRA step's loss too (not against full fine-tuning's step: there the output matrix trains,
    // and cross_entropy_loss then sums the same loss in another order, not bit for bit).
    EXPECT_EQ(with_lora.forward_backward(b, 1.0f, {}).loss, plain.evaluate(b).loss);
  }
}

// Σ w·CE from the inference forward's logits, one packed sample at a time.
double inference_loss(const Model& m, const Batch& b, const LoraAdapter* adapter) {
  double loss = 0;
  Workspace ws;
  for (int64_t start = 0; start < b.size();) {
    int64_t end = start + 1;
    while (end < b.size() && b.seg_start[size_t(end)] == start) ++end;
    const int64_t n = end - start, V = m.config.n_vocab;
    KvCache cache(m.config, n);
    std::vector<float> logits(size_t(n * V));
    forward(m, b.tokens.data() + start, n, 0, cache, ws, logits.data(), true, adapter);
    for (int64_t t = 0; t < n; ++t) {
      const int32_t target = b.targets[size_t(start + t)];
      if (target < 0) continue;
      const float* row = logits.data() + t * V;
      double mx = row[0], sum = 0;
      for (int64_t v = 0; v < V; ++v) mx = std::max(mx, double(row[v]));
      for (int64_t v = 0; v < V; ++v) sum += std::exp(double(row[v]) - mx);
      loss += b.weights[size_t(start + t)] * (mx + std::log(sum) - row[target]);
    }
    start = end;
  }
  return loss;
}

TEST_P(TrainableModels, EvaluateMatchesTheInferenceForward) {
  const test::TrainGolden g = test::train_golden(GetParam());
  Trainable full = Trainable::full(test::golden_model(GetParam()));
  Trainable lora = lora_trainable(GetParam());
  for (int j : {0, 1}) {
    const Batch b = g.batch(j);
    const double want_full = inference_loss(full.model(), b, nullptr);
    EXPECT_NEAR(full.evaluate(b).loss, want_full, 1e-5 * want_full);
    const double want_lora = inference_loss(lora.model(), b, lora.adapter());
    EXPECT_NEAR(lora.evaluate(b).loss, want_lora, 1e-5 * want_lora);
    EXPECT_GT(std::abs(want_lora - want_full), 1e-3 * want_full);  // the LoRA matters
  }
}

// grads += grad_scale · ∂(Σ w·CE)/∂θ: halves add up to exactly one whole (scaling by 2^-1 is exact).
TEST_P(TrainableModels, GradientsAccumulateAndScale) {
  const Batch b = test::train_golden(GetParam()).batch(1);
  Trainable tr = lora_trainable(GetParam());
  const std::vector<float> whole = grads_of(tr, b, {});
  tr.zero_grads();
  tr.forward_backward(b, 0.5f, {});
  const std::vector<float> half(tr.grads(), tr.grads() + tr.n_values());
  tr.forward_backward(b, 0.5f, {});
  const std::vector<float> twice(tr.grads(), tr.grads() + tr.n_values());
  for (size_t i = 0; i < whole.size(); ++i) {
    ASSERT_EQ(half[i] * 2.0f, whole[i]) << i;
    ASSERT_EQ(twice[i], whole[i]) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TrainableModels, ::testing::Values("llama_gqa_tied", "qwen2_bias", "mistral_swa"));

TEST(Trainable, DropoutMasksFollowTheSeed) {
  const Batch b = test::train_golden("llama_gqa_tied").batch(0);
  Trainable tr = lora_trainable("llama_gqa_tied", 0.1);
  const double a = tr.forward_backward(b, 1.0f, {.dropout_seed = 1}).loss;
  EXPECT_EQ(tr.forward_backward(b, 1.0f, {.dropout_seed = 1}).loss, a);
  EXPECT_NE(tr.forward_backward(b, 1.0f, {.dropout_seed = 2}).loss, a);
}

TEST(Trainable, LoraParamsArePeftNamedViewsOfTheFlatBuffer) {
  Trainable tr = lora_trainable("qwen2_bias");
  const ModelConfig& c = tr.model().config;
  ASSERT_EQ(tr.params().size(), size_t(c.n_layer * kNumLinearModules * 2));
  EXPECT_EQ(tr.params()[0].name, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(tr.params()[1].name, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
  EXPECT_EQ(tr.params().back().name, "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");
  int64_t n = 0;
  for (const Param& p : tr.params()) {
    EXPECT_EQ(p.offset, n) << p.name;
    EXPECT_TRUE(p.decay) << p.name;
    n += p.numel;
  }
  EXPECT_EQ(tr.n_values(), n);
  const Param& a = tr.params()[0];  // the adapter's tensors are the values
  EXPECT_EQ(tr.adapter()->layers[0][0].A.as<float>(), tr.values() + a.offset);
  EXPECT_EQ(tr.model().layers[0].wq.dtype, DType::F32);  // the base stays as loaded
}

TEST(Trainable, FullParamsAreHfNamedAndNormsDoNotDecay) {
  Trainable tr = Trainable::full(test::golden_model("qwen2_bias"));
  std::map<std::string, const Param*> by_name;
  for (const Param& p : tr.params()) by_name[p.name] = &p;
  EXPECT_EQ(by_name.count("lm_head.weight"), 0u);  // tied: one table
  ASSERT_TRUE(by_name.count("model.embed_tokens.weight"));
  EXPECT_TRUE(by_name["model.layers.1.self_attn.q_proj.weight"]->decay);
  EXPECT_FALSE(by_name["model.layers.1.self_attn.q_proj.bias"]->decay);
  EXPECT_FALSE(by_name["model.layers.0.input_layernorm.weight"]->decay);
  EXPECT_FALSE(by_name["model.norm.weight"]->decay);
  // the model's weights are the values: an update shows in model() (and in the tied lm_head)
  const Param& e = *by_name["model.embed_tokens.weight"];
  tr.values()[e.offset] += 1.0f;
  EXPECT_EQ(tr.model().tok_embeddings.as<float>()[0], tr.values()[e.offset]);
  EXPECT_EQ(tr.model().lm_head.data, tr.model().tok_embeddings.data);
  EXPECT_EQ(tr.adapter(), nullptr);
}

// Full fine-tuning of a bf16 model trains f32 copies: the same as starting from its f32 conversion.
TEST(Trainable, FullOnBf16TrainsF32Copies) {
  const Batch b = test::train_golden("llama_gqa_tied").batch(0);
  Model bf16 = test::golden_model("llama_gqa_tied_bf16");
  ASSERT_EQ(bf16.layers[0].wq.dtype, DType::BF16);
  Trainable from_f32 = Trainable::full(convert_weights(bf16, DType::F32));
  Trainable tr = Trainable::full(std::move(bf16));
  EXPECT_EQ(tr.model().layers[0].wq.dtype, DType::F32);
  EXPECT_EQ(tr.model().tok_embeddings.dtype, DType::F32);
  EXPECT_EQ(grads_of(tr, b, {}), grads_of(from_f32, b, {}));
}

// LoRA on a quantized base keeps it quantized (backward dequantizes panels): the gradients are
// those of the same weights held in f32.
TEST(Trainable, LoraOnQ8BaseKeepsItQuantized) {
  const test::TrainGolden g = test::train_golden("llama_gqa_tied");
  const Batch b = g.batch(0);  // 40 tokens: above the streaming-kernel rows, so no 8-bit activations
  Model q8 = convert_weights(test::golden_model("llama_gqa_tied"), DType::Q8_0);
  Model dequantized = convert_weights(q8, DType::F32);
  Trainable on_f32 = Trainable::lora(std::move(dequantized), g.lora(q8.config));
  Trainable on_q8 = Trainable::lora(q8, g.lora(q8.config));
  EXPECT_EQ(on_q8.model().layers[0].w_up.dtype, DType::Q8_0);
  const std::vector<float> want = grads_of(on_f32, b, {}), got = grads_of(on_q8, b, {});
  // Both sides compute the same function of the same values in f32, but with other kernels (the f32
  // base's LoRA modules as one product with the low-rank term inside, the Q8 base's as dequantized
  // panels and a second product), so each carries its own rounding: against PyTorch's float64
  // gradients of this model (GoldenTrain) the lowest layer's q/k LoRA gradients are off by up to
  // ~2e-5, and the two sides here differ by up to ~4.5e-5. A wrong dequantization is off by O(1).
  for (const Param& p : on_q8.params())
    EXPECT_LE(test::rel_err(got.data() + p.offset, want.data() + p.offset, p.numel), 1e-4) << p.name;
}

TEST(Trainable, BadInputIsAClearError) {
  const Batch good = test::train_golden("llama_gqa_tied").batch(0);
  Trainable tr = lora_trainable("llama_gqa_tied");
  auto expect_error = [&](const Batch& b, const std::string& needle) {
    try {
      tr.forward_backward(b, 1.0f, {});
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Batch b = good;
  b.weights.pop_back();
  expect_error(b, "must each hold");
  b = good;
  b.seg_start[b.seq_len] = 0;  // row 1 reaching into row 0
  expect_error(b, "seg_start[20]");
  b = good;
  b.tokens[3] = 1000;
  expect_error(b, "token id 1000");
  b = good;
  b.targets[3] = 1000;
  expect_error(b, "1000");

  Model m = test::golden_model("llama_gqa_tied");
  EXPECT_THROW(Trainable::full(m, {2}), Error);  // no layer 2
  LoraAdapter short_adapter = test::train_golden("llama_gqa_tied").lora(m.config);
  short_adapter.layers.pop_back();
  EXPECT_THROW(Trainable::lora(m, short_adapter), Error);
}

}  // namespace
}  // namespace tunekit
