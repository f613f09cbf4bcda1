// The majority-label cluster classifier and confusion matrices; see cluster_classifier.h.
#include "runtime/cluster/cluster_classifier.h"

#include <string>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"

namespace zs {
namespace {

void check_classes(std::span<const int32_t> classes, int n_classes, const char* who, const char* what) {
  for (size_t i = 0; i < classes.size(); ++i)
    if (classes[i] < 0 || classes[i] >= n_classes)
      throw UserError(std::string(who) + ": " + what + " " + std::to_string(classes[i]) + " at index " +
                      std::to_string(i) + " is outside [0, " + std::to_string(n_classes) +
                      "); check that the label file matches the images");
}

double squared_distance(const float* a, const float* b, int d) {
  double s = 0.0;
  for (int f = 0; f < d; ++f) {
    const double diff = double(a[f]) - b[f];
    s += diff * diff;
  }
  return s;
}

}  // namespace

ClusterClassifier::ClusterClassifier(std::span<const int32_t> clusters, std::span<const int32_t> classes,
                                     const KMeansModel& model, int n_classes)
    : n_classes_(n_classes) {
  constexpr const char* kWho = "cluster classifier";
  if (n_classes < 1) throw UserError(std::string(kWho) + ": the number of classes must be at least 1");
  if (clusters.size() != classes.size() || clusters.empty())
    throw UserError(std::string(kWho) + ": " + std::to_string(clusters.size()) + " cluster assignments but " +
                    std::to_string(classes.size()) + " class labels; pass one label per training image (and at least one)");
  const int k = model.k;
  check_classes(clusters, k, kWho, "cluster");
  check_classes(classes, n_classes, kWho, "class");

  std::vector<int64_t> votes(size_t(k) * n_classes, 0);
  for (size_t i = 0; i < clusters.size(); ++i) ++votes[size_t(clusters[i]) * n_classes + classes[i]];
  stats_.resize(k);
  for (int j = 0; j < k; ++j) {
    ClusterStats& s = stats_[j];
    for (int c = 0; c < n_classes; ++c) {
      const int64_t v = votes[size_t(j) * n_classes + c];
      s.size += v;
      if (v > s.label_count) {  // strict: a tie keeps the smaller class
        s.label_count = v;
        s.label = c;
      }
    }
    s.empty = s.size == 0;
    s.error = s.empty ? 0.0 : 1.0 - static_cast<double>(s.label_count) / static_cast<double>(s.size);
  }
  for (int j = 0; j < k; ++j) {
    if (!stats_[j].empty) continue;
    int nearest = -1;
    double best = 0.0;
    for (int o = 0; o < k; ++o) {
      if (stats_[o].empty) continue;
      const double dist = squared_distance(model.center(j), model.center(o), model.d);
      if (nearest < 0 || dist < best) {
        nearest = o;
        best = dist;
      }
    }
    stats_[j].label = stats_[nearest].label;  // some cluster has members: clusters is not empty
  }
}

std::vector<int32_t> ClusterClassifier::predict(std::span<const int32_t> clusters) const {
  check_classes(clusters, static_cast<int>(stats_.size()), "cluster classifier", "cluster");
  std::vector<int32_t> out(clusters.size());
  for (size_t i = 0; i < clusters.size(); ++i) out[i] = stats_[clusters[i]].label;
  return out;
}

int ClusterClassifier::clusters_with_error_above(double threshold) const {
  int count = 0;
  for (const ClusterStats& s : stats_)
    if (!s.empty && s.error > threshold) ++count;
  return count;
}

ConfusionMatrix::ConfusionMatrix(std::span<const int32_t> truth, std::span<const int32_t> predicted, int n_classes)
    : n_classes_(n_classes), counts_(size_t(n_classes) * n_classes, 0) {
  if (n_classes < 1) throw UserError("confusion matrix: the number of classes must be at least 1");
  if (truth.size() != predicted.size())
    throw UserError("confusion matrix: " + std::to_string(truth.size()) + " true labels but " +
                    std::to_string(predicted.size()) + " predictions; pass one prediction per labelled image");
  check_classes(truth, n_classes, "confusion matrix", "true class");
  check_classes(predicted, n_classes, "confusion matrix", "predicted class");
  for (size_t i = 0; i < truth.size(); ++i) ++counts_[size_t(truth[i]) * n_classes + predicted[i]];
  total_ = static_cast<int64_t>(truth.size());
}

double ConfusionMatrix::row_percent(int truth, int predicted) const {
  int64_t row = 0;
  for (int p = 0; p < n_classes_; ++p) row += count(truth, p);
  return row == 0 ? 0.0 : 100.0 * static_cast<double>(count(truth, predicted)) / static_cast<double>(row);
}

int64_t ConfusionMatrix::correct() const {
  int64_t c = 0;
  for (int t = 0; t < n_classes_; ++t) c += count(t, t);
  return c;
}

double ConfusionMatrix::error() const {
  return total_ == 0 ? 0.0 : 1.0 - static_cast<double>(correct()) / static_cast<double>(total_);
}

void to_json(nlohmann::json& j, const ConfusionMatrix& m) {
  nlohmann::json counts = nlohmann::json::array(), percent = nlohmann::json::array();
  for (int t = 0; t < m.n_classes(); ++t) {
    nlohmann::json crow = nlohmann::json::array(), prow = nlohmann::json::array();
    for (int p = 0; p < m.n_classes(); ++p) {
      crow.push_back(m.count(t, p));
      prow.push_back(m.row_percent(t, p));
    }
    counts.push_back(std::move(crow));
    percent.push_back(std::move(prow));
  }
  j = nlohmann::json{{"counts", std::move(counts)}, {"row_percent", std::move(percent)}, {"error", m.error()}};
}

void to_json(nlohmann::json& j, const ClusterClassifier& c) {
  j = nlohmann::json::array();
  for (size_t k = 0; k < c.stats().size(); ++k) {
    const ClusterStats& s = c.stats()[k];
    j.push_back({{"cluster", k}, {"size", s.size}, {"label", s.label}, {"error", s.error}, {"empty", s.empty}});
  }
}

}  // namespace zs
