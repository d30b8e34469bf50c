// Synthetic vectors for the HNSW benchmark (bench_kb) and the vector-index tests: seeded, so a run
// can be repeated exactly.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace tunekit::synthetic {

// [n, dim] random unit vectors (independent Gaussian coordinates, normalised): HNSW's worst case.
inline std::vector<float> random_unit_vectors(int64_t n, int64_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(n * dim));
  for (int64_t i = 0; i < n; ++i) {
    float* row = v.data() + i * dim;
    double norm = 0;
    for (int64_t j = 0; j < dim; ++j) {
      row[j] = normal(rng);
      norm += double(row[j]) * row[j];
    }
    for (int64_t j = 0; j < dim; ++j) row[j] = float(row[j] / std::sqrt(norm));
  }
  return v;
}

// [n, dim] unit vectors near a latent-dimensional subspace: a random projection of latent Gaussian
// coordinates plus a little noise (like sentence embeddings, whose intrinsic dimension is far below
// their 384 coordinates). latent <= 0: random_unit_vectors.
inline std::vector<float> embedding_like_vectors(int64_t n, int64_t dim, int64_t latent, uint32_t seed) {
  if (latent <= 0) return random_unit_vectors(n, dim, seed);
  const std::vector<float> projection = random_unit_vectors(latent, dim, seed + 1000);  // [latent, dim]
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(n * dim));
  std::vector<float> z(static_cast<size_t>(latent));
  for (int64_t i = 0; i < n; ++i) {
    for (auto& x : z) x = normal(rng);
    float* row = v.data() + i * dim;
    double norm = 0;
    for (int64_t j = 0; j < dim; ++j) {
      float x = 0.05f * normal(rng);
      for (int64_t l = 0; l < latent; ++l) x += z[size_t(l)] * projection[size_t(l * dim + j)];
      row[j] = x;
      norm += double(x) * x;
    }
    for (int64_t j = 0; j < dim; ++j) row[j] = float(row[j] / std::sqrt(norm));
  }
  return v;
}

}  // namespace tunekit::synthetic
