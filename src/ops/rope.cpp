// Rotary position embedding in Hugging Face's rotate-half layout, with inv_freq computed exactly as
// transformers' rope initialisers (_compute_default / _linear / _llama3_rope_parameters).
#include <cmath>
#include <vector>

#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

std::vector<float> rope_inv_freq(const RopeConfig& cfg, int64_t d_head) {
  check(d_head > 0 && d_head % 2 == 0, "rope_inv_freq: d_head ", d_head, " must be even and positive");
  check(cfg.theta > 0, "rope_inv_freq: theta ", cfg.theta, " must be positive");
  bool linear = cfg.scaling == "linear", llama3 = cfg.scaling == "llama3";
  check(cfg.scaling == "none" || cfg.scaling == "default" || linear || llama3, "rope_inv_freq: unknown scaling '",
        cfg.scaling, "' (choose none, linear or llama3)");
  check(!(linear || llama3) || cfg.factor > 0, "rope_inv_freq: ", cfg.scaling, " scaling needs factor > 0, got ",
        cfg.factor);
  check(!llama3 || cfg.high_freq_factor > cfg.low_freq_factor, "rope_inv_freq: llama3 needs high_freq_factor ",
        cfg.high_freq_factor, " > low_freq_factor ", cfg.low_freq_factor);
  std::vector<float> inv_freq(size_t(d_head / 2));
  const double pi = 3.14159265358979323846;
  for (int64_t i = 0; i < d_head / 2; ++i) {
    double f = 1.0 / std::pow(cfg.theta, double(2 * i) / double(d_head));
    if (linear) f /= cfg.factor;
    if (llama3) {
      double old_len = double(cfg.original_max_position);
      double low_freq_wavelen = old_len / cfg.low_freq_factor, high_freq_wavelen = old_len / cfg.high_freq_factor;
      double wavelen = 2 * pi / f;
      if (wavelen > low_freq_wavelen) {
        f /= cfg.factor;
      } else if (wavelen >= high_freq_wavelen) {  // medium frequencies: interpolate
        double smooth = (old_len / wavelen - cfg.low_freq_factor) / (cfg.high_freq_factor - cfg.low_freq_factor);
        f = (1 - smooth) * f / cfg.factor + smooth * f;
      }
    }
    inv_freq[size_t(i)] = float(f);
  }
  return inv_freq;
}

void rope(float* x, int64_t T, int64_t n_head, int64_t d_head, const int32_t* positions, const float* inv_freq) {
  check(T >= 0 && n_head > 0 && d_head > 0 && d_head % 2 == 0, "rope: bad shape [", T, ", ", n_head, ", ", d_head,
        "] (d_head must be even)");
  const int64_t half = d_head / 2;
  parallel_for(
      T,
      [&](int64_t begin, int64_t end) {
        std::vector<float> cos(static_cast<size_t>(half)), sin(static_cast<size_t>(half));
        for (int64_t t = begin; t < end; ++t) {
          for (int64_t i = 0; i < half; ++i) {
            float angle = float(positions[t]) * inv_freq[i];  // f32 product, as in transformers
            sincosf(angle, &sin[size_t(i)], &cos[size_t(i)]);
          }
          for (int64_t h = 0; h < n_head; ++h) {
            float* v = x + (t * n_head + h) * d_head;  // [d_head]
            for (int64_t i = 0; i < half; ++i) {
              float a = v[i], b = v[i + half];
              v[i] = a * cos[size_t(i)] - b * sin[size_t(i)];
              v[i + half] = b * cos[size_t(i)] + a * sin[size_t(i)];
            }
          }
        }
      },
      64);
}

}  // namespace tunekit::ops
