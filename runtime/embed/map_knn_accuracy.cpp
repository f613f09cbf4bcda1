#include "runtime/embed/map_knn_accuracy.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>
#include <vector>

namespace zs {

double map_knn_accuracy(const float* y, int64_t n, int dy, const int32_t* labels, int k) {
  if (k < 1 || int64_t(k) >= n) throw std::invalid_argument("map_knn_accuracy: k must be in [1, n)");
  for (int64_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= 10) throw std::invalid_argument("map_knn_accuracy: labels must be in [0, 10)");
  std::vector<std::pair<double, int64_t>> others(static_cast<size_t>(n - 1));
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    size_t m = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double d = 0;
      for (int f = 0; f < dy; ++f) d += (double(y[i * dy + f]) - y[j * dy + f]) * (double(y[i * dy + f]) - y[j * dy + f]);
      others[m++] = {d, j};  // ties in distance go to the lower index: the result does not depend on the order
    }
    std::partial_sort(others.begin(), others.begin() + k, others.end());
    std::array<int, 10> votes{};
    for (int r = 0; r < k; ++r) ++votes[size_t(labels[others[size_t(r)].second])];
    const int most = *std::max_element(votes.begin(), votes.end());
    int32_t predicted = -1;
    for (int r = 0; r < k && predicted < 0; ++r) {  // the nearest neighbour whose label has the most votes
      const int32_t label = labels[others[size_t(r)].second];
      if (votes[size_t(label)] == most) predicted = label;
    }
    correct += predicted == labels[i];
  }
  return double(correct) / double(n);
}

}  // namespace zs
