// The majority-label cluster classifier and confusion matrices (runtime/cluster/cluster_classifier.h)
// on a hand-made case whose every number is worked out in the comments.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/cluster/cluster_classifier.h"
#include "runtime/core/error.h"

namespace {

// Four clusters in 1-D with centres 0, 10, 11, 30; three classes.
zs::KMeansModel four_centres() { return zs::KMeansModel{4, 1, {0.f, 10.f, 11.f, 30.f}}; }

// Training points: cluster 0 holds classes {0,0,0,1} (label 0, error 1/4);
// cluster 1 holds {1,2,2,1} (tie 2-2 -> smallest label 1, error 1/2);
// cluster 2 is empty (nearest centre: cluster 1 at distance 1 -> label 1);
// cluster 3 holds {2,0} (tie -> label 0, error 1/2).
const std::vector<int32_t> kClusters = {0, 0, 0, 0, 1, 1, 1, 1, 3, 3};
const std::vector<int32_t> kClasses = {0, 0, 0, 1, 1, 2, 2, 1, 2, 0};

}  // namespace

TEST_CASE("cluster labels: majority, ties to the smallest class, empty -> nearest centre", "[classifier]") {
  const zs::ClusterClassifier c(kClusters, kClasses, four_centres(), 3);
  REQUIRE(c.stats().size() == 4);
  CHECK(c.label_of(0) == 0);
  CHECK(c.label_of(1) == 1);
  CHECK(c.label_of(2) == 1);
  CHECK(c.label_of(3) == 0);
  CHECK(c.stats()[0].size == 4);
  CHECK(c.stats()[0].label_count == 3);
  CHECK(c.stats()[0].error == Approx(0.25));
  CHECK(c.stats()[1].error == Approx(0.5));
  CHECK(c.stats()[2].empty);
  CHECK(c.stats()[2].size == 0);
  CHECK(c.stats()[2].error == 0.0);
  CHECK(c.stats()[3].error == Approx(0.5));
  CHECK_FALSE(c.stats()[3].empty);
  // Errors above 40%: clusters 1 and 3 (0.5 each); 0.25 is not, and the empty cluster never counts.
  CHECK(c.clusters_with_error_above(0.4) == 2);
  CHECK(c.clusters_with_error_above(0.5) == 0);  // strictly above
}

TEST_CASE("predictions and confusion matrices of the hand-made case", "[classifier]") {
  const zs::ClusterClassifier c(kClusters, kClasses, four_centres(), 3);
  const std::vector<int32_t> train_pred = c.predict(kClusters);
  CHECK(train_pred == std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1, 0, 0});
  const zs::ConfusionMatrix train(kClasses, train_pred, 3);
  // truth 0: 4 points, all predicted 0.  truth 1: 3 points -> 0 (one, in cluster 0), 1 (two).
  // truth 2: 3 points -> 1 (two, in cluster 1), 0 (one, in cluster 3).
  CHECK(train.counts() == std::vector<int64_t>{4, 0, 0, 1, 2, 0, 1, 2, 0});
  CHECK(train.total() == 10);
  CHECK(train.correct() == 6);
  CHECK(train.error() == Approx(0.4));
  CHECK(train.row_percent(1, 1) == Approx(200.0 / 3));
  CHECK(train.row_percent(2, 2) == 0.0);
  CHECK(train.row_percent(0, 0) == 100.0);

  // Test points falling into the empty cluster 2 are predicted as its inherited label 1.
  const std::vector<int32_t> test_clusters = {2, 2, 3, 0};
  const std::vector<int32_t> test_truth = {1, 2, 2, 0};
  const std::vector<int32_t> test_pred = c.predict(test_clusters);
  CHECK(test_pred == std::vector<int32_t>{1, 1, 0, 0});
  const zs::ConfusionMatrix test(test_truth, test_pred, 3);
  CHECK(test.error() == Approx(0.5));
  CHECK(test.row_percent(2, 1) == 50.0);
  // A class without any test point has an all-zero row of percentages, not NaN.
  const zs::ConfusionMatrix sparse(std::vector<int32_t>{0}, std::vector<int32_t>{0}, 3);
  CHECK(sparse.row_percent(1, 1) == 0.0);
}

TEST_CASE("classifier and confusion matrix JSON forms", "[classifier]") {
  const zs::ClusterClassifier c(kClusters, kClasses, four_centres(), 3);
  const zs::ConfusionMatrix m(kClasses, c.predict(kClusters), 3);
  const nlohmann::json jm = m;
  CHECK(jm["counts"][1] == nlohmann::json({1, 2, 0}));
  CHECK(jm["error"].get<double>() == Approx(0.4));
  CHECK(jm["row_percent"][0][0].get<double>() == 100.0);
  const nlohmann::json jc = c;
  REQUIRE(jc.size() == 4);
  CHECK(jc[2]["empty"] == true);
  CHECK(jc[2]["label"] == 1);
  CHECK(jc[1]["size"] == 4);
}

TEST_CASE("classifier bad inputs throw UserError", "[classifier][errors]") {
  using Catch::Matchers::Contains;
  const zs::KMeansModel model = four_centres();
  CHECK_THROWS_WITH(zs::ClusterClassifier(std::vector<int32_t>{0, 1}, std::vector<int32_t>{0}, model, 3),
                    Contains("2 cluster assignments") && Contains("1 class labels"));
  CHECK_THROWS_WITH(zs::ClusterClassifier(std::vector<int32_t>{0, 4}, std::vector<int32_t>{0, 0}, model, 3),
                    Contains("cluster 4"));
  CHECK_THROWS_WITH(zs::ClusterClassifier(std::vector<int32_t>{0, 1}, std::vector<int32_t>{0, 3}, model, 3),
                    Contains("class 3"));
  CHECK_THROWS_AS(zs::ConfusionMatrix(std::vector<int32_t>{0, 1}, std::vector<int32_t>{0}, 3), zs::UserError);
  CHECK_THROWS_AS(zs::ConfusionMatrix(std::vector<int32_t>{0}, std::vector<int32_t>{-1}, 3), zs::UserError);
}
