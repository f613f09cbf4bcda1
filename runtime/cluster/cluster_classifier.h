// KMeans as an unsupervised classifier (the blog's evaluation): every cluster is labelled with the
// majority class of its TRAINING members, and a point is predicted as the label of its cluster.
//
// Rules (chosen and documented here):
// - Majority ties go to the smallest class label.
// - An empty cluster (no training member) takes the label of the nearest non-empty cluster,
//   nearest by squared distance between centres (ties: the smaller cluster index). Test points
//   can fall into it, so it needs a label; its own size, error and "dominant class" are reported
//   as 0, 0 and that inherited label.
// - A cluster's error is the fraction of its training members whose class differs from its label.
// Classes are ints in [0, n_classes); clusters are ints in [0, k).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "runtime/cluster/kmeans.h"

namespace zs {

struct ClusterStats {
  int64_t size = 0;          // training members
  int label = 0;             // the class predicted for the cluster
  int64_t label_count = 0;   // members of that class
  double error = 0.0;        // 1 - label_count / size (0 for an empty cluster)
  bool empty = false;        // label inherited from the nearest non-empty cluster
};

class ClusterClassifier {
 public:
  // clusters[i]: cluster of training point i under `model`; classes[i]: its true class.
  ClusterClassifier(std::span<const int32_t> clusters, std::span<const int32_t> classes, const KMeansModel& model,
                    int n_classes);

  int label_of(int cluster) const { return stats_[cluster].label; }
  std::vector<int32_t> predict(std::span<const int32_t> clusters) const;
  const std::vector<ClusterStats>& stats() const { return stats_; }
  // Number of (non-empty) clusters whose error is strictly above `threshold` (the report uses 0.4).
  int clusters_with_error_above(double threshold) const;
  int n_classes() const { return n_classes_; }

 private:
  int n_classes_;
  std::vector<ClusterStats> stats_;
};

// Counts of (true class, predicted class) pairs.
class ConfusionMatrix {
 public:
  ConfusionMatrix(std::span<const int32_t> truth, std::span<const int32_t> predicted, int n_classes);

  int64_t count(int truth, int predicted) const { return counts_[size_t(truth) * n_classes_ + predicted]; }
  // 100 * count / (points of class `truth`); 0 for a class with no point.
  double row_percent(int truth, int predicted) const;
  int64_t total() const { return total_; }
  int64_t correct() const;
  double error() const;  // 1 - correct / total (0 for an empty matrix)
  int n_classes() const { return n_classes_; }
  const std::vector<int64_t>& counts() const { return counts_; }  // [truth][predicted], row-major

 private:
  int n_classes_;
  int64_t total_ = 0;
  std::vector<int64_t> counts_;
};

// JSON forms for metrics.json: {"counts": [[...]], "row_percent": [[...]], "error": e} and
// [{"cluster": j, "size": s, "label": c, "error": e, "empty": b}, ...].
void to_json(nlohmann::json& j, const ConfusionMatrix& m);
void to_json(nlohmann::json& j, const ClusterClassifier& c);

}  // namespace zs
