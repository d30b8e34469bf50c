// run_training on stories260K: the loss goes down, gradient accumulation equals a bigger batch,
// the non-finite guard, early stopping, keep-last/keep-best, the outputs, and bad input refused
// before the first step.
#include <gtest/gtest.h>

#include <cmath>

#include "trainer_test_util.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/adapters/peft.h"
#include "tunekit/error.h"
#include "tunekit/infer/model_files.h"
#include "tunekit/io/file_util.h"
#include "tunekit/io/safetensors.h"
#include "tunekit/models/model.h"
#include "tunekit/train/trainer.h"

namespace tunekit {
namespace {

namespace fs = std::filesystem;

TrainConfig base_config(const fs::path& dir, const std::string& out_name = "out") {
  TrainConfig c;
  c.model = test::stories260k().string();
  c.data = {test::write_story_jsonl(dir, 48).string()};
  c.out = (dir / out_name).string();
  c.seq_len = 64;
  c.batch_size = 2;
  c.max_steps = 6;
  c.lr = 1e-2;
  c.lora_r = 4;
  c.threads = 1;
  return c;
}

std::vector<StepMetrics> steps_only(const std::vector<StepMetrics>& all) {
  std::vector<StepMetrics> out;
  for (const auto& m : all)
    if (m.step > 0) out.push_back(m);
  return out;
}

TEST(Trainer, LoraLowersTrainAndValidationLoss) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("trainer_lora");
  TrainConfig c = base_config(dir);
  c.max_steps = 30;
  c.val_fraction = 0.2;
  c.eval_every = 10;
  c.targets = {"all-linear"};
  std::vector<StepMetrics> seen;
  std::vector<std::string> messages;
  TrainPlan plan;
  TrainCallbacks cb;
  cb.on_start = [&](const TrainPlan& p) { plan = p; };
  cb.on_step = [&](const StepMetrics& m) { seen.push_back(m); };
  cb.on_message = [&](const std::string& m) { messages.push_back(m); };
  TrainResult r = run_training(c, cb);
  EXPECT_EQ(plan.total_steps, 30);
  EXPECT_EQ(plan.n_train_samples + plan.n_val_samples, 48);
  EXPECT_GT(plan.n_val_samples, 0);
  ASSERT_EQ(seen.size(), 30u);
  EXPECT_EQ(r.steps, 30);
  EXPECT_EQ(r.skipped_steps, 0);
  ASSERT_TRUE(r.val_loss_before && r.val_loss_after && r.best_val_loss);
  EXPECT_LT(*r.val_loss_after, *r.val_loss_before - 0.1);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += seen[size_t(i)].loss / 5, last += seen[size_t(25 + i)].loss / 5;
  EXPECT_LT(last, first - 0.2);
  for (const auto& m : seen) {
    EXPECT_TRUE(std::isfinite(m.grad_norm));
    EXPECT_GT(m.tokens, 0);
    EXPECT_GT(m.rss_bytes, 0);
    EXPECT_EQ(m.val_loss.has_value(), m.step % 10 == 0) << m.step;
  }
  // The schedule: cosine from 1e-2 without warmup.
  EXPECT_DOUBLE_EQ(seen[0].lr, 1e-2);
  EXPECT_LT(seen[29].lr, 1e-4);
  // metrics.jsonl: the validation before training (step 0) and every step.
  auto records = read_metrics_jsonl(r.metrics_path);
  ASSERT_EQ(records.size(), 31u);
  EXPECT_EQ(records[0].step, 0);
  EXPECT_EQ(records[0].val_loss, r.val_loss_before);
  for (size_t i = 0; i < 30; ++i) EXPECT_EQ(records[i + 1].loss, seen[i].loss);
  // Outputs: final/ and best/ are PEFT folders for this model; the report is self-contained.
  Model base = load_model(c.model);
  LoraAdapter final_adapter = load_peft_adapter(r.final_dir, base.config);
  EXPECT_EQ(final_adapter.rank, 4);
  EXPECT_EQ(final_adapter.targets.size(), 7u);
  EXPECT_NO_THROW(load_peft_adapter(r.best_dir, base.config));
  const std::string html = read_text_file(r.report_path);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // tunekit eval's path (base alone, then with the saved adapter) agrees that the loss went down.
  EvalConfig e;
  e.model = c.model;
  e.data = c.data;
  e.seq_len = c.seq_len;
  e.batch_size = 2;
  const double before = run_evaluation(e).loss;
  e.adapter = r.final_dir;
  const double after = run_evaluation(e).loss;
  EXPECT_LT(after, before - 0.2);
}

// grad_scale = 1 / (total weight of the whole optimizer step): two micro-batches of one row make
// the same update as one micro-batch of two rows (packing hands out the same rows either way).
TEST(Trainer, GradientAccumulationEqualsTheBiggerBatch) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("trainer_accum");
  TrainConfig big = base_config(dir, "big");
  big.max_steps = 2;
  big.lr = 1e-2;
  big.schedule = "constant";
  TrainConfig accum = big;
  accum.out = (dir / "accum").string();
  accum.batch_size = 1;
  accum.grad_accum = 2;
  TrainResult a = run_training(big), b = run_training(accum);
  auto ma = steps_only(read_metrics_jsonl(a.metrics_path)), mb = steps_only(read_metrics_jsonl(b.metrics_path));
  ASSERT_EQ(ma.size(), 2u);
  ASSERT_EQ(mb.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(ma[i].loss, mb[i].loss, 1e-5 * ma[i].loss);
    EXPECT_NEAR(ma[i].grad_norm, mb[i].grad_norm, 1e-4 * ma[i].grad_norm);
    EXPECT_EQ(ma[i].tokens, mb[i].tokens);
  }
  TensorFile fa = read_safetensors(fs::path(a.final_dir) / "adapter_model.safetensors");
  TensorFile fb = read_safetensors(fs::path(b.final_dir) / "adapter_model.safetensors");
  double max_diff = 0, max_abs = 0;
  for (const auto& [name, t] : fa.tensors) {
    const float* x = t.as<float>();
    const float* y = fb.get(name).as<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      max_diff = std::max(max_diff, double(std::abs(x[i] - y[i])));
      max_abs = std::max(max_abs, double(std::abs(x[i])));
    }
  }
  EXPECT_LT(max_diff, 1e-4 * max_abs) << "max |difference| " << max_diff << " of values up to " << max_abs;
}

// A base model with a NaN weight: every gradient is non-finite, so every step is skipped (no
// update: the adapter stays as initialised; counted, announced) and the run still ends normally;
// validation losses that are nan never improve, so early stopping ends it.
TEST(Trainer, NonFiniteGradientsAreSkippedAndEarlyStoppingEnds) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("trainer_nan");
  Model broken = load_model(test::stories260k());
  broken.layers[3].ffn_norm = broken.layers[3].ffn_norm.clone();
  broken.layers[3].ffn_norm.as<float>()[5] = std::nanf("");
  save_hf(broken, dir / "nan-model");
  copy_tokenizer_files(test::stories260k(), std::nullopt, dir / "nan-model");
  TrainConfig c = base_config(dir);
  c.model = (dir / "nan-model").string();
  c.max_steps = 20;
  c.val_fraction = 0.2;
  c.eval_every = 2;
  c.early_stopping_patience = 3;
  std::vector<std::string> messages;
  TrainCallbacks cb;
  cb.on_message = [&](const std::string& m) { messages.push_back(m); };
  TrainResult r = run_training(c, cb);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.steps, 6);  // validations at steps 2, 4, 6
  EXPECT_EQ(r.skipped_steps, 6);
  EXPECT_FALSE(r.best_val_loss.has_value());
  int skip_messages = 0, stop_messages = 0;
  for (const auto& m : messages) {
    skip_messages += m.find("skipped: non-finite gradient") != std::string::npos;
    stop_messages += m.rfind("early stop at step 6", 0) == 0;
  }
  EXPECT_EQ(skip_messages, 6);
  EXPECT_EQ(stop_messages, 1);
  for (const auto& m : steps_only(read_metrics_jsonl(r.metrics_path))) {
    EXPECT_TRUE(m.skipped) << m.step;
    EXPECT_FALSE(std::isfinite(m.grad_norm)) << m.step;
  }
  // No step changed the adapter: it is still init_lora's (same config and seed).
  LoraConfig lc;
  lc.rank = c.lora_r;
  lc.alpha = c.lora_alpha;
  lc.targets = c.targets;
  LoraAdapter init = init_lora(broken.config, lc, c.seed);
  LoraAdapter saved = load_peft_adapter(r.final_dir, broken.config);
  for (int l = 0; l < broken.config.n_layer; ++l)
    for (LinearModule mod : {LinearModule::q, LinearModule::v}) {
      const LoraPair* a = init.find(l, mod);
      const LoraPair* b = saved.find(l, mod);
      ASSERT_TRUE(a && b);
      EXPECT_TRUE(std::equal(a->A.as<float>(), a->A.as<float>() + a->A.numel(), b->A.as<float>()));
      EXPECT_TRUE(std::equal(a->B.as<float>(), a->B.as<float>() + a->B.numel(), b->B.as<float>()));
    }
}

TEST(Trainer, KeepsTheLastCheckpointsAndFullFineTuningWritesAModel) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("trainer_full");
  TrainConfig c = base_config(dir);
  c.method = "full";
  c.lr = 1e-3;
  c.max_steps = 8;
  c.save_every = 2;
  c.keep_last = 2;
  c.frozen_layers = {0, 1};
  c.val_data = {test::write_story_jsonl(dir, 6, "val.jsonl").string()};
  TrainResult r = run_training(c);
  const fs::path out = c.out;
  EXPECT_FALSE(fs::exists(out / "checkpoint-2"));
  EXPECT_FALSE(fs::exists(out / "checkpoint-4"));
  EXPECT_TRUE(fs::exists(out / "checkpoint-6"));
  EXPECT_TRUE(fs::exists(out / "checkpoint-8"));
  // final/ is an HF folder with the tokenizer; the frozen layers are the base's, the others moved.
  EXPECT_TRUE(fs::exists(out / "final" / "config.json"));
  EXPECT_TRUE(fs::exists(out / "final" / "tokenizer.bin"));
  Model base = load_model(c.model), tuned = load_model(r.final_dir);
  auto same = [](const Tensor& a, const Tensor& b) {
    return std::equal(a.as<float>(), a.as<float>() + a.numel(), b.as<float>());
  };
  EXPECT_TRUE(same(base.layers[0].wq, tuned.layers[0].wq));
  EXPECT_TRUE(same(base.layers[1].w_down, tuned.layers[1].w_down));
  EXPECT_FALSE(same(base.layers[2].wq, tuned.layers[2].wq));
  EXPECT_FALSE(same(base.tok_embeddings, tuned.tok_embeddings));
  // Evaluated on its own, the saved model gives the trainer's last validation loss.
  EvalConfig e;
  e.model = r.final_dir;
  e.data = c.val_data;
  e.seq_len = c.seq_len;
  e.batch_size = c.batch_size;
  ASSERT_TRUE(r.val_loss_after.has_value());
  EXPECT_NEAR(run_evaluation(e).loss, *r.val_loss_after, 1e-5);
}

void expect_error_before_training(TrainConfig c, const std::string& needle) {
  try {
    run_training(c);
    ADD_FAILURE() << "expected an Error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(fs::path(c.out) / "metrics.jsonl")) << needle;
}

TEST(Trainer, BadInputFailsBeforeTheFirstStep) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("trainer_bad");
  TrainConfig c = base_config(dir);
  TrainConfig bad = c;
  bad.targets = {"q_proj", "qq_proj"};
  expect_error_before_training(bad, "qq_proj");
  bad = c;
  bad.lora_r = 1000;
  expect_error_before_training(bad, "rank");
  bad = c;
  std::ofstream(dir / "empty.jsonl").flush();
  bad.data = {(dir / "empty.jsonl").string()};
  expect_error_before_training(bad, "empty.jsonl");
  bad = c;
  bad.seq_len = 8;
  expect_error_before_training(bad, "stories.jsonl:1");
  bad = c;
  bad.lr = -1;
  expect_error_before_training(bad, "--lr");
  bad = c;
  bad.eval_every = 5;
  expect_error_before_training(bad, "--eval-every");
  bad = c;
  bad.val_data = {(dir / "empty.jsonl").string()};
  expect_error_before_training(bad, "empty.jsonl");
  bad = c;
  bad.resume = true;
  expect_error_before_training(bad, "no complete checkpoint");
  bad = c;
  bad.method = "full";
  bad.frozen_layers = {7};
  expect_error_before_training(bad, "frozen layer 7");
  bad = c;
  bad.model = (dir / "nope").string();
  expect_error_before_training(bad, "nope");
}

TEST(Trainer, ANewRunRefusesAnOutputFolderWithCheckpoints) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("trainer_reuse");
  TrainConfig c = base_config(dir);
  c.max_steps = 2;
  run_training(c);
  try {
    run_training(c);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
  // Resuming with a setting that changes the computation is refused, naming the setting.
  c.resume = true;
  c.lr = 5e-3;
  try {
    run_training(c);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lr (was 0.01, now 0.005)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tunekit
