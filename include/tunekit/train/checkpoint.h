// Training checkpoints: everything needed to continue a run exactly where it stopped.
//
//   <out>/checkpoint-<step>/trainable.safetensors   the trained values, one tensor per Param (f32)
//   <out>/checkpoint-<step>/optimizer.safetensors   AdamW m and v per Param ("<name>.exp_avg",
//                                                   "<name>.exp_avg_sq"), metadata "step" = t
//   <out>/checkpoint-<step>/trainer_state.json      TrainerState and the run's config
//
// A checkpoint is built in a hidden temporary folder beside the others (each file and the folder
// fsync'ed), which is renamed to checkpoint-<step> only when complete (then the parent folder is
// fsync'ed): a process killed at any moment leaves the previous checkpoints intact and never a half
// folder under that name.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunekit/train/data.h"
#include "tunekit/train/optimizer.h"
#include "tunekit/train/trainable.h"

namespace tunekit {

struct TrainerState {
  int64_t step = 0;                 // optimizer steps done
  BatchPosition data;               // the next training micro-batch
  uint64_t data_fingerprint = 0;    // BatchIterator::fingerprint() of the run's data and options
  uint64_t seed = 0;                // dropout masks derive from (seed, step, micro-batch)
  std::optional<double> best_val_loss, val_loss_before, last_val_loss;
  int64_t best_step = 0;
  int64_t evals_since_best = 0;     // for early stopping
  int64_t skipped_steps = 0;
  int64_t tokens_seen = 0;
  double elapsed_s = 0;             // training time of the runs so far
};

nlohmann::json to_json(const TrainerState& s);
TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& origin);

// Writes <out_dir>/checkpoint-<state.step> as described above and returns its path. An existing
// folder of that name is replaced (after the new one is complete). after_file (optional) is called
// with each file name once it is in the temporary folder.
std::filesystem::path save_checkpoint(const std::filesystem::path& out_dir, const std::vector<Param>& params,
                                      const float* values, const AdamW& optimizer, const TrainerState& state,
                                      const nlohmann::json& config,
                                      const std::function<void(const std::string&)>& after_file = {});

// The complete checkpoint with the highest step in out_dir, if any (temporary folders are ignored).
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& out_dir);
// Removes the hidden temporary folders that interrupted writes (checkpoints, best/, final/) left in out_dir.
void remove_partial_checkpoints(const std::filesystem::path& out_dir);
// Removes all but the keep_last newest complete checkpoints (keep_last >= 1) and returns the removed folders.
std::vector<std::filesystem::path> prune_checkpoints(const std::filesystem::path& out_dir, int64_t keep_last);

struct LoadedCheckpoint {
  TrainerState state;
  nlohmann::json config;
  std::vector<float> m, v;  // [n_values], in the flat layout of params
  int64_t adam_steps = 0;
};
// Reads a checkpoint folder for these params: writes the trained values into values[n_values] and
// returns the rest. Every tensor is checked (names, shapes, dtype, none missing, none extra) before
// anything is written; throws Error naming the file and the problem.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& dir, const std::vector<Param>& params, float* values,
                                 int64_t n_values);

}  // namespace tunekit
