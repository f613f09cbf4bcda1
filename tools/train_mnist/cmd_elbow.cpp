// train_mnist elbow: the inertia of a KMeans fit for every k in k-min, k-min + k-step, ... (up to and
// including k-max when the step lands on it, like Python's range(k_min, k_max + 1, k_step)), with the
// kmeans options, on the same (scaled) features as kmeans. Every k is fitted from scratch with the
// same seed.
// Outputs in --out: elbow.csv (k,inertia,seconds), elbow.png (inertia against k), metrics.json:
// command, k_min, k_max, k_step, the kmeans settings (algo, init, n_init, ...), features,
// feature_dim, threads, train_size, ks, inertias, seconds (fit seconds per k), n_iters,
// fit_seconds_total, seconds_total.
#include <omp.h>

#include <chrono>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/io/atomic_file.h"
#include "runtime/plot/plot.h"
#include "tools/train_mnist/cluster_report.h"
#include "tools/train_mnist/commands.h"
#include "tools/train_mnist/common.h"
#include "tools/train_mnist/features.h"
#include "tools/train_mnist/kmeans_options.h"

namespace zs::driver {
namespace {

struct ElbowOptions {
  CommonOptions common;
  // The blog's elbow sweeps up to its k = 225 and beyond; step 8 lands on 250: 32 fits.
  int k_min = 2;
  int k_max = 250;
  int k_step = 8;
  std::string features = "pixels";
  KMeansCliOptions kmeans;
};

struct ElbowPoint {
  int k = 0;
  double inertia = 0, seconds = 0;
  int n_iter = 0;
};

void check_range(const ElbowOptions& o) {
  require_valid_k("--k-min", o.k_min, std::numeric_limits<int64_t>::max());
  if (o.k_step < 1) throw UserError("--k-step " + std::to_string(o.k_step) + ": must be at least 1");
  if (o.k_min > o.k_max)
    throw UserError("--k-min " + std::to_string(o.k_min) + " is above --k-max " + std::to_string(o.k_max) +
                    "; give k-min <= k-max");
}

void write_elbow_csv(const std::string& path, const std::vector<ElbowPoint>& points) {
  std::ostringstream csv;
  csv.precision(10);
  csv << "k,inertia,seconds\n";
  for (const ElbowPoint& p : points) csv << p.k << ',' << p.inertia << ',' << p.seconds << '\n';
  write_text_atomic(path, csv.str());
}

void draw_elbow(const std::string& path, const std::vector<ElbowPoint>& points, const KMeansSettings& s,
                const FeatureSet& f) {
  plot::Series series;
  series.name = "inertia";
  series.markers = true;
  for (const ElbowPoint& p : points) {
    series.x.push_back(p.k);
    series.y.push_back(p.inertia);
  }
  plot::LinePlotOptions o;
  o.title = "elbow: KMeans inertia against k (" + std::string(f.is_pixels() ? "pixels" : "latents") + ", scale " +
            std::string(to_string(s.scale)) + ")";
  o.x_label = "k (number of clusters)";
  o.y_label = "inertia (sum of squared distances)";
  plot::line_plot(path, {series}, o);
}

void run_elbow(const ElbowOptions& o) {
  const KMeansSettings s = resolve_kmeans_options(o.kmeans, o.common.seed);
  check_range(o);
  std::unique_ptr<RunContext> run;
  const FeatureSet f = open_features(o.features, o.common, run, TrainSplit::RankShard);
  RunContext& ctx = *run;
  require_valid_k("--k-max", o.k_max, f.train_total());

  const std::vector<float> x = scale_features(f, s.scale).train;
  const MatrixView view{x.data(), f.train_count, f.dim};
  std::vector<ElbowPoint> points;
  double fit_total = 0;
  for (int k = o.k_min; k <= o.k_max; k += o.k_step) {
    const auto t0 = std::chrono::steady_clock::now();
    const KMeansFit fit = fit_clusters(view, k, s, *ctx.backend);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fit_total += secs;
    points.push_back({k, fit.inertia, secs, fit.n_iter});
    std::ostringstream line;
    line.precision(6);
    line << "elbow: k=" << k << " inertia " << fit.inertia << " (" << fit.n_iter << " iterations, " << secs << " s)";
    ctx.say(line.str());
    if (k > o.k_max - o.k_step) break;  // the next k would pass k-max (and could overflow int)
  }

  write_elbow_csv(ctx.out_path("elbow.csv"), points);
  draw_elbow(ctx.out_path("elbow.png"), points, s, f);

  nlohmann::json m;
  m["command"] = "elbow";
  m["k_min"] = o.k_min;
  m["k_max"] = o.k_max;
  m["k_step"] = o.k_step;
  record_kmeans_settings(m, s);
  m["device"] = ctx.backend->name();
  m["device_name"] = ctx.backend->device_description();
  m["cpu_isa"] = ctx.cpu_isa;
  m["features"] = f.source;
  m["feature_dim"] = f.dim;
  m["threads"] = omp_get_max_threads();
  m["train_size"] = f.train_total();
  if (world().size() > 1) m["ranks"] = world().size();   // under mpirun (docs/distributed.md)
  std::vector<int> ks, n_iters;
  std::vector<double> inertias, seconds;
  for (const ElbowPoint& p : points) {
    ks.push_back(p.k);
    inertias.push_back(p.inertia);
    seconds.push_back(p.seconds);
    n_iters.push_back(p.n_iter);
  }
  m["ks"] = ks;
  m["inertias"] = inertias;
  m["seconds"] = seconds;
  m["n_iters"] = n_iters;
  m["fit_seconds_total"] = fit_total;
  ctx.write_metrics(std::move(m));
}

}  // namespace

void register_elbow(CLI::App& app) {
  std::shared_ptr<ElbowOptions> opts;
  CLI::App* cmd = add_command(app, "elbow", "KMeans inertia for a range of k (the elbow plot)", opts, run_elbow);
  cmd->add_option("--k-min", opts->k_min, "smallest k")->capture_default_str();
  cmd->add_option("--k-max", opts->k_max, "largest k (at most the number of training samples)")->capture_default_str();
  cmd->add_option("--k-step", opts->k_step, "step between the k values")->capture_default_str();
  add_features_option(*cmd, opts->features);
  add_kmeans_options(*cmd, opts->kmeans);
}

}  // namespace zs::driver
