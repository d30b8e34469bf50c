// Checkpoint folders: written in a temporary folder and renamed when complete; read back with every
// tensor checked against the run's parameters before any value is copied.
#include "tunekit/train/checkpoint.h"

#include <algorithm>
#include <cstring>

#include "train/checkpoint_folder.h"
#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"
#include "tunekit/io/file_util.h"
#include "tunekit/io/safetensors.h"

namespace tunekit {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "checkpoint-";
constexpr const char* kTrainable = "trainable.safetensors";
constexpr const char* kOptimizer = "optimizer.safetensors";
constexpr const char* kState = "trainer_state.json";

// The step of a folder named checkpoint-<digits>, else -1.
int64_t checkpoint_step(const fs::path& p) {
  const std::string name = p.filename().string();
  const size_t n = std::strlen(kPrefix);
  if (name.size() <= n || name.compare(0, n, kPrefix) != 0 || name.size() - n > 18) return -1;
  for (size_t i = n; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return -1;
  return std::stoll(name.substr(n));
}

// Complete checkpoints (folder name and trainer_state.json present), newest first.
std::vector<std::pair<int64_t, fs::path>> complete_checkpoints(const fs::path& out_dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) return found;
  for (const auto& e : fs::directory_iterator(out_dir)) {
    int64_t step = checkpoint_step(e.path());
    if (step >= 0 && e.is_directory() && fs::is_regular_file(e.path() / kState)) found.push_back({step, e.path()});
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return found;
}

std::optional<double> optional_number(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<double>();
}

std::vector<std::pair<std::string, Tensor>> views(const std::vector<Param>& params, const float* base,
                                                  const std::string& suffix) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const Param& p : params)
    out.push_back({p.name + suffix, Tensor::view(DType::F32, p.shape, base + p.offset, nullptr)});
  return out;
}

// Checks that file holds exactly the tensors <param><suffix> for each suffix, each f32 of its param's shape.
void check_tensors(const TensorFile& file, const fs::path& path, const std::vector<Param>& params,
                   const std::vector<std::string>& suffixes) {
  const size_t want = params.size() * suffixes.size(), have = file.tensors.size() + file.skipped.size();
  check(have == want, path.string(), ": holds ", have, " tensors, expected ", want,
        " (the checkpoint is from a different model, method or adapter config)");
  for (const Param& p : params)
    for (const auto& suffix : suffixes) {
      const std::string name = p.name + suffix;
      check(file.has(name), path.string(), ": no tensor '", name, "' (the checkpoint is from a different run)");
      const Tensor& t = file.get(name);
      check(t.dtype == DType::F32 && t.shape == p.shape, path.string(), ": tensor '", name, "' is ",
            dtype_name(t.dtype), " ", t.shape_str(), ", expected f32 with ", p.numel, " values");
    }
}

// Copies the (checked) tensors <param><suffix> into dst in the flat layout of params.
void copy_tensors(const TensorFile& file, const std::vector<Param>& params, const std::string& suffix, float* dst) {
  for (const Param& p : params) {
    const float* src = file.get(p.name + suffix).as<float>();
    std::copy(src, src + p.numel, dst + p.offset);
  }
}

}  // namespace

nlohmann::json to_json(const TrainerState& s) {
  auto opt = [](const std::optional<double>& x) { return x ? nlohmann::json(*x) : nlohmann::json(nullptr); };
  return {{"step", s.step},
          {"data_epoch", s.data.epoch},
          {"data_index", s.data.index},
          {"data_fingerprint", s.data_fingerprint},
          {"seed", s.seed},
          {"best_val_loss", opt(s.best_val_loss)},
          {"val_loss_before", opt(s.val_loss_before)},
          {"last_val_loss", opt(s.last_val_loss)},
          {"best_step", s.best_step},
          {"evals_since_best", s.evals_since_best},
          {"skipped_steps", s.skipped_steps},
          {"tokens_seen", s.tokens_seen},
          {"elapsed_s", s.elapsed_s}};
}

TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& origin) {
  try {
    TrainerState s;
    s.step = j.at("step").get<int64_t>();
    s.data.epoch = j.at("data_epoch").get<int64_t>();
    s.data.index = j.at("data_index").get<int64_t>();
    s.data_fingerprint = j.at("data_fingerprint").get<uint64_t>();
    s.seed = j.at("seed").get<uint64_t>();
    s.best_val_loss = optional_number(j, "best_val_loss");
    s.val_loss_before = optional_number(j, "val_loss_before");
    s.last_val_loss = optional_number(j, "last_val_loss");
    s.best_step = j.at("best_step").get<int64_t>();
    s.evals_since_best = j.at("evals_since_best").get<int64_t>();
    s.skipped_steps = j.at("skipped_steps").get<int64_t>();
    s.tokens_seen = j.at("tokens_seen").get<int64_t>();
    s.elapsed_s = j.at("elapsed_s").get<double>();
    check(s.step >= 0 && s.data.epoch >= 0 && s.data.index >= 0, "negative step or data position");
    return s;
  } catch (const nlohmann::json::exception& e) {
    fail(origin, ": bad trainer state (", e.what(), ")");
  } catch (const Error& e) {
    fail(origin, ": bad trainer state (", e.what(), ")");
  }
}

fs::path save_checkpoint(const fs::path& out_dir, const std::vector<Param>& params, const float* values,
                         const AdamW& optimizer, const TrainerState& state, const nlohmann::json& config,
                         const std::function<void(const std::string&)>& after_file) {
  const fs::path dir = out_dir / (kPrefix + std::to_string(state.step));
  train::write_folder_atomic(dir, [&](const fs::path& temp) {
    write_safetensors(temp / kTrainable, views(params, values, ""));
    if (after_file) after_file(kTrainable);
    auto moments = views(params, optimizer.m().data(), ".exp_avg");
    for (auto& t : views(params, optimizer.v().data(), ".exp_avg_sq")) moments.push_back(std::move(t));
    write_safetensors(temp / kOptimizer, moments, {{"step", std::to_string(optimizer.steps_taken())}});
    if (after_file) after_file(kOptimizer);
    nlohmann::json j = {{"format", "tunekit-checkpoint"}, {"version", 1}, {"state", to_json(state)}, {"config", config}};
    write_file_atomic(temp / kState, j.dump(2) + "\n");
    if (after_file) after_file(kState);
  });
  return dir;
}

std::optional<fs::path> latest_checkpoint(const fs::path& out_dir) {
  auto found = complete_checkpoints(out_dir);
  if (found.empty()) return std::nullopt;
  return found.front().second;
}

void remove_partial_checkpoints(const fs::path& out_dir) {
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) return;
  std::vector<fs::path> partial;
  for (const auto& e : fs::directory_iterator(out_dir)) {
    const std::string n = e.path().filename().string();
    if (train::is_partial_folder_name(n)) partial.push_back(e.path());
  }
  for (const auto& p : partial) fs::remove_all(p);
}

std::vector<fs::path> prune_checkpoints(const fs::path& out_dir, int64_t keep_last) {
  check(keep_last >= 1, "keep_last must be at least 1 (got ", keep_last, ")");
  auto found = complete_checkpoints(out_dir);
  std::vector<fs::path> removed;
  for (size_t i = size_t(keep_last); i < found.size(); ++i) {
    fs::remove_all(found[i].second);
    removed.push_back(found[i].second);
  }
  return removed;
}

LoadedCheckpoint load_checkpoint(const fs::path& dir, const std::vector<Param>& params, float* values,
                                 int64_t n_values) {
  LoadedCheckpoint out;
  const nlohmann::json j = read_json_file(dir / kState);
  const std::string origin = (dir / kState).string();
  check(j.is_object() && j.contains("format") && j["format"] == "tunekit-checkpoint" && j.contains("state") &&
            j.contains("config"),
        origin, ": not a tunekit checkpoint (missing format, state or config)");
  out.state = trainer_state_from_json(j["state"], origin);
  out.config = j["config"];
  int64_t total = 0;
  for (const Param& p : params) total = std::max(total, p.offset + p.numel);
  check(total <= n_values, dir.string(), ": parameters span ", total, " values, the buffer has ", n_values);

  const TensorFile trainable = read_safetensors(dir / kTrainable);
  const TensorFile moments = read_safetensors(dir / kOptimizer);
  check(moments.metadata.count("step") != 0, (dir / kOptimizer).string(), ": no 'step' in the metadata");
  try {
    out.adam_steps = std::stoll(moments.metadata.at("step"));
  } catch (const std::exception&) {
    fail((dir / kOptimizer).string(), ": metadata 'step' is not an integer");
  }
  check(out.adam_steps >= 0, (dir / kOptimizer).string(), ": negative optimizer step");
  // Check everything, then copy: a bad checkpoint leaves values untouched.
  check_tensors(trainable, dir / kTrainable, params, {""});
  check_tensors(moments, dir / kOptimizer, params, {".exp_avg", ".exp_avg_sq"});
  out.m.assign(size_t(n_values), 0.0f);
  out.v.assign(size_t(n_values), 0.0f);
  copy_tensors(moments, params, ".exp_avg", out.m.data());
  copy_tensors(moments, params, ".exp_avg_sq", out.v.data());
  copy_tensors(trainable, params, "", values);
  return out;
}

}  // namespace tunekit
