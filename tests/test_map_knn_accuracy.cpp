// map_knn_accuracy (runtime/embed/map_knn_accuracy.h): the separation number of the t-SNE maps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <vector>

#include "runtime/embed/map_knn_accuracy.h"

using zs::map_knn_accuracy;

TEST_CASE("map_knn_accuracy: separated islands score 1, a shuffled labelling about chance", "[embed]") {
  // Ten tight islands far apart, 30 points each.
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.f, 0.1f);
  const int per = 30, n = 10 * per;
  std::vector<float> y(size_t(n) * 2);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    labels[size_t(i)] = i % 10;
    y[size_t(2 * i)] = 10.f * float(i % 10) + noise(rng);
    y[size_t(2 * i + 1)] = noise(rng);
  }
  CHECK(map_knn_accuracy(y.data(), n, 2, labels.data(), 10) == 1.0);
  // The same points with labels that ignore the islands: about one in ten right.
  std::vector<int32_t> shuffled = labels;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  const double chance = map_knn_accuracy(y.data(), n, 2, shuffled.data(), 10);
  CHECK(chance < 0.3);
}

TEST_CASE("map_knn_accuracy: a hand-counted case, ties to the nearest", "[embed]") {
  // On a line: 0 0 1 | 1 (positions 0, 1, 2, 3). With k = 2:
  //   p0 neighbours p1 (0), p2 (1): tie 1-1 -> nearest p1 says 0: right.
  //   p1 neighbours p0 (0), p2 (1): tie -> p0 and p2 are equally near; the lower index p0 says 0: right.
  //   p2 neighbours p1 (0), p3 (1): tie -> p1 and p3 equally near; p1 says 0: wrong (p2 is 1).
  //   p3 neighbours p2 (1), p1 (0): 1 wins by nearness: right.
  const float y[] = {0, 1, 2, 3};
  const int32_t labels[] = {0, 0, 1, 1};
  CHECK(map_knn_accuracy(y, 4, 1, labels, 2) == 0.75);
  // k = 1 is the nearest neighbour's label: p0 <- p1 (0) right, p1 <- p0 right, p2 <- p1 wrong, p3 <- p2 right.
  CHECK(map_knn_accuracy(y, 4, 1, labels, 1) == 0.75);
  CHECK_THROWS_AS(map_knn_accuracy(y, 4, 1, labels, 4), std::invalid_argument);
  const int32_t bad[] = {0, 0, 10, 1};
  CHECK_THROWS_AS(map_knn_accuracy(y, 4, 1, bad, 2), std::invalid_argument);
}
