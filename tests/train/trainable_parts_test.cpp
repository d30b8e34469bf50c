// A micro-batch split by rows over the threads (Trainable::parts_of > 1) gives the loss and gradients
// of the same micro-batch run whole on one thread: LoRA with dropout (masks keyed by the token's
// index in the whole micro-batch), full fine-tuning (embeddings included), checkpointing, evaluate;
// and the split's own properties: deterministic, exact gradient accumulation, Batch::rows.
#include <gtest/gtest.h>

#include <cmath>

#include "trainable_test_util.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"

namespace tunekit {
namespace {

// The two golden micro-batches' rows, repeated until there are n_row (rows alternate between them,
// so the parts hold different samples).
Batch stacked_rows(const test::TrainGolden& g, int64_t n_row) {
  const Batch sources[2] = {g.batch(0), g.batch(1)};
  Batch b;
  b.n_row = n_row;
  b.seq_len = sources[0].seq_len;
  for (int64_t r = 0; r < n_row; ++r) {
    const Batch row = sources[r % 2].rows((r / 2) % sources[0].n_row, 1);
    const int32_t offset = int32_t(r * b.seq_len);
    b.tokens.insert(b.tokens.end(), row.tokens.begin(), row.tokens.end());
    b.targets.insert(b.targets.end(), row.targets.begin(), row.targets.end());
    b.weights.insert(b.weights.end(), row.weights.begin(), row.weights.end());
    b.positions.insert(b.positions.end(), row.positions.begin(), row.positions.end());
    for (int32_t s : row.seg_start) b.seg_start.push_back(s + offset);
  }
  return b;
}

struct Result {
  LossSum sums;
  std::vector<float> grads;
};

Result step(Trainable& tr, const Batch& b, const StepOptions& o) {
  tr.zero_grads();
  Result r;
  r.sums = tr.forward_backward(b, 1.0f, o);
  r.grads.assign(tr.grads(), tr.grads() + tr.n_values());
  return r;
}

Trainable lora(const test::TrainGolden& g, double dropout) {
  Model base = test::golden_model("llama_gqa_tied");
  LoraAdapter a = g.lora(base.config);
  a.dropout = dropout;
  return Trainable::lora(std::move(base), std::move(a));
}

class TrainableParts : public ::testing::Test {
 protected:
  void TearDown() override { set_num_threads(0); }
  const test::TrainGolden g = test::train_golden("llama_gqa_tied");
  const Batch batch = stacked_rows(g, 14);  // 14 rows of 20 tokens: 2 parts of 140
};

TEST_F(TrainableParts, GiveTheWholeBatchLossAndGradients) {
  Trainable with_dropout = lora(g, 0.1);
  Trainable full = Trainable::full(test::golden_model("llama_gqa_tied"));
  ASSERT_TRUE(full.model().config.tied_embeddings);  // the embeddings' gradient comes from both ends
  for (Trainable* tr : {&with_dropout, &full})
    for (bool checkpointing : {false, true}) {
      const StepOptions o{.checkpointing = checkpointing, .dropout_seed = 99};
      set_num_threads(1);
      ASSERT_EQ(tr->parts_of(batch), 1);
      const Result whole = step(*tr, batch, o);
      const double whole_eval = tr->evaluate(batch).loss;
      set_num_threads(2);
      ASSERT_EQ(tr->parts_of(batch), 2);
      const Result parts = step(*tr, batch, o);
      EXPECT_NEAR(parts.sums.loss, whole.sums.loss, 1e-6 * whole.sums.loss);
      EXPECT_EQ(parts.sums.weight, whole.sums.weight);
      EXPECT_EQ(parts.sums.tokens, whole.sums.tokens);
      EXPECT_NEAR(tr->evaluate(batch).loss, whole_eval, 1e-6 * whole_eval);
      for (const Param& p : tr->params())
        EXPECT_LE(test::rel_err(parts.grads.data() + p.offset, whole.grads.data() + p.offset, p.numel), 1e-5)
            << p.name << (checkpointing ? " (checkpointing)" : "");
    }
}

// Dropout masks follow the token's index in the whole micro-batch: the same seed in a part masks
// the same inputs as in the whole, so a different seed must change the parts' result.
TEST_F(TrainableParts, DropoutMasksAreThoseOfTheWholeBatch) {
  Trainable tr = lora(g, 0.5);
  set_num_threads(2);
  ASSERT_EQ(tr.parts_of(batch), 2);
  const Result a = step(tr, batch, {.dropout_seed = 1});
  EXPECT_NE(step(tr, batch, {.dropout_seed = 2}).sums.loss, a.sums.loss);
  set_num_threads(1);
  EXPECT_NEAR(step(tr, batch, {.dropout_seed = 1}).sums.loss, a.sums.loss, 1e-6 * a.sums.loss);
}

TEST_F(TrainableParts, AreDeterministicAndAccumulateExactly) {
  Trainable tr = lora(g, 0.0);
  set_num_threads(2);
  ASSERT_EQ(tr.parts_of(batch), 2);
  const Result whole = step(tr, batch, {});
  EXPECT_EQ(step(tr, batch, {}).grads, whole.grads);
  tr.zero_grads();
  tr.forward_backward(batch, 0.5f, {});
  tr.forward_backward(batch, 0.5f, {});
  EXPECT_EQ(std::vector<float>(tr.grads(), tr.grads() + tr.n_values()), whole.grads);
}

TEST_F(TrainableParts, OnlyWhenRowsDivideAndPartsAreBigEnough) {
  Trainable tr = lora(g, 0.0);
  set_num_threads(2);
  EXPECT_EQ(tr.parts_of(stacked_rows(g, 13)), 1);  // 13 rows do not divide among 2 threads
  EXPECT_EQ(tr.parts_of(g.batch(0)), 1);            // 2 rows: parts of 20 tokens are too small
  set_num_threads(1);
  EXPECT_EQ(tr.parts_of(batch), 1);
}

TEST(BatchRows, AreABatchOfTheirOwn) {
  const Batch b = test::train_golden("llama_gqa_tied").batch(0);
  const Batch second = b.rows(1, 1);
  ASSERT_EQ(second.n_row, 1);
  ASSERT_EQ(second.size(), b.seq_len);
  for (int64_t t = 0; t < second.size(); ++t) {
    const size_t i = size_t(b.seq_len + t);
    EXPECT_EQ(second.tokens[size_t(t)], b.tokens[i]);
    EXPECT_EQ(second.targets[size_t(t)], b.targets[i]);
    EXPECT_EQ(second.weights[size_t(t)], b.weights[i]);
    EXPECT_EQ(second.positions[size_t(t)], b.positions[i]);
    EXPECT_EQ(second.seg_start[size_t(t)], b.seg_start[i] - b.seq_len);
    EXPECT_GE(second.seg_start[size_t(t)], 0);
  }
  EXPECT_THROW(b.rows(1, 2), Error);
}

}  // namespace
}  // namespace tunekit
