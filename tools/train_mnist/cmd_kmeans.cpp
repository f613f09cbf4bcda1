// train_mnist kmeans: KMeans or MiniBatchKMeans on the (scaled) training images, then the clusters
// as a classifier (majority label of each cluster's training members; runtime/cluster).
// Outputs in --out: metrics.json, clusters.csv (size, label and error of every cluster),
// confusion_train.png, confusion_test.png (counts), centers.png (the centres as images, when the
// scaler keeps pixels viewable: none or unit).
// metrics.json keys: command, algo, k, init, n_init, max_iter, tol, batch_size, scale, seed,
// threads, train_size, test_size, inertia (on the scaled training set), fit_seconds, n_iter,
// n_steps, converged, best_init, train_error, test_error, clusters_error_above_40,
// clusters [{cluster, size, label, error, empty}], confusion_train, confusion_test
// ({counts, row_percent, error}), seconds_total.
// KMeans runs on the CPU twin kernels whatever --device says (no GPU KMeans kernels yet).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/cluster/cluster_classifier.h"
#include "runtime/cluster/kmeans.h"
#include "runtime/cluster/minibatch_kmeans.h"
#include "runtime/cluster/scalers.h"
#include "runtime/core/error.h"
#include "runtime/io/atomic_file.h"
#include "runtime/plot/plot.h"
#include "tools/train_mnist/commands.h"
#include "tools/train_mnist/common.h"

namespace zs::driver {
namespace {

constexpr int kClasses = 10;

struct KMeansCmdOptions {
  CommonOptions common;
  int k = 10;
  std::string algo = "lloyd";
  std::string init = "k-means++";
  int n_init = 10;      // minibatch default: 3 (when --n-init is not given)
  int max_iter = 300;   // minibatch default: 100
  double tol = 1e-4;    // minibatch default: 0
  int batch_size = 200;
  int max_no_improvement = 10;
  double reassignment_ratio = 0.01;
  int init_size = 0;
  std::string scale = "unit";
  // Whether the user gave the options whose default depends on --algo.
  CLI::Option* n_init_opt = nullptr;
  CLI::Option* max_iter_opt = nullptr;
  CLI::Option* tol_opt = nullptr;
};

std::vector<int32_t> as_int_labels(const std::vector<uint8_t>& labels) { return {labels.begin(), labels.end()}; }

std::vector<float> scaled_images(const Scaler& scaler, const ImageSet& set) {
  std::vector<float> out(set.pixels.size());
  scaler.transform(out.data(), set.pixels.data(), set.count, set.pixels_per_image());
  return out;
}

void write_clusters_csv(const std::string& path, const ClusterClassifier& c) {
  std::ostringstream csv;
  csv << "cluster,size,label,error,empty\n";
  for (size_t j = 0; j < c.stats().size(); ++j) {
    const ClusterStats& s = c.stats()[j];
    csv << j << ',' << s.size << ',' << s.label << ',' << s.error << ',' << (s.empty ? 1 : 0) << '\n';
  }
  write_text_atomic(path, csv.str());
}

void draw_confusion(const std::string& path, const ConfusionMatrix& m, const std::string& split) {
  plot::HeatmapOptions h;
  std::ostringstream title;
  title.precision(2);
  title << std::fixed << "KMeans cluster classifier, " << split << " (error " << 100.0 * m.error() << "%)";
  h.title = title.str();
  h.x_label = "predicted class";
  h.y_label = "true class";
  plot::confusion_heatmap(path, m.counts(), m.n_classes(), m.n_classes(), h);
}

// The centres as 28x28 images, 10 per row, each rescaled to [0, 1] for display.
void draw_centers(const std::string& path, const KMeansModel& model) {
  const int cols = std::min(model.k, 10), rows = (model.k + cols - 1) / cols;
  std::vector<float> images(size_t(rows) * cols * kPixels, 0.0f);
  for (int j = 0; j < model.k; ++j) {
    const float* c = model.center(j);
    const auto [lo, hi] = std::minmax_element(c, c + kPixels);
    const float span = *hi > *lo ? *hi - *lo : 1.0f;
    for (int p = 0; p < kPixels; ++p) images[size_t(j) * kPixels + p] = (c[p] - *lo) / span;
  }
  plot::ImageGridOptions g;
  g.title = "cluster centres (k = " + std::to_string(model.k) + ")";
  plot::image_grid(path, images, rows, cols, g);
}

void run_kmeans(const KMeansCmdOptions& o) {
  const bool minibatch = o.algo == "minibatch";
  if (!minibatch && o.algo != "lloyd") throw UserError("--algo " + o.algo + ": unknown algorithm; use lloyd or minibatch");
  const KMeansInit init = parse_kmeans_init(o.init);
  const ScaleKind scale = parse_scale_kind(o.scale);
  // Options whose default differs between the algorithms (sklearn's defaults).
  const int n_init = o.n_init_opt->count() ? o.n_init : (minibatch ? 3 : 10);
  const int max_iter = o.max_iter_opt->count() ? o.max_iter : (minibatch ? 100 : 300);
  const double tol = o.tol_opt->count() ? o.tol : (minibatch ? 0.0 : 1e-4);

  RunContext ctx(o.common);
  if (ctx.backend->name() != "cpu") ctx.say("kmeans: runs on the CPU kernels (no " + ctx.backend->name() + " KMeans yet)");
  const ImageSet& train = ctx.data.train;
  const ImageSet& test = ctx.data.test;
  const int d = train.pixels_per_image();

  Scaler scaler(scale);
  std::vector<float> x_train(train.pixels.begin(), train.pixels.end());
  scaler.fit(MatrixView{x_train.data(), train.count, d});
  scaler.transform(x_train.data(), MatrixView{x_train.data(), train.count, d});
  const std::vector<float> x_test = scaled_images(scaler, test);
  const MatrixView train_view{x_train.data(), train.count, d}, test_view{x_test.data(), test.count, d};

  ctx.say("kmeans: " + o.algo + " k=" + std::to_string(o.k) + " on " + std::to_string(train.count) + " images, " +
          std::to_string(omp_get_max_threads()) + " threads");
  const auto t0 = std::chrono::steady_clock::now();
  KMeansFit fit;
  if (minibatch) {
    MiniBatchKMeansOptions m;
    m.k = o.k;
    m.init = init;
    m.batch_size = o.batch_size;
    m.n_init = n_init;
    m.max_iter = max_iter;
    m.tol = tol;
    m.max_no_improvement = o.max_no_improvement;
    m.reassignment_ratio = o.reassignment_ratio;
    m.init_size = o.init_size;
    m.seed = o.common.seed;
    fit = fit_minibatch_kmeans(train_view, m);
  } else {
    KMeansOptions l;
    l.k = o.k;
    l.init = init;
    l.n_init = n_init;
    l.max_iter = max_iter;
    l.tol = tol;
    l.seed = o.common.seed;
    fit = fit_kmeans(train_view, l);
  }
  const double fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::vector<int32_t> train_classes = as_int_labels(train.labels), test_classes = as_int_labels(test.labels);
  const ClusterClassifier classifier(fit.labels, train_classes, fit.model, kClasses);
  const std::vector<int32_t> test_clusters = predict(fit.model, test_view);
  const ConfusionMatrix train_cm(train_classes, classifier.predict(fit.labels), kClasses);
  const ConfusionMatrix test_cm(test_classes, classifier.predict(test_clusters), kClasses);

  write_clusters_csv(ctx.out_path("clusters.csv"), classifier);
  draw_confusion(ctx.out_path("confusion_train.png"), train_cm, "training set");
  draw_confusion(ctx.out_path("confusion_test.png"), test_cm, "test set");
  if (d == kPixels && (scale == ScaleKind::None || scale == ScaleKind::Unit))
    draw_centers(ctx.out_path("centers.png"), fit.model);

  nlohmann::json m;
  m["command"] = "kmeans";
  m["algo"] = o.algo;
  m["k"] = o.k;
  m["init"] = std::string(to_string(init));
  m["n_init"] = n_init;
  m["max_iter"] = max_iter;
  m["tol"] = tol;
  if (minibatch) m["batch_size"] = o.batch_size;
  m["scale"] = std::string(to_string(scale));
  m["seed"] = o.common.seed;
  m["threads"] = omp_get_max_threads();
  m["train_size"] = train.count;
  m["test_size"] = test.count;
  m["inertia"] = fit.inertia;
  m["fit_seconds"] = fit_seconds;
  m["n_iter"] = fit.n_iter;
  m["n_steps"] = fit.n_steps;
  m["converged"] = fit.converged;
  m["best_init"] = fit.best_init;
  m["train_error"] = train_cm.error();
  m["test_error"] = test_cm.error();
  m["clusters_error_above_40"] = classifier.clusters_with_error_above(0.4);
  m["clusters"] = classifier;
  m["confusion_train"] = train_cm;
  m["confusion_test"] = test_cm;
  m["seconds_total"] = ctx.seconds_since_start();
  write_json_atomic(ctx.out_path("metrics.json"), m);

  std::ostringstream done;
  done.precision(4);
  done << "kmeans: inertia " << fit.inertia << ", fit " << fit_seconds << " s, train error " << 100 * train_cm.error()
       << "%, test error " << 100 * test_cm.error() << "%";
  ctx.say(done.str());
}

}  // namespace

void register_kmeans(CLI::App& app) {
  auto opts = std::make_shared<KMeansCmdOptions>();
  CLI::App* cmd = app.add_subcommand("kmeans", "KMeans / MiniBatchKMeans clustering as an unsupervised classifier");
  add_common_options(*cmd, opts->common);
  cmd->add_option("--k", opts->k, "number of clusters")->capture_default_str();
  cmd->add_option("--algo", opts->algo, "lloyd|minibatch")->capture_default_str();
  cmd->add_option("--init", opts->init, "k-means++|random")->capture_default_str();
  opts->n_init_opt = cmd->add_option("--n-init", opts->n_init, "initializations (default 10 lloyd, 3 minibatch)");
  opts->max_iter_opt = cmd->add_option("--max-iter", opts->max_iter, "iterations / epochs (default 300 lloyd, 100 minibatch)");
  opts->tol_opt = cmd->add_option("--tol", opts->tol, "relative tolerance on the centre shift (default 1e-4 lloyd, 0 minibatch)");
  cmd->add_option("--batch-size", opts->batch_size, "minibatch size")->capture_default_str();
  cmd->add_option("--max-no-improvement", opts->max_no_improvement, "minibatch: steps without EWA-inertia improvement (0 = off)")
      ->capture_default_str();
  cmd->add_option("--reassignment-ratio", opts->reassignment_ratio, "minibatch: low-count centre reassignment ratio")
      ->capture_default_str();
  cmd->add_option("--init-size", opts->init_size, "minibatch: init subsample size (0 = 3 x batch size)")->capture_default_str();
  cmd->add_option("--scale", opts->scale, "none|unit|normalize|standardize")->capture_default_str();
  cmd->callback([opts] { run_kmeans(*opts); });
}

}  // namespace zs::driver
