// The random stream of the clustering code: std::mt19937_64 (its output sequence is fixed by the
// C++ standard) with our own conversions to uniforms and integers, because the standard library's
// distributions differ between implementations. A seed therefore gives the same clustering with
// every compiler and standard library.
#pragma once
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace zs {

class ClusterRng {
 public:
  // `stream` separates independent streams of one seed (e.g. one per KMeans init run).
  explicit ClusterRng(uint64_t seed, uint64_t stream = 0) : engine_(mix(mix(seed) ^ mix(stream + 1))) {}

  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, bound), bound >= 1, without modulo bias (rejection of the short tail).
  uint64_t below(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = engine_();
    while (r >= limit);
    return r % bound;
  }

  // `count` distinct integers of [0, n), in random order (partial Fisher-Yates); count <= n.
  std::vector<int64_t> distinct(int64_t n, int64_t count) {
    std::vector<int64_t> pool(n);
    for (int64_t i = 0; i < n; ++i) pool[i] = i;
    for (int64_t i = 0; i < count; ++i) std::swap(pool[i], pool[i + static_cast<int64_t>(below(n - i))]);
    pool.resize(count);
    return pool;
  }

 private:
  // splitmix64 finalizer: spreads nearby seeds (0, 1, 2...) over unrelated engine states.
  static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::mt19937_64 engine_;
};

}  // namespace zs
