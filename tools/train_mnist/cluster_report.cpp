#include "tools/train_mnist/cluster_report.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "runtime/cluster/cluster_classifier.h"
#include "runtime/io/atomic_file.h"
#include "runtime/plot/plot.h"

namespace zs::driver {
namespace {

constexpr int kClasses = 10;
constexpr double kBadClusterError = 0.4;  // the blog counts the clusters whose error exceeds 40%

void write_clusters_csv(const std::string& path, const ClusterClassifier& c) {
  std::ostringstream csv;
  csv << "cluster,size,label,error,empty\n";
  for (size_t j = 0; j < c.stats().size(); ++j) {
    const ClusterStats& s = c.stats()[j];
    csv << j << ',' << s.size << ',' << s.label << ',' << s.error << ',' << (s.empty ? 1 : 0) << '\n';
  }
  write_text_atomic(path, csv.str());
}

void draw_confusion(const std::string& path, const ConfusionMatrix& m, const std::string& what) {
  plot::HeatmapOptions h;
  std::ostringstream title;
  title.precision(2);
  title << std::fixed << what << " (error " << 100.0 * m.error() << "%)";
  h.title = title.str();
  h.x_label = "predicted class (majority label of the cluster)";
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

}  // namespace

ScaledFeatures scale_features(const FeatureSet& f, ScaleKind kind) {
  Scaler scaler(kind);
  scaler.fit(f.train_view(), &world());   // this rank's block under mpirun: the whole set's statistics
  ScaledFeatures s{std::vector<float>(f.train.size()), std::vector<float>(f.test.size())};
  scaler.transform(s.train.data(), f.train_view());
  scaler.transform(s.test.data(), f.test_view());
  return s;
}

nlohmann::json cluster_and_classify(RunContext& ctx, const FeatureSet& f, int k, const KMeansSettings& s,
                                    const ResidentFeatures* resident) {
  if (s.scale != ScaleKind::None) resident = nullptr;   // scaled on the host
  const ScaledFeatures x = resident ? ScaledFeatures{} : scale_features(f, s.scale);
  const MatrixView train_view{x.train.data(), f.train_count, f.dim}, test_view{x.test.data(), f.test_count, f.dim};

  ctx.say("kmeans: " + std::string(s.minibatch ? "minibatch" : "lloyd") + " k=" + std::to_string(k) + " on " +
          std::to_string(f.train_total()) + " x " + std::to_string(f.dim) + " features (" + f.source + ") on " +
          ctx.backend->name() + ", " + std::to_string(omp_get_max_threads()) + " threads");
  const auto t0 = std::chrono::steady_clock::now();
  const KMeansFit fit = resident ? fit_clusters(resident->train, k, s, *ctx.backend)
                                 : fit_clusters(train_view, k, s, *ctx.backend);
  const double fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const ClusterClassifier classifier(fit.labels, f.train_labels, fit.model, kClasses);
  const std::vector<int32_t> test_clusters = resident ? predict(fit.model, resident->test, ctx.backend.get())
                                                      : predict(fit.model, test_view, ctx.backend.get());
  const ConfusionMatrix train_cm(f.train_labels, classifier.predict(fit.labels), kClasses);
  const ConfusionMatrix test_cm(f.test_labels, classifier.predict(test_clusters), kClasses);

  const std::string what = "KMeans k=" + std::to_string(k) + (f.is_pixels() ? " on pixels" : " on latents");
  write_clusters_csv(ctx.out_path("clusters.csv"), classifier);
  draw_confusion(ctx.out_path("confusion_train.png"), train_cm, what + ", training set");
  draw_confusion(ctx.out_path("confusion_test.png"), test_cm, what + ", test set");
  if (f.is_pixels() && f.dim == kPixels && (s.scale == ScaleKind::None || s.scale == ScaleKind::Unit))
    draw_centers(ctx.out_path("centers.png"), fit.model);

  nlohmann::json m;
  m["k"] = k;
  m["device"] = ctx.backend->name();
  m["device_name"] = ctx.backend->device_description();
  m["cpu_isa"] = ctx.cpu_isa;
  record_kmeans_settings(m, s);
  m["features"] = f.source;
  m["feature_dim"] = f.dim;
  m["threads"] = omp_get_max_threads();
  if (world().size() > 1) m["ranks"] = world().size();   // under mpirun (docs/distributed.md)
  m["train_size"] = f.train_total();
  m["test_size"] = f.test_count;
  m["inertia"] = fit.inertia;
  m["fit_seconds"] = fit_seconds;
  m["n_iter"] = fit.n_iter;
  m["n_steps"] = fit.n_steps;
  m["converged"] = fit.converged;
  m["best_init"] = fit.best_init;
  m["train_error"] = train_cm.error();
  m["test_error"] = test_cm.error();
  m["clusters_over_40pct_error"] = classifier.clusters_with_error_above(kBadClusterError);
  m["clusters_error_above_40"] = m["clusters_over_40pct_error"];  // the name earlier runs used
  m["clusters"] = classifier;
  m["confusion_train"] = train_cm;
  m["confusion_test"] = test_cm;

  std::ostringstream done;
  done.precision(4);
  done << "kmeans: inertia " << fit.inertia << ", fit " << fit_seconds << " s, train error " << 100 * train_cm.error()
       << "%, test error " << 100 * test_cm.error() << "%";
  ctx.say(done.str());
  return m;
}

}  // namespace zs::driver
