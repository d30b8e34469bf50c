// Checkpoint folders: exact round trip, newest-complete selection, leftovers of killed writes,
// pruning, and every mismatch or corruption refused before any value is touched.
#include <gtest/gtest.h>

#include <fstream>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/train/checkpoint.h"

namespace tunekit {
namespace {

namespace fs = std::filesystem;

std::vector<Param> make_params() {
  std::vector<Param> ps(2);
  ps[0].name = "layers.0.lora_A.weight";
  ps[0].shape = {2, 3};
  ps[0].numel = 6;
  ps[1].name = "layers.0.lora_B.weight";
  ps[1].shape = {3, 2};
  ps[1].offset = 6;
  ps[1].numel = 6;
  ps[1].decay = false;
  return ps;
}

struct Fixture {
  std::vector<Param> params = make_params();
  std::vector<float> values;
  AdamW opt{12, {}};
  TrainerState state;
  nlohmann::json config = {{"lr", 0.001}, {"model", "m"}};

  explicit Fixture(int64_t step) {
    for (int i = 0; i < 12; ++i) values.push_back(0.1f * float(i) - 0.3f);
    std::vector<float> grads(12);
    for (int i = 0; i < 12; ++i) grads[size_t(i)] = 0.05f * float(i % 5) - 0.1f;
    for (int s = 0; s < 3; ++s) opt.step(values.data(), grads.data(), params, 1e-2);
    state.step = step;
    state.data = {1, 7};
    state.data_fingerprint = 0xDEADBEEFCAFEF00Dull;
    state.seed = 99;
    state.best_val_loss = 2.5;
    state.val_loss_before = 3.25;
    state.best_step = step - 1;
    state.evals_since_best = 1;
    state.skipped_steps = 2;
    state.tokens_seen = 12345;
    state.elapsed_s = 1.5;
  }
  fs::path save(const fs::path& out) { return save_checkpoint(out, params, values.data(), opt, state, config); }
};

TEST(Checkpoint, RoundTripIsExact) {
  auto out = test::temp_dir("ckpt_roundtrip");
  Fixture f(5);
  std::vector<std::string> files;
  fs::path dir = save_checkpoint(out, f.params, f.values.data(), f.opt, f.state, f.config,
                                 [&](const std::string& file) { files.push_back(file); });
  EXPECT_EQ(dir, out / "checkpoint-5");
  EXPECT_EQ(files, (std::vector<std::string>{"trainable.safetensors", "optimizer.safetensors", "trainer_state.json"}));
  std::vector<float> values(12, 0.0f);
  LoadedCheckpoint ck = load_checkpoint(dir, f.params, values.data(), 12);
  EXPECT_EQ(values, f.values);
  EXPECT_EQ(ck.m, f.opt.m());
  EXPECT_EQ(ck.v, f.opt.v());
  EXPECT_EQ(ck.adam_steps, 3);
  EXPECT_EQ(ck.config, f.config);
  EXPECT_EQ(ck.state.step, 5);
  EXPECT_EQ(ck.state.data, (BatchPosition{1, 7}));
  EXPECT_EQ(ck.state.data_fingerprint, 0xDEADBEEFCAFEF00Dull);
  EXPECT_EQ(ck.state.seed, 99u);
  EXPECT_EQ(ck.state.best_val_loss, 2.5);
  EXPECT_EQ(ck.state.val_loss_before, 3.25);
  EXPECT_FALSE(ck.state.last_val_loss.has_value());
  EXPECT_EQ(ck.state.best_step, 4);
  EXPECT_EQ(ck.state.evals_since_best, 1);
  EXPECT_EQ(ck.state.skipped_steps, 2);
  EXPECT_EQ(ck.state.tokens_seen, 12345);
  EXPECT_EQ(ck.state.elapsed_s, 1.5);
}

TEST(Checkpoint, LatestIsTheHighestCompleteStep) {
  auto out = test::temp_dir("ckpt_latest");
  EXPECT_FALSE(latest_checkpoint(out).has_value());
  EXPECT_FALSE(latest_checkpoint(out / "missing").has_value());
  Fixture(9).save(out);
  Fixture(10).save(out);
  EXPECT_EQ(latest_checkpoint(out), out / "checkpoint-10");  // numeric, not lexical order
  // A killed write: a hidden temporary folder, and a folder without its state file, are not checkpoints.
  fs::create_directories(out / ".checkpoint-11.tmp-123");
  std::ofstream(out / ".checkpoint-11.tmp-123" / "trainable.safetensors") << "partial";
  fs::create_directories(out / "checkpoint-12");
  fs::create_directories(out / "checkpoint-x13");
  EXPECT_EQ(latest_checkpoint(out), out / "checkpoint-10");
  remove_partial_checkpoints(out);
  EXPECT_FALSE(fs::exists(out / ".checkpoint-11.tmp-123"));
  EXPECT_TRUE(fs::exists(out / "checkpoint-10"));
}

TEST(Checkpoint, SavingTheSameStepAgainReplacesIt) {
  auto out = test::temp_dir("ckpt_replace");
  Fixture a(4);
  a.save(out);
  Fixture b(4);
  b.values[0] = 42.0f;
  b.save(out);
  std::vector<float> values(12);
  load_checkpoint(out / "checkpoint-4", b.params, values.data(), 12);
  EXPECT_EQ(values[0], 42.0f);
  for (const auto& e : fs::directory_iterator(out)) EXPECT_EQ(e.path().filename(), "checkpoint-4");
}

TEST(Checkpoint, PruneKeepsTheNewest) {
  auto out = test::temp_dir("ckpt_prune");
  for (int s : {2, 4, 6, 8}) Fixture(s).save(out);
  auto removed = prune_checkpoints(out, 2);
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_FALSE(fs::exists(out / "checkpoint-2"));
  EXPECT_FALSE(fs::exists(out / "checkpoint-4"));
  EXPECT_TRUE(fs::exists(out / "checkpoint-6"));
  EXPECT_TRUE(fs::exists(out / "checkpoint-8"));
  EXPECT_THROW(prune_checkpoints(out, 0), Error);
}

void expect_refused(const fs::path& dir, const std::vector<Param>& params, const std::string& needle) {
  std::vector<float> values(12, 7.0f);
  try {
    load_checkpoint(dir, params, values.data(), 12);
    FAIL() << "expected an Error mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  for (float v : values) EXPECT_EQ(v, 7.0f);  // nothing copied
}

TEST(Checkpoint, RefusesOtherParameters) {
  auto out = test::temp_dir("ckpt_mismatch");
  fs::path dir = Fixture(3).save(out);
  auto renamed = make_params();
  renamed[1].name = "layers.1.lora_B.weight";
  expect_refused(dir, renamed, "layers.1.lora_B.weight");
  auto reshaped = make_params();
  reshaped[0].shape = {3, 2};
  expect_refused(dir, reshaped, "lora_A.weight");
  auto fewer = make_params();
  fewer.pop_back();
  expect_refused(dir, fewer, "expected 1");
}

TEST(Checkpoint, RefusesDamagedFiles) {
  auto out = test::temp_dir("ckpt_damaged");
  fs::path dir = Fixture(3).save(out);
  auto params = make_params();
  // trainer_state.json without a field.
  auto state = nlohmann::json::parse(std::ifstream(dir / "trainer_state.json"));
  state["state"].erase("data_index");
  std::ofstream(dir / "trainer_state.json") << state.dump();
  expect_refused(dir, params, "data_index");
  // Not a checkpoint at all.
  std::ofstream(dir / "trainer_state.json") << "{\"hello\": 1}";
  expect_refused(dir, params, "not a tunekit checkpoint");
  std::ofstream(dir / "trainer_state.json") << "{\"format\": 3, \"state\": {}, \"config\": {}}";  // not a string
  expect_refused(dir, params, "not a tunekit checkpoint");
  // A truncated tensor file.
  fs::path dir2 = Fixture(4).save(out);
  fs::resize_file(dir2 / "optimizer.safetensors", fs::file_size(dir2 / "optimizer.safetensors") - 8);
  expect_refused(dir2, params, "optimizer.safetensors");
  fs::path dir3 = Fixture(5).save(out);
  fs::remove(dir3 / "trainable.safetensors");
  expect_refused(dir3, params, "trainable.safetensors");
}

}  // namespace
}  // namespace tunekit
