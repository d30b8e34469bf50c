// Finite-difference gradient checks for the backward kernels: each test writes its op's forward in
// double, builds a scalar loss from it, and compares the kernel's f32 gradient with central
// differences of that loss.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace tunekit::test {

inline std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// The coordinates a gradient check perturbs: all of them up to max_checked, else a seeded sample.
inline std::vector<size_t> checked_indices(size_t n, size_t max_checked = 400) {
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), size_t(0));
  if (n <= max_checked) return all;
  std::mt19937 rng{uint32_t(n)};
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(max_checked);
  std::sort(all.begin(), all.end());
  return all;
}

// Central differences (f(x + h e_i) - f(x - h e_i)) / 2h of the double loss f at x, for i in idx.
// With a double forward, h = 1e-5 leaves a truncation error ~1e-10 · |f'''| and a rounding error
// ~1e-11 · |f|: far below the 1e-3 the f32 gradients are held to.
inline std::vector<double> numeric_gradient(std::vector<double> x, const std::vector<size_t>& idx,
                                            const std::function<double(const std::vector<double>&)>& f,
                                            double h = 1e-5) {
  std::vector<double> grad(idx.size());
  for (size_t j = 0; j < idx.size(); ++j) {
    const double x0 = x[idx[j]];
    x[idx[j]] = x0 + h;
    const double plus = f(x);
    x[idx[j]] = x0 - h;
    const double minus = f(x);
    x[idx[j]] = x0;
    grad[j] = (plus - minus) / (2 * h);
  }
  return grad;
}

// analytic[idx[j]] against numeric[j]: |a - n| <= rtol · (|n| + 0.01 · max|n|). The floor at 1% of
// the largest gradient covers elements that are small through cancellation, whose f32 rounding
// error scales with the terms that cancelled rather than with the result. A numeric gradient that
// is zero throughout (an input the loss does not depend on) asks for |a| <= 1e-5.
inline void expect_gradient(const std::vector<float>& analytic, const std::vector<size_t>& idx,
                            const std::vector<double>& numeric, const std::string& what, double rtol = 1e-3) {
  ASSERT_EQ(idx.size(), numeric.size()) << what;
  double max_abs = 0;
  for (double n : numeric) max_abs = std::max(max_abs, std::fabs(n));
  const double floor = max_abs > 0 ? rtol * 0.01 * max_abs : 1e-5;
  int misses = 0;
  for (size_t j = 0; j < idx.size() && misses < 5; ++j) {
    const double a = analytic[idx[j]], n = numeric[j];
    if (!(std::fabs(a - n) <= rtol * std::fabs(n) + floor)) {
      ADD_FAILURE() << what << ": element " << idx[j] << " analytic " << a << " numeric " << n;
      ++misses;
    }
  }
}

// Shorthand for the common case: check grad (the kernel's gradient of x) against the loss f.
inline void check_gradient(const std::vector<float>& grad, const std::vector<float>& x,
                           const std::function<double(const std::vector<double>&)>& f, const std::string& what,
                           double rtol = 1e-3) {
  const auto idx = checked_indices(x.size());
  expect_gradient(grad, idx, numeric_gradient(to_double(x), idx, f), what, rtol);
}

}  // namespace tunekit::test
