// Test data shared by the t-SNE and k-means tests: one definition, so every test draws the same
// numbers from the same generator in the same order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace zs_test {

// n x d points, each coordinate N(0, scale^2) from a std::mt19937 seeded with `seed`, row-major.
inline std::vector<float> random_points(int64_t n, int d, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, scale);
  std::vector<float> x(size_t(n) * size_t(d));
  for (float& v : x) v = normal(rng);
  return x;
}

}  // namespace zs_test
