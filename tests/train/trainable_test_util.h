// Shared by the Trainable tests: the golden training files (tests/golden/train/<model>, written by
// scripts/ref/make_train_goldens.py) and small helpers.
#pragma once
#include <cmath>
#include <string>

#include "test_paths.h"
#include "tunekit/io/safetensors.h"
#include "tunekit/models/model.h"
#include "tunekit/train/trainable.h"

namespace tunekit::test {

inline Model golden_model(const std::string& name) { return load_model(golden_dir() / "models" / name); }

struct TrainGolden {
  TensorFile file;

  double meta(const std::string& key) const { return std::stod(file.metadata.at(key)); }
  const Tensor& get(const std::string& name) const { return file.get(name); }

  // Micro-batch j (0 or 1) as the data pipeline would hand it over.
  Batch batch(int j) const {
    Batch b;
    b.n_row = std::stoll(file.metadata.at("n_row"));
    b.seq_len = std::stoll(file.metadata.at("seq_len"));
    const std::string p = "batch" + std::to_string(j) + ".";
    auto ints = [&](const std::string& n) {
      const Tensor& t = get(p + n);
      return std::vector<int32_t>(t.as<int32_t>(), t.as<int32_t>() + t.numel());
    };
    b.tokens = ints("tokens");
    b.targets = ints("targets");
    b.positions = ints("positions");
    b.seg_start = ints("seg_start");
    const Tensor& w = get(p + "weights");
    b.weights.assign(w.as<float>(), w.as<float>() + w.numel());
    return b;
  }

  // The initial LoRA (all 7 modules of every layer, non-zero B), as copies.
  LoraAdapter lora(const ModelConfig& c) const {
    LoraAdapter a;
    a.rank = std::stoll(file.metadata.at("lora_rank"));
    a.alpha = meta("lora_alpha");
    a.layers.resize(size_t(c.n_layer));
    for (int i = 0; i < kNumLinearModules; ++i) a.targets.push_back(LinearModule(i));
    for (int l = 0; l < c.n_layer; ++l)
      for (int i = 0; i < kNumLinearModules; ++i) {
        auto init = [&](bool is_b) {
          return get("lora_init.base_model.model." + lora_weight_name(l, LinearModule(i), is_b));
        };
        a.layers[size_t(l)][size_t(i)].A = init(false).clone();
        a.layers[size_t(l)][size_t(i)].B = init(true).clone();
      }
    return a;
  }
};

inline TrainGolden train_golden(const std::string& name) {
  return {read_safetensors(golden_dir() / "train" / name / "golden.safetensors")};
}

// ||a - b|| / ||b|| in double.
inline double rel_err(const float* a, const float* b, int64_t n) {
  double d = 0, r = 0;
  for (int64_t i = 0; i < n; ++i) {
    d += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    r += double(b[i]) * b[i];
  }
  return std::sqrt(d / r);
}

}  // namespace tunekit::test
