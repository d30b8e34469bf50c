// tunekit train / eval from the command line: YAML + key=value + flag precedence, unknown names,
// plain progress lines, and exact resume after SIGKILL, both between checkpoints and in the middle
// of writing one (TUNEKIT_TEST_CHECKPOINT_PAUSE_MS holds the writer after its first file).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>

#include "cli_runner.h"
#include "test_paths.h"
#include "train/trainer_test_util.h"
#include "tunekit/io/file_util.h"
#include "tunekit/rag/document.h"
#include "tunekit/train/checkpoint.h"
#include "tunekit/train/report.h"

namespace tunekit {
namespace {

namespace fs = std::filesystem;

// 400 story lines packed into rows of 256: about six micro-batches of 8 rows per epoch, ~50 ms a step.
std::vector<std::string> run_args(const fs::path& data, const fs::path& out, int threads) {
  return {"train", "--model", test::stories260k().string(), "--data", data.string(), "--out", out.string(),
          "--seq-len", "256", "--batch-size", "8", "--max-steps", "24", "--save-every", "6", "--keep-last", "10",
          "--lr", "5e-3", "--warmup", "4", "--lora-dropout", "0.05", "--val-fraction", "0.05", "--eval-every", "6",
          "--threads", std::to_string(threads), "--log-format", "plain"};
}

// Starts the CLI with args (stdout/stderr to files in dir), extra environment variables set.
pid_t spawn_cli(const std::vector<std::string>& args, const fs::path& dir,
                const std::vector<std::pair<std::string, std::string>>& env = {}) {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (!std::freopen((dir / "spawn.out").c_str(), "w", stdout) || !std::freopen((dir / "spawn.err").c_str(), "w", stderr))
      ::_exit(126);
    std::vector<char*> argv;
    std::string exe = test::cli_path().string();
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Polls until ready() or the child exits or 120 s pass; then sends it sig and waits for it. Returns
// its wait status, or nullopt when ready() never held (the child finished first, or time ran out).
std::optional<int> signal_when(pid_t pid, int sig, const std::function<bool()>& ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool ok = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if ((ok = ready())) break;
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) return std::nullopt;  // finished before the moment came
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, ok ? sig : SIGKILL);
  int status;
  ::waitpid(pid, &status, 0);
  return ok ? std::optional<int>(status) : std::nullopt;
}

// signal_when with SIGKILL. Returns whether ready() held and SIGKILL ended the child.
bool kill_when(pid_t pid, const std::function<bool()>& ready) {
  const std::optional<int> status = signal_when(pid, SIGKILL, ready);
  return status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL;
}

int64_t last_step(const fs::path& metrics) {
  if (!fs::exists(metrics)) return -1;
  auto records = read_metrics_jsonl(metrics);
  return records.empty() ? -1 : records.back().step;
}

void expect_same_run(const fs::path& a, const fs::path& b) {
  auto ma = read_metrics_jsonl(a / "metrics.jsonl"), mb = read_metrics_jsonl(b / "metrics.jsonl");
  ASSERT_EQ(ma.size(), 25u);  // step 0 (validation before training) + 24 steps
  ASSERT_EQ(mb.size(), ma.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    EXPECT_EQ(ma[i].step, mb[i].step);
    if (i > 0) {
      EXPECT_EQ(ma[i].loss, mb[i].loss) << "step " << ma[i].step;  // bit-exact
      EXPECT_EQ(ma[i].grad_norm, mb[i].grad_norm) << "step " << ma[i].step;
    }
    EXPECT_EQ(ma[i].val_loss, mb[i].val_loss) << "step " << ma[i].step;
  }
  EXPECT_EQ(read_text_file(a / "final" / "adapter_model.safetensors"),
            read_text_file(b / "final" / "adapter_model.safetensors"));
}

// Every checkpoint folder that is visible is complete and loadable; nothing half-written is visible.
void expect_no_corrupt_checkpoint(const fs::path& out) {
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0) continue;
    for (const char* f : {"trainable.safetensors", "optimizer.safetensors", "trainer_state.json"})
      EXPECT_TRUE(fs::exists(e.path() / f)) << e.path() / f;
  }
}

void kill_and_resume(int threads, bool during_checkpoint_write) {
  const std::string tag = std::string(during_checkpoint_write ? "kill_write" : "kill_step") + std::to_string(threads);
  auto dir = test::temp_dir("train_cli_" + tag);
  const fs::path whole = dir / "whole", cut = dir / "cut", data = test::write_story_jsonl(dir, 400);
  auto r = test::run_cli(run_args(data, whole, threads));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  if (during_checkpoint_write) {
    // checkpoint-6 completes (after a pause), then the process is killed while checkpoint-12 has
    // only its first file in the temporary folder.
    pid_t pid = spawn_cli(run_args(data, cut, threads), dir, {{"TUNEKIT_TEST_CHECKPOINT_PAUSE_MS", "1500"}});
    ASSERT_TRUE(kill_when(pid, [&] {
      if (!fs::exists(cut / "checkpoint-6")) return false;
      for (const auto& e : fs::directory_iterator(cut))
        if (e.path().filename().string().rfind(".checkpoint-12.tmp-", 0) == 0 &&
            fs::exists(e.path() / "trainable.safetensors"))
          return true;
      return false;
    })) << "the run ended before the moment to kill it";
    EXPECT_FALSE(fs::exists(cut / "checkpoint-12"));
  } else {
    pid_t pid = spawn_cli(run_args(data, cut, threads), dir);
    ASSERT_TRUE(kill_when(pid, [&] { return last_step(cut / "metrics.jsonl") >= 15; }))
        << "the run ended before the moment to kill it";
  }
  expect_no_corrupt_checkpoint(cut);
  auto latest = latest_checkpoint(cut);
  ASSERT_TRUE(latest.has_value());
  EXPECT_FALSE(fs::exists(cut / "final"));

  auto args = run_args(data, cut, threads);
  args.push_back("--resume");
  r = test::run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming from " + latest->string()), std::string::npos) << r.err;
  for (const auto& e : fs::directory_iterator(cut))  // the killed writer's temporary folder is gone
    EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
  expect_same_run(whole, cut);
}

// SIGTERM (as Ctrl-C's SIGINT) mid-run: the run stops after the current step, saves it as a
// checkpoint, writes the report but no final/, and exits 128 + 15; --resume then gives exactly the
// uninterrupted run.
TEST(TrainCli, SigtermSavesTheStepAndResumeIsExact) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("train_cli_sigterm");
  const fs::path whole = dir / "whole", cut = dir / "cut", data = test::write_story_jsonl(dir, 400);
  auto r = test::run_cli(run_args(data, whole, 1));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  pid_t pid = spawn_cli(run_args(data, cut, 1), dir);
  const std::optional<int> status = signal_when(pid, SIGTERM, [&] { return last_step(cut / "metrics.jsonl") >= 8; });
  ASSERT_TRUE(status.has_value()) << "the run ended before the moment to stop it";
  ASSERT_TRUE(WIFEXITED(*status)) << "ended by signal " << (WIFSIGNALED(*status) ? WTERMSIG(*status) : -1)
                                  << ", not by its own exit; stderr:\n" << read_text_file(dir / "spawn.err");
  EXPECT_EQ(WEXITSTATUS(*status), 128 + SIGTERM);
  const int64_t stopped_at = last_step(cut / "metrics.jsonl");
  EXPECT_GE(stopped_at, 8);
  EXPECT_LT(stopped_at, 24);
  const std::string err = read_text_file(dir / "spawn.err");
  EXPECT_NE(err.find("interrupted after step " + std::to_string(stopped_at) + " of 24"), std::string::npos) << err;
  EXPECT_EQ(latest_checkpoint(cut), cut / ("checkpoint-" + std::to_string(stopped_at)));
  EXPECT_FALSE(fs::exists(cut / "final"));
  EXPECT_TRUE(fs::exists(cut / "report.html"));
  expect_no_corrupt_checkpoint(cut);

  auto args = run_args(data, cut, 1);
  args.push_back("--resume");
  r = test::run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_run(whole, cut);
}

TEST(TrainCli, KillNineBetweenCheckpointsThenResumeIsExact) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  kill_and_resume(1, false);
}

TEST(TrainCli, KillNineDuringACheckpointWriteThenResumeIsExact) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  kill_and_resume(1, true);
}

// The pool's reductions have a fixed order, so two threads resume exactly as well.
TEST(TrainCli, KillNineOnTwoThreadsThenResumeIsExact) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  kill_and_resume(2, false);
}

// A crash (here a SIGSEGV sent to a running train) prints the signal and a backtrace that names
// our functions, and the process still dies of that signal. Sanitized builds keep the sanitizer's
// own report instead.
TEST(TrainCli, ACrashPrintsABacktraceAndDiesOfTheSignal) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizer reports crashes in this build";
#endif
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("train_cli_crash");
  const fs::path out = dir / "out", data = test::write_story_jsonl(dir, 400);
  pid_t pid = spawn_cli(run_args(data, out, 1), dir);
  const std::optional<int> status = signal_when(pid, SIGSEGV, [&] { return last_step(out / "metrics.jsonl") >= 2; });
  ASSERT_TRUE(status.has_value()) << "the run ended before the moment to crash it";
  ASSERT_TRUE(WIFSIGNALED(*status)) << "exit status " << WEXITSTATUS(*status);
  EXPECT_EQ(WTERMSIG(*status), SIGSEGV);
  const std::string err = read_text_file(dir / "spawn.err");
  EXPECT_NE(err.find("tunekit: fatal signal SEGV (Segmentation fault); backtrace"), std::string::npos) << err;
  EXPECT_NE(err.find("tunekit"), err.rfind("tunekit")) << err;  // frames follow the message
  EXPECT_NE(err.find("(main+"), std::string::npos) << err;  // a frame in main, not a path with "main" in it
}

TEST(TrainCli, FlagsAndKeyValueOverrideYaml) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("train_cli_yaml");
  const fs::path data = test::write_story_jsonl(dir, 30);
  std::ofstream(dir / "run.yaml") << "model: " << test::stories260k().string() << "\n"
                                  << "data: [" << data.string() << "]\n"
                                  << "seq_len: 64\nmax-steps: 5\nlr: 0.5\nlora_r: 4\npacking: false\n"
                                  << "target: [q_proj, k_proj]\nlog_format: none\n";
  const fs::path out = dir / "out";
  auto r = test::run_cli({"train", "--config", (dir / "run.yaml").string(), "--out", out.string(), "lr=0.01",
                          "--max-steps", "3", "max_steps=4", "warmup_steps=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // log_format none
  EXPECT_NE(r.out.find("steps            3 (0 skipped)"), std::string::npos) << r.out;
  auto state = read_json_file(out / "checkpoint-3" / "trainer_state.json");
  const auto& c = state["config"];
  EXPECT_EQ(c["lr"], 0.01);         // key=value over YAML
  EXPECT_EQ(c["max_steps"], 3);     // flag over key=value and YAML
  EXPECT_EQ(c["warmup_steps"], 1);  // key=value over the default
  EXPECT_EQ(c["lora_r"], 4);        // YAML over the default
  EXPECT_EQ(c["packing"], false);
  EXPECT_EQ(c["targets"], nlohmann::json({"q_proj", "k_proj"}));
  EXPECT_EQ(c["seq_len"], 64);
  EXPECT_EQ(c["lora_alpha"], 16.0);  // default
}

TEST(TrainCli, UnknownNamesAreErrors) {
  auto dir = test::temp_dir("train_cli_unknown");
  std::ofstream(dir / "run.yaml") << "model: m\nlearning_rate: 0.1\nlr: 0.1\nbatchsize: 3\n";
  auto r = test::run_cli({"train", "--config", (dir / "run.yaml").string(), "--out", (dir / "o").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("run.yaml:2: unknown setting 'learning_rate'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("run.yaml:4: unknown setting 'batchsize'"), std::string::npos) << r.err;
  r = test::run_cli({"train", "--model", "m", "lora_rank=3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown setting 'lora_rank'"), std::string::npos) << r.err;
  r = test::run_cli({"train", "--model", "m", "--lora-rank", "3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--lora-rank"), std::string::npos) << r.err;
  std::ofstream(dir / "bad.yaml") << "lr: [0.1\n";
  r = test::run_cli({"train", "--config", (dir / "bad.yaml").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.yaml: not valid YAML"), std::string::npos) << r.err;
  r = test::run_cli({"train", "--model", "m", "lr=abc"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("lr=abc: bad value for --lr"), std::string::npos) << r.err;
  std::ofstream(dir / "value.yaml") << "seq_len: long\n";
  r = test::run_cli({"train", "--config", (dir / "value.yaml").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("value.yaml:1: bad value for --seq-len"), std::string::npos) << r.err;
  r = test::run_cli({"train", "--data", "d.jsonl", "--out", "o"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--model is required"), std::string::npos) << r.err;
}

// YAML that parses but is no list of settings, and config paths that are no readable file: an error
// naming the file (and line), never yaml-cpp's or the stream's own exception.
TEST(TrainCli, YamlThatIsNotSettingsIsReportedWithFileAndLine) {
  auto dir = test::temp_dir("train_cli_yaml_shapes");
  struct Case {
    const char *file, *text, *expected;
  };
  const Case cases[] = {
      {"key.yaml", "lr: 0.1\n? [a, b]\n: 1\n", "key.yaml:2: a setting's name must be plain text"},
      {"nested.yaml", "targets: [[q_proj, k_proj], v_proj]\n", "nested.yaml:1: 'targets' must be a list of plain values"},
      {"alias.yaml", "lr: &x [*x]\n", "alias.yaml:1: 'lr' must be a list of plain values"},
  };
  for (const Case& c : cases) {
    std::ofstream(dir / c.file) << c.text;
    auto r = test::run_cli({"train", "--config", (dir / c.file).string()});
    EXPECT_EQ(r.exit_code, 1) << c.file;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  }
  auto r = test::run_cli({"train", "--config", (dir / "missing.yaml").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.yaml: cannot open"), std::string::npos) << r.err;
  r = test::run_cli({"train", "--config", dir.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(": is a folder, not a file"), std::string::npos) << r.err;
}

TEST(TrainCli, PlainProgressLinesAndEvalVerb) {
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("train_cli_plain");
  const fs::path data = test::write_story_jsonl(dir, 30), out = dir / "out";
  auto r = test::run_cli({"train", "--model", test::stories260k().string(), "--data", data.string(), "--out",
                          out.string(), "--seq-len", "64", "--max-steps", "4", "--val-fraction", "0.2", "--lr", "1e-2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // stderr is a file here: plain lines (the first and the last step at least), no carriage returns.
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  EXPECT_NE(r.err.find("1/4  25% | loss "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("4/4 100% | loss "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("RSS"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("val before"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("val after"), std::string::npos) << r.out;
  // tunekit eval: the base, then the base with the trained adapter, on the training file.
  auto before = test::run_cli({"eval", "--model", test::stories260k().string(), "--data", data.string(),
                               "--seq-len", "64", "--json"});
  auto after = test::run_cli({"eval", "--model", test::stories260k().string(), "--adapter", (out / "final").string(),
                              "--data", data.string(), "--seq-len", "64", "--json"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_NE(before.err.find(" 100% | loss "), std::string::npos) << before.err;  // progress on stderr, JSON on stdout
  auto jb = nlohmann::json::parse(before.out), ja = nlohmann::json::parse(after.out);
  EXPECT_LT(ja["loss"].get<double>(), jb["loss"].get<double>());
  EXPECT_NEAR(jb["perplexity"].get<double>(), std::exp(jb["loss"].get<double>()), 1e-9);
}

// A PDF as training or evaluation data goes through the knowledge base's reader: eval on the PDF
// equals eval on its text (rag::read_document) saved as .txt, and continued pre-training on it
// lowers that loss.
TEST(TrainCli, PdfDataIsItsReadersText) {
  TUNEKIT_REQUIRE_SHARED("data/docs/niddk-eating-and-diabetes.pdf");
  TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto dir = test::temp_dir("train_cli_pdf");
  const fs::path pdf = test::shared_dir() / "data/docs/niddk-eating-and-diabetes.pdf", txt = dir / "niddk.txt";
  std::ofstream(txt, std::ios::binary) << rag::read_document(pdf).text;
  auto eval = [&](const fs::path& data, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"eval", "--model", test::stories260k().string(), "--data", data.string(),
                                     "--seq-len", "256", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = test::run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
  };
  const nlohmann::json on_pdf = eval(pdf), on_txt = eval(txt);
  ASSERT_FALSE(on_pdf.is_null());
  EXPECT_EQ(on_pdf["loss"], on_txt["loss"]);
  EXPECT_EQ(on_pdf["samples"], on_txt["samples"]);

  const fs::path out = dir / "out";
  auto r = test::run_cli({"train", "--model", test::stories260k().string(), "--data", pdf.string(), "--out",
                          out.string(), "--seq-len", "256", "--max-steps", "10", "--lr", "2e-3", "--target", "all-linear",
                          "--log-format", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json trained = eval(pdf, {"--adapter", (out / "final").string()});
  EXPECT_LT(trained["loss"].get<double>(), on_pdf["loss"].get<double>() - 0.5);
}

}  // namespace
}  // namespace tunekit
