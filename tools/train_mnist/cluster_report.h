// KMeans as an unsupervised classifier, as kmeans and ae-kmeans run it: scale the features (the
// scaler learns from the training set only), fit k clusters, label each cluster with the majority
// class of its training members (runtime/cluster/cluster_classifier.h), predict train and test.
//
// Files written in --out: clusters.csv (cluster,size,label,error,empty), confusion_train.png and
// confusion_test.png (heatmaps with the counts in the cells), centers.png (the centres as images;
// only for pixel features with --scale none or unit, where a centre is still a viewable image).
// The returned JSON holds the keys that metrics.json documents for kmeans (see docs/driver.md).
#pragma once
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/train_mnist/common.h"
#include "tools/train_mnist/features.h"
#include "tools/train_mnist/kmeans_options.h"

namespace zs::driver {

struct ScaledFeatures {
  std::vector<float> train, test;
};
ScaledFeatures scale_features(const FeatureSet& f, ScaleKind kind);

// The features of `f` already in the memory of ctx.backend (unscaled, as f holds them).
struct ResidentFeatures {
  DeviceMatrixView train, test;
};
// `resident` (nullable): cluster those instead of uploading f's when no scaling is asked for (the
// scalers run on the host); the results are the same.
nlohmann::json cluster_and_classify(RunContext& ctx, const FeatureSet& f, int k, const KMeansSettings& s,
                                    const ResidentFeatures* resident = nullptr);

}  // namespace zs::driver
