// train_mnist kmeans: KMeans or MiniBatchKMeans on the (scaled) training images or on latents written
// by `ae` (--features), then the clusters as a classifier (cluster_report.h).
// Outputs in --out: metrics.json, clusters.csv, confusion_train.png, confusion_test.png, centers.png
// (pixels with --scale none or unit).
// metrics.json keys: command, k, algo, init, n_init, max_iter, tol, (minibatch: batch_size,
// max_no_improvement, reassignment_ratio, init_size), scale, seed, features, feature_dim, threads,
// train_size, test_size, inertia (on the scaled training set), fit_seconds, n_iter, n_steps,
// converged, best_init, train_error, test_error, clusters_over_40pct_error (also under its old name
// clusters_error_above_40), clusters [{cluster, size, label, error, empty}], confusion_train,
// confusion_test ({counts, row_percent, error}), seconds_total.
#include <limits>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/train_mnist/cluster_report.h"
#include "tools/train_mnist/commands.h"
#include "tools/train_mnist/common.h"
#include "tools/train_mnist/features.h"
#include "tools/train_mnist/kmeans_options.h"

namespace zs::driver {
namespace {

struct KMeansCmdOptions {
  CommonOptions common;
  int k = 225;  // the blog's choice: about 22 clusters per digit
  std::string features = "pixels";
  KMeansCliOptions kmeans;
};

void run_kmeans(const KMeansCmdOptions& o) {
  const KMeansSettings s = resolve_kmeans_options(o.kmeans, o.common.seed);
  require_valid_k("--k", o.k, std::numeric_limits<int64_t>::max());  // the upper bound once the data is known
  std::unique_ptr<RunContext> run;
  const FeatureSet f = open_features(o.features, o.common, run, TrainSplit::RankShard);
  RunContext& ctx = *run;
  require_valid_k("--k", o.k, f.train_total());

  nlohmann::json m = cluster_and_classify(ctx, f, o.k, s);
  m["command"] = "kmeans";
  ctx.write_metrics(std::move(m));
}

}  // namespace

void register_kmeans(CLI::App& app) {
  std::shared_ptr<KMeansCmdOptions> opts;
  CLI::App* cmd = add_command(app, "kmeans", "KMeans / MiniBatchKMeans clustering as an unsupervised classifier", opts, run_kmeans);
  cmd->add_option("--k", opts->k, "number of clusters")->capture_default_str();
  add_features_option(*cmd, opts->features);
  add_kmeans_options(*cmd, opts->kmeans);
}

}  // namespace zs::driver
