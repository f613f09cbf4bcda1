// Test data shared by the t-SNE, k-means and training tests: one definition, so every test draws the same
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

// n MNIST-sized images (784 floats each): 80% of the pixels 0, the rest uniform in [0, 1), like
// digit strokes on a blank page (the training tests' input).
inline std::vector<float> sparse_images(int n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> x(size_t(n) * 784);
  for (float& v : x) v = u(g) < 0.8f ? 0.f : u(g);
  return x;
}

}  // namespace zs_test
