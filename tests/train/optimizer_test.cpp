// AdamW, clip_grad_norm and the schedules against torch (tests/golden/optimizer, written by
// scripts/ref/make_optimizer_goldens.py): a few parameter tensors, some with weight decay, six steps
// of clip -> AdamW at a warmup+cosine rate; every schedule's rate at every step.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/io/safetensors.h"
#include "tunekit/train/optimizer.h"

namespace tunekit {
namespace {

constexpr double kRel = 1e-6;

// |a - b| <= rel · |b|, with an absolute floor of rel · scale for values that cross zero.
void expect_close(double a, double b, double scale, const std::string& what) {
  EXPECT_LE(std::abs(a - b), kRel * std::max(std::abs(b), scale)) << what << ": got " << a << ", torch " << b;
}

struct Golden {
  TensorFile file;
  nlohmann::json config, expected;
};

Golden load_golden() {
  Golden g{read_safetensors(test::golden_dir() / "optimizer" / "adamw.safetensors"), {}, {}};
  g.config = nlohmann::json::parse(g.file.metadata.at("config"));
  g.expected = nlohmann::json::parse(g.file.metadata.at("expected"));
  return g;
}

ScheduleConfig schedule_from(const nlohmann::json& j) {
  ScheduleConfig s;
  s.kind = j["kind"];
  s.lr = j["lr"];
  s.warmup_steps = j["warmup"];
  s.total_steps = j["total"];
  s.min_lr_ratio = j["min_lr_ratio"];
  return s;
}

void run_adamw_golden(int threads) {
  set_num_threads(threads);
  Golden g = load_golden();
  const auto& c = g.config;
  std::vector<Param> params;
  int64_t n = 0;
  for (size_t i = 0; i < c["shapes"].size(); ++i) {
    Param p;
    p.name = "p" + std::to_string(i);
    p.shape = c["shapes"][i].get<std::vector<int64_t>>();
    p.offset = n;
    p.numel = g.file.get(p.name).numel();
    p.decay = c["decay"][i];
    n += p.numel;
    params.push_back(p);
  }
  auto gather = [&](const std::string& prefix, std::vector<float>& flat) {
    flat.assign(size_t(n), 0.0f);
    for (size_t i = 0; i < params.size(); ++i) {
      const float* src = g.file.get(prefix + std::to_string(i)).as<float>();
      std::copy(src, src + params[i].numel, flat.begin() + params[i].offset);
    }
  };
  std::vector<float> values, grads, want;
  gather("p", values);
  AdamWConfig ac;
  ac.beta1 = c["betas"][0];
  ac.beta2 = c["betas"][1];
  ac.eps = c["eps"];
  ac.weight_decay = c["weight_decay"];
  AdamW opt(n, ac);
  ScheduleConfig sched = schedule_from(c["schedule"]);
  const double max_norm = c["max_norm"];
  for (int s = 0; s < int(c["n_step"]); ++s) {
    gather("g" + std::to_string(s) + "_", grads);
    double norm = clip_grad_norm(grads.data(), n, max_norm);
    expect_close(norm, g.expected["norm"][s], 0, "norm at step " + std::to_string(s));
    double lr = learning_rate(sched, s);
    expect_close(lr, g.expected["lr"][s], 1e-12, "lr at step " + std::to_string(s));
    opt.step(values.data(), grads.data(), params, lr);
    EXPECT_EQ(opt.steps_taken(), s + 1);
    gather("after" + std::to_string(s) + "_", want);
    for (int64_t i = 0; i < n; ++i)
      expect_close(values[size_t(i)], want[size_t(i)], 1e-3, "value " + std::to_string(i) + " after step " + std::to_string(s));
  }
  set_num_threads(0);
}

TEST(Optimizer, AdamWWithClippingMatchesTorchOneThread) { run_adamw_golden(1); }
TEST(Optimizer, AdamWWithClippingMatchesTorchTwoThreads) { run_adamw_golden(2); }

TEST(Optimizer, SchedulesMatchTransformers) {
  Golden g = load_golden();
  for (const auto& [name, cfg] : g.config["schedules"].items()) {
    ScheduleConfig s = schedule_from(cfg);
    const auto& want = g.expected["sched"][name];
    ASSERT_EQ(int64_t(want.size()), s.total_steps + 1) << name;
    for (size_t step = 0; step < want.size(); ++step)
      expect_close(learning_rate(s, int64_t(step)), want[step], 1e-12, name + " step " + std::to_string(step));
    // Past the end the rate stays at its floor.
    EXPECT_NEAR(learning_rate(s, s.total_steps + 5), s.kind == "constant" ? s.lr : s.lr * s.min_lr_ratio, 1e-15) << name;
  }
}

TEST(Optimizer, UnknownScheduleIsAnError) {
  ScheduleConfig s;
  s.kind = "exponential";
  EXPECT_THROW(learning_rate(s, 0), Error);
}

TEST(Optimizer, ClipLeavesNonFiniteGradientsAlone) {
  std::vector<float> g = {3.0f, std::numeric_limits<float>::infinity(), 4.0f};
  double norm = clip_grad_norm(g.data(), 3, 1.0);
  EXPECT_FALSE(std::isfinite(norm));
  EXPECT_EQ(g[0], 3.0f);
  EXPECT_EQ(g[2], 4.0f);
  std::vector<float> h = {3.0f, std::nanf(""), 4.0f};
  EXPECT_TRUE(std::isnan(clip_grad_norm(h.data(), 3, 1.0)));
  EXPECT_EQ(h[0], 3.0f);
}

TEST(Optimizer, ClipBelowTheLimitChangesNothing) {
  std::vector<float> g = {0.3f, -0.4f};
  EXPECT_NEAR(clip_grad_norm(g.data(), 2, 1.0), 0.5, 1e-7);
  EXPECT_EQ(g[0], 0.3f);
  EXPECT_EQ(g[1], -0.4f);
}

// Parameters larger than the update's chunks and chunks spanning several parameters (with and
// without decay) on two threads: each value gets exactly the AdamW formula of its own parameter.
TEST(Optimizer, AdamWChunksSpanParameters) {
  set_num_threads(2);
  const std::vector<std::pair<int64_t, bool>> sizes = {{70001, true}, {5, false}, {3, true}, {40000, false}, {9, true}};
  std::vector<Param> params;
  int64_t n = 0;
  for (const auto& [numel, decay] : sizes) {
    Param p;
    p.name = std::string("p").append(std::to_string(params.size()));
    p.offset = n;
    p.numel = numel;
    p.decay = decay;
    n += numel;
    params.push_back(p);
  }
  std::vector<float> values(static_cast<size_t>(n)), grads(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    values[size_t(i)] = float(std::sin(0.001 * double(i)));
    grads[size_t(i)] = float(std::cos(0.0007 * double(i)));
  }
  AdamWConfig c;
  c.weight_decay = 0.1;
  AdamW opt(n, c);
  const double lr = 0.01;
  std::vector<float> got = values;
  opt.step(got.data(), grads.data(), params, lr);
  set_num_threads(0);
  for (const Param& p : params)
    for (int64_t i = p.offset; i < p.offset + p.numel; ++i) {
      // t = 1: m = (1-β1)·g, v = (1-β2)·g², and the bias corrections make the step lr·m̂/(sqrt(v̂)+eps).
      const double g = grads[size_t(i)], m_hat = g, v_hat = g * g;
      const double decayed = p.decay ? values[size_t(i)] * (1.0 - lr * c.weight_decay) : values[size_t(i)];
      const double want = decayed - lr * m_hat / (std::sqrt(v_hat) + c.eps);
      ASSERT_NEAR(got[size_t(i)], want, 1e-6) << p.name << " value " << i;
    }
}

TEST(Optimizer, AdamWNeedsParametersInOffsetOrder) {
  std::vector<Param> params(2);
  params[0].offset = 4;
  params[0].numel = 4;
  params[1].offset = 0;
  params[1].numel = 4;
  std::vector<float> values(8), grads(8);
  AdamW opt(8, {});
  EXPECT_THROW(opt.step(values.data(), grads.data(), params, 0.1), Error);
}

TEST(Optimizer, RestoreChecksSizes) {
  AdamW opt(4, {});
  EXPECT_THROW(opt.restore(std::vector<float>(3), std::vector<float>(4), 1), Error);
  opt.restore(std::vector<float>(4, 1.0f), std::vector<float>(4, 2.0f), 7);
  EXPECT_EQ(opt.steps_taken(), 7);
  EXPECT_EQ(opt.m()[0], 1.0f);
  EXPECT_EQ(opt.v()[3], 2.0f);
}

TEST(Optimizer, BadConfigIsAnError) {
  AdamWConfig c;
  c.beta1 = 1.0;
  EXPECT_THROW(AdamW(4, c), Error);
  c = {};
  c.eps = 0;
  EXPECT_THROW(AdamW(4, c), Error);
}

}  // namespace
}  // namespace tunekit
