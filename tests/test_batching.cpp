// Batching (runtime/data/batching.h): float conversion, the unbiased bounded integers and the
// Fisher-Yates shuffle built on them, per-epoch permutations, batch ranges and gathers.
// Statistical checks use fixed seeds and bounds of 5 standard deviations, so they are exact
// repeatable facts of this implementation, not flaky samples.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "runtime/data/batching.h"

namespace {

bool is_permutation_of_iota(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] != int(i)) return false;
  return true;
}

// |count - expected| within 5 standard deviations of a binomial(n, p).
void require_binomially_close(int64_t count, int64_t n, double p) {
  const double expected = double(n) * p;
  const double sigma = std::sqrt(double(n) * p * (1 - p));
  INFO("count " << count << ", expected " << expected << " +- 5 * " << sigma);
  REQUIRE(std::abs(double(count) - expected) <= 5 * sigma);
}

}  // namespace

TEST_CASE("batching: pixels_to_float divides by 255 and honours the limit", "[batching]") {
  zs::ImageSet set;
  set.count = 3;
  set.rows = set.cols = 28;
  set.pixels.resize(3 * 784);
  for (size_t i = 0; i < set.pixels.size(); ++i) set.pixels[i] = uint8_t(i % 256);
  set.labels = {0, 1, 2};

  const auto all = zs::pixels_to_float(set);
  REQUIRE(all.size() == 3 * 784);
  for (size_t i = 0; i < all.size(); ++i) {
    INFO("index " << i);
    REQUIRE(all[i] == float(set.pixels[i]) / 255.0f);   // bit-exact: the documented formula
  }
  REQUIRE(all[0] == 0.0f);
  REQUIRE(all[255] == 1.0f);
  REQUIRE(all[51] == 0.2f);   // 51/255 is 0.2 exactly in real numbers; correctly rounded here

  const auto two = zs::pixels_to_float(set, 2);
  REQUIRE(two == std::vector<float>(all.begin(), all.begin() + 2 * 784));
  REQUIRE(zs::pixels_to_float(set, 10) == all);
  REQUIRE(zs::pixels_to_float(set, 0).empty());
}

TEST_CASE("batching: the Mersenne Twister is the standard one", "[batching]") {
  // The C++ standard fixes this value ([rand.predef]): it is what makes our shuffles portable.
  std::mt19937_64 rng;
  rng.discard(9999);
  REQUIRE(rng() == 9981545732273789042ull);
}

TEST_CASE("batching: uniform_below stays in range and is unbiased", "[batching]") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) REQUIRE(zs::uniform_below(rng, 1) == 0);
  for (uint64_t bound : {2ull, 3ull, 10ull, 1000ull, (1ull << 63) + 12345ull})
    for (int i = 0; i < 1000; ++i) REQUIRE(zs::uniform_below(rng, bound) < bound);

  SECTION("small bound: each value about equally often") {
    std::vector<int64_t> counts(3, 0);
    const int64_t draws = 30000;
    for (int64_t i = 0; i < draws; ++i) ++counts[zs::uniform_below(rng, 3)];
    for (int64_t c : counts) require_binomially_close(c, draws, 1.0 / 3);
  }
  SECTION("huge bound where plain modulo would be badly biased") {
    // bound = 3 * 2^62. Plain r % bound would land below 2^62 half the time (values below
    // 2^62 are hit from two ranges of r); uniform sampling lands there a third of the time.
    const uint64_t bound = 3ull << 62;
    int64_t low = 0;
    const int64_t draws = 20000;
    for (int64_t i = 0; i < draws; ++i) low += zs::uniform_below(rng, bound) < (1ull << 62);
    require_binomially_close(low, draws, 1.0 / 3);
  }
  REQUIRE_THROWS_AS(zs::uniform_below(rng, 0), std::out_of_range);
}

TEST_CASE("batching: Fisher-Yates yields every permutation equally often", "[batching]") {
  std::mt19937_64 rng(2024);
  std::map<std::vector<int>, int64_t> seen;
  const int64_t trials = 24000;   // 4! = 24 permutations, 1000 each expected
  for (int64_t t = 0; t < trials; ++t) {
    std::vector<int> v = {0, 1, 2, 3};
    zs::shuffle_in_place(v, rng);
    ++seen[v];
  }
  REQUIRE(seen.size() == 24);
  for (const auto& [perm, count] : seen) require_binomially_close(count, trials, 1.0 / 24);
}

TEST_CASE("batching: epoch permutations are permutations, reproducible and fresh each epoch", "[batching]") {
  for (int n : {0, 1, 2, 17, 1000}) {
    INFO("n " << n);
    const auto p = zs::epoch_permutation(n, 42, 0);
    REQUIRE(p.size() == size_t(n));
    REQUIRE(is_permutation_of_iota(p));
    REQUIRE(zs::epoch_permutation(n, 42, 0) == p);
  }
  const auto e0 = zs::epoch_permutation(1000, 42, 0);
  const auto e1 = zs::epoch_permutation(1000, 42, 1);
  const auto other_seed = zs::epoch_permutation(1000, 43, 0);
  REQUIRE(e0 != e1);
  REQUIRE(e0 != other_seed);
  REQUIRE(e1 != other_seed);
  std::vector<int> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  REQUIRE(e0 != iota);
  // Consecutive epochs are unrelated: they agree on about 1 position in 1000, as chance predicts.
  int64_t same_position = 0;
  for (size_t i = 0; i < e0.size(); ++i) same_position += e0[i] == e1[i];
  REQUIRE(same_position <= 6);

  // Pinned output: it depends only on the C++ standard, so every platform must produce it (an
  // independent Python re-implementation of MT19937-64 + this shuffle gives the same lists).
  // If it ever changes, every training run's data order changes with it.
  CHECK(zs::epoch_permutation(10, 42, 0) == std::vector<int>{9, 6, 2, 0, 1, 4, 3, 8, 5, 7});
  CHECK(zs::epoch_permutation(10, 42, 3) == std::vector<int>{6, 5, 7, 9, 4, 2, 0, 8, 3, 1});
}

TEST_CASE("batching: batch ranges cover the epoch, the last one partial", "[batching]") {
  REQUIRE(zs::batch_count(0, 4) == 0);
  REQUIRE(zs::batch_count(8, 4) == 2);
  REQUIRE(zs::batch_count(10, 4) == 3);
  REQUIRE(zs::batch_count(3, 128) == 1);
  REQUIRE_THROWS_AS(zs::batch_count(10, 0), std::out_of_range);

  const auto order = zs::epoch_permutation(10, 1, 0);
  std::vector<int> joined;
  std::vector<size_t> sizes;
  for (int b = 0; b < zs::batch_count(10, 4); ++b) {
    const auto idx = zs::batch_indices(order, 4, b);
    sizes.push_back(idx.size());
    joined.insert(joined.end(), idx.begin(), idx.end());
  }
  REQUIRE(sizes == std::vector<size_t>{4, 4, 2});
  REQUIRE(joined == order);
  REQUIRE_THROWS_AS(zs::batch_indices(order, 4, 3), std::out_of_range);
  REQUIRE_THROWS_AS(zs::batch_indices(order, 4, -1), std::out_of_range);
}

TEST_CASE("batching: gather copies the requested rows in order", "[batching]") {
  const int rows = 5, row_len = 7;
  std::vector<float> data(size_t(rows) * row_len);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < row_len; ++c) data[size_t(r) * row_len + size_t(c)] = float(r * 1000 + c);
  const std::vector<uint8_t> labels = {9, 8, 7, 6, 5};

  const std::vector<int> indices = {3, 0, 3, 4};   // repeats are allowed
  std::vector<float> batch(indices.size() * row_len, -1.0f);
  zs::gather_rows(batch, data, row_len, indices);
  for (size_t b = 0; b < indices.size(); ++b)
    for (int c = 0; c < row_len; ++c) {
      INFO("batch row " << b << ", column " << c);
      REQUIRE(batch[b * row_len + size_t(c)] == float(indices[b] * 1000 + c));
    }

  std::vector<uint8_t> batch_labels(indices.size());
  zs::gather_labels(batch_labels, labels, indices);
  REQUIRE(batch_labels == std::vector<uint8_t>{6, 9, 6, 5});

  // A larger buffer (e.g. sized for a full batch while this is the last, partial one): the tail
  // is left untouched.
  std::vector<float> big(10 * row_len, -1.0f);
  zs::gather_rows(big, data, row_len, std::vector<int>{1});
  REQUIRE(big[0] == 1000.0f);
  REQUIRE(big[row_len] == -1.0f);

  REQUIRE_THROWS_AS(zs::gather_rows(batch, data, row_len, std::vector<int>{5}), std::out_of_range);
  REQUIRE_THROWS_AS(zs::gather_rows(batch, data, row_len, std::vector<int>{-1}), std::out_of_range);
  std::vector<float> small(row_len);
  REQUIRE_THROWS_AS(zs::gather_rows(small, data, row_len, indices), std::out_of_range);
  REQUIRE_THROWS_AS(zs::gather_labels(batch_labels, labels, std::vector<int>{5}), std::out_of_range);
}
