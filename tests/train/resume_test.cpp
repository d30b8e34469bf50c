// Exact resume in-process: a run of N steps, and the same run stopped at a checkpoint (the later
// checkpoints, outputs and metrics removed as a killed process would leave them) and resumed,
// give bit-identical per-step losses, gradient norms and final adapters on one thread.
// (tests/cli/train_cli_test.cpp does the same with a SIGKILLed CLI.)
#include <gtest/gtest.h>

#include "trainer_test_util.h"
#include "tunekit/io/file_util.h"
#include "tunekit/train/checkpoint.h"
#include "tunekit/train/trainer.h"

namespace tunekit {
namespace {

namespace fs = std::filesystem;

TEST(Resume, ContinuesBitExactly) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("resume_exact");
  TrainConfig c;
  c.model = test::stories260k().string();
  c.data = {test::write_story_jsonl(dir, 40).string()};
  c.seq_len = 48;
  c.batch_size = 2;
  c.grad_accum = 2;
  c.max_steps = 12;  // several epochs of this small set: the resume crosses epoch boundaries
  c.lr = 5e-3;
  c.warmup_steps = 3;
  c.lora_dropout = 0.1;  // dropout masks must repeat too
  c.targets = {"q_proj", "v_proj", "down_proj"};
  c.val_fraction = 0.1;
  c.eval_every = 4;
  c.save_every = 4;
  c.keep_last = 5;
  c.threads = 1;
  c.out = (dir / "whole").string();
  TrainResult whole = run_training(c);

  c.out = (dir / "cut").string();
  run_training(c);
  // As if killed during step 7: checkpoint-8 and later and the outputs never happened; metrics has
  // records past the checkpoint (steps 5-7) and a torn line.
  const fs::path cut = c.out;
  fs::remove_all(cut / "checkpoint-8");
  fs::remove_all(cut / "checkpoint-12");
  fs::remove_all(cut / "final");
  auto records = read_metrics_jsonl(cut / "metrics.jsonl");
  std::string kept;
  for (const auto& m : records)
    if (m.step <= 7) kept += to_json(m).dump() + "\n";
  kept += "{\"step\": 8, \"lo";
  std::ofstream(cut / "metrics.jsonl", std::ios::trunc) << kept;
  ASSERT_EQ(latest_checkpoint(cut), cut / "checkpoint-4");

  c.resume = true;
  c.save_every = 0;  // may differ on resume
  TrainPlan plan;
  TrainCallbacks cb;
  cb.on_start = [&](const TrainPlan& p) { plan = p; };
  TrainResult resumed = run_training(c, cb);
  EXPECT_EQ(plan.start_step, 4);
  EXPECT_EQ(plan.resumed_from, (cut / "checkpoint-4").string());

  auto a = read_metrics_jsonl(whole.metrics_path), b = read_metrics_jsonl(resumed.metrics_path);
  ASSERT_EQ(a.size(), 13u);  // step 0 (validation before training) and 12 steps
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].step, b[i].step);
    if (i > 0) {
      EXPECT_EQ(a[i].loss, b[i].loss) << "step " << a[i].step;
      EXPECT_EQ(a[i].grad_norm, b[i].grad_norm) << "step " << a[i].step;
      EXPECT_EQ(a[i].lr, b[i].lr) << "step " << a[i].step;
    }
    EXPECT_EQ(a[i].val_loss, b[i].val_loss) << "step " << a[i].step;
  }
  EXPECT_EQ(whole.best_val_loss, resumed.best_val_loss);
  EXPECT_EQ(whole.best_step, resumed.best_step);
  EXPECT_EQ(read_text_file(fs::path(whole.final_dir) / "adapter_model.safetensors"),
            read_text_file(fs::path(resumed.final_dir) / "adapter_model.safetensors"));
}

TEST(Resume, AFinishedRunHasNothingLeftToDo) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("resume_done");
  TrainConfig c;
  c.model = test::stories260k().string();
  c.data = {test::write_story_jsonl(dir, 20).string()};
  c.seq_len = 48;
  c.max_steps = 3;
  c.threads = 1;
  c.out = (dir / "out").string();
  TrainResult first = run_training(c);
  c.resume = true;
  int steps = 0;
  TrainCallbacks cb;
  cb.on_step = [&](const StepMetrics&) { ++steps; };
  TrainResult again = run_training(c, cb);
  EXPECT_EQ(steps, 0);
  EXPECT_EQ(again.steps, 3);
  EXPECT_EQ(again.final_loss, first.final_loss);
  EXPECT_EQ(read_metrics_jsonl(again.metrics_path).size(), 3u);
}

}  // namespace
}  // namespace tunekit
