// How well a map keeps the classes apart, as one number: the leave-one-out k-nearest-neighbour
// accuracy of the labels in the embedding (each point's label predicted by the majority of its k
// nearest other points; a tie goes to the label of the nearest point among the tied ones). Ten
// separated digit islands score near 1, mixed zones lower it. O(n^2 dy): meant for a few thousand
// points (the driver takes the same at most 5,000 as for trustworthiness).
#pragma once
#include <cstdint>

namespace zs {

// y [n][dy] embedding rows, labels [n] in [0, 10); requires 1 <= k < n (std::invalid_argument).
double map_knn_accuracy(const float* y, int64_t n, int dy, const int32_t* labels, int k);

}  // namespace zs
