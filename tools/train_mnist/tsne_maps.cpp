#include "tools/train_mnist/tsne_maps.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "runtime/core/error.h"
#include "runtime/embed/map_knn_accuracy.h"
#include "runtime/embed/trustworthiness.h"
#include "runtime/io/atomic_file.h"
#include "runtime/plot/plot.h"

namespace zs::driver {
namespace {

constexpr int64_t kTrustworthinessPoints = 5000;
constexpr int kTrustworthinessNeighbours = 5;
// How well the map separates the digits: leave-one-out 10-NN label accuracy on the same points.
constexpr int kMapNeighbours = 10;

std::string with_commas(int64_t v) {
  std::string s = std::to_string(v);
  for (int p = int(s.size()) - 3; p > 0; p -= 3) s.insert(size_t(p), ",");
  return s;
}

}  // namespace

std::vector<int64_t> random_rows(int64_t available, int64_t count, uint64_t seed) {
  std::vector<int64_t> all(static_cast<size_t>(available));
  for (int64_t i = 0; i < available; ++i) all[size_t(i)] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < count; ++i) {   // partial Fisher-Yates
    const int64_t j = i + int64_t(rng() % uint64_t(available - i));
    std::swap(all[size_t(i)], all[size_t(j)]);
  }
  all.resize(static_cast<size_t>(count));
  return all;
}

TsneMap make_tsne_map(RunContext& ctx, const float* x, int dim, std::span<const int32_t> labels,
                      const std::vector<int64_t>& rows, const TsneOptions& options) {
  const int64_t n = int64_t(rows.size());
  std::vector<float> picked(size_t(n) * size_t(dim));
  TsneMap map;
  map.labels.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    std::copy(x + rows[size_t(r)] * dim, x + (rows[size_t(r)] + 1) * dim, picked.begin() + r * dim);
    map.labels[size_t(r)] = labels[size_t(rows[size_t(r)])];
  }
  ctx.say("t-SNE: " + std::to_string(n) + " x " + std::to_string(dim) + " on " + ctx.backend->name() + " ...");
  const TsneResult r = tsne(*ctx.backend, picked.data(), n, dim, options);
  map.embedding = r.embedding;
  const int64_t tw_points = std::min(n, kTrustworthinessPoints);
  const double tw = tw_points > 2 * kTrustworthinessNeighbours
                        ? trustworthiness(picked.data(), tw_points, dim, map.embedding.data(), 2, kTrustworthinessNeighbours)
                        : NAN;
  const double knn = tw_points > kMapNeighbours
                         ? map_knn_accuracy(map.embedding.data(), tw_points, 2, map.labels.data(), kMapNeighbours)
                         : NAN;
  map.metrics = {{"n", n},
                 {"input_dim", dim},
                 {"perplexity", options.perplexity},
                 {"neighbours", r.neighbours},
                 {"method", to_string(r.method)},
                 {"init", options.init == TsneInit::Pca ? "pca" : "random"},
                 {"device", ctx.backend->name()},
                 {"device_name", ctx.backend->device_description()},
                 {"kl_divergence", r.kl_divergence},
                 {"n_iter", r.n_iter},
                 {"seconds_knn", r.seconds_knn},
                 {"seconds_p", r.seconds_p},
                 {"seconds_optimize", r.seconds_optimize},
                 {"trustworthiness_5", std::isfinite(tw) ? nlohmann::json(tw) : nlohmann::json(nullptr)},
                 {"trustworthiness_points", tw_points},
                 {"knn_accuracy_10", std::isfinite(knn) ? nlohmann::json(knn) : nlohmann::json(nullptr)}};
  ctx.say("t-SNE: KL " + std::to_string(r.kl_divergence) + " after " + std::to_string(r.n_iter + 1) +
          " iterations, " + std::to_string(r.seconds_knn + r.seconds_p + r.seconds_optimize) + " s");
  return map;
}

void draw_tsne_map(const std::string& path, const TsneMap& map, const std::string& title) {
  // Equal axes: one span for both, each centred on its data, on a square canvas.
  float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
  for (size_t e = 0; e < map.embedding.size(); ++e) {
    lo[e % 2] = std::min(lo[e % 2], map.embedding[e]);
    hi[e % 2] = std::max(hi[e % 2], map.embedding[e]);
  }
  const double span = std::max(hi[0] - lo[0], hi[1] - lo[1]) * 1.05 + 1e-6;
  plot::ScatterOptions o;
  o.title = title;
  o.x_label = "t-SNE 1";
  o.y_label = "t-SNE 2";
  o.width = 760;
  o.height = 700;
  o.point_radius = map.labels.size() > 5000 ? 1.2 : 1.6;
  const double cx = (double(lo[0]) + hi[0]) / 2, cy = (double(lo[1]) + hi[1]) / 2;
  o.x_range = plot::AxisRange{cx - span / 2, cx + span / 2};
  o.y_range = plot::AxisRange{cy - span / 2, cy + span / 2};
  plot::class_scatter(path, map.embedding, std::span<const int32_t>(map.labels), o);
}

void add_tsne_maps_option(CLI::App& cmd, int& n) {
  cmd.add_option("--tsne", n,
                 "after training, t-SNE maps of N random training latents (tsne_train.png) and N test latents "
                 "(tsne_test.png); 0 = none")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 30));
}

void write_tsne_maps(RunContext& ctx, const std::vector<float>& z_train, const std::vector<float>& z_test, int dim,
                     int n) {
  if (n <= 0) return;
  nlohmann::json all;
  struct Split {
    const char* name;
    const std::vector<float>& z;
    const std::vector<uint8_t>& labels;
  };
  for (const Split& s : {Split{"train", z_train, ctx.train_labels}, Split{"test", z_test, ctx.data.test.labels}}) {
    const int64_t available = int64_t(s.z.size()) / dim;
    const int64_t count = std::min<int64_t>(n, available);
    TsneOptions o;
    o.seed = ctx.opt.seed;
    if (count < 2 || o.perplexity >= float(count)) {
      ctx.say(std::string("--tsne: skipping the ") + s.name + " map: " + std::to_string(count) +
              " rows are too few for perplexity 30");
      continue;
    }
    const std::vector<int32_t> labels(s.labels.begin(), s.labels.end());
    const TsneMap map = make_tsne_map(ctx, s.z.data(), dim, labels, random_rows(available, count, ctx.opt.seed), o);
    draw_tsne_map(ctx.out_path(std::string("tsne_") + s.name + ".png"), map,
                  "t-SNE of " + with_commas(count) + " " + s.name + " latents (z = " + std::to_string(dim) + ")");
    all[s.name] = map.metrics;
  }
  write_json_atomic(ctx.out_path("tsne_maps.json"), all);
}

}  // namespace zs::driver
