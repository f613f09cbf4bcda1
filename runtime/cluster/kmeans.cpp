// KMeans (Lloyd) with sklearn 1.2's semantics; see kmeans.h.
#include "runtime/cluster/kmeans.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <span>
#include <string>

#include "kernels/cpu/kmeans.h"
#include "runtime/cluster/kmeans_common.h"
#include "runtime/cluster/kmeans_dist.h"
#include "runtime/cluster/kmeans_engine.h"
#include "runtime/core/error.h"

namespace zs {
namespace {

using namespace cluster_detail;

constexpr const char* kWho = "KMeans";

// ZS_KMEANS_BOUNDS=off (or 0) runs the full passes: for benchmarks and bisecting.
bool kmeans_bounds_enabled() {
  const char* env = std::getenv("ZS_KMEANS_BOUNDS");
  return !env || (std::string_view(env) != "off" && std::string_view(env) != "0");
}

// sklearn's _relocate_empty_clusters: every empty cluster takes the point that is farthest from
// its centre (distances from the assignment just made), which leaves its old cluster's sums.
// Unlike sklearn, a point that is the last member of its cluster is skipped, so relocation can
// never create a new empty cluster. sums [k][d] and counts [k] are updated in place.
void relocate_empty_clusters(float* sums, int64_t* counts, int k, const int32_t* labels, const float* min_dist,
                             KMeansEngine& x) {
  std::vector<int> empty;
  for (int j = 0; j < k; ++j)
    if (counts[j] == 0) empty.push_back(j);
  if (empty.empty()) return;
  // Farthest first; ties to the smaller index so the choice does not depend on the sort.
  const int64_t rows = x.rows();
  std::vector<int64_t> order(rows);
  std::iota(order.begin(), order.end(), 0);
  auto farther = [&](int64_t a, int64_t b) { return min_dist[a] != min_dist[b] ? min_dist[a] > min_dist[b] : a < b; };
  const int64_t look = std::min<int64_t>(rows, 2 * static_cast<int64_t>(empty.size()) + 64);
  std::partial_sort(order.begin(), order.begin() + look, order.end(), farther);
  size_t next = 0;
  const int d = x.cols();
  std::vector<float> row(d);
  for (int64_t pos = 0; pos < rows && next < empty.size(); ++pos) {
    if (pos == look) std::sort(order.begin() + look, order.end(), farther);  // rare: many singletons
    const int64_t i = order[pos];
    const int old = labels[i];
    if (counts[old] <= 1) continue;
    const int fresh = empty[next++];
    x.rows_to_host(row.data(), std::span<const int64_t>(&i, 1));
    for (int f = 0; f < d; ++f) {
      sums[int64_t(old) * d + f] -= row[f];
      sums[int64_t(fresh) * d + f] = row[f];
    }
    --counts[old];
    counts[fresh] = 1;
  }
}

struct LloydRun {
  std::vector<float> centers;      // [k][d]
  std::vector<int32_t> labels;     // final labels, consistent with centers
  std::vector<int32_t> labels_old; // labels of the previous iteration
  double inertia = 0.0;
  int n_iter = 0;
  bool done = false;
  bool strict = false;  // stopped because the labels did not change
  bool converged = false;
};

// Copies the centres of the selected runs into one [runs][k][d] block (the kernels' group layout).
void stack_centers(std::vector<float>& out, std::span<LloydRun* const> runs) {
  out.clear();
  for (const LloydRun* r : runs) out.insert(out.end(), r->centers.begin(), r->centers.end());
}

// Lloyd iterations for a set of runs that advance in lockstep: each iteration is ONE pass over the
// data for all runs still active (a kernel group per run), on the engine. A run stops on its own
// criteria exactly as it would alone; the others go on. Distributed (comm not null): the engine
// holds this rank's block (at layout.offset); the sums, counts, "labels changed" and inertia are
// reduced over the ranks, so every rank takes the same decisions.
// With `skips` (bounds on), the passes are bounded ones (kmeans_engine.h): run r keeps bound slot
// r; each pass's fraction of proven pairs is appended to skips.
void run_lloyd_lockstep(KMeansEngine& engine, std::span<LloydRun> runs, int k, int max_iter, double tol_abs,
                        Communicator* comm, const ShardLayout& layout, std::vector<double>* skips) {
  const int64_t n = engine.rows();
  const int d = engine.cols();
  const size_t centre_floats = size_t(k) * d;
  std::vector<float> centres, sums, next(centre_floats), min_dist;
  std::vector<int32_t> labels;
  std::vector<int64_t> counts;
  std::vector<LloydRun*> active;
  std::vector<int32_t> slots;
  for (LloydRun& r : runs) r.labels_old.assign(n, -1);
  if (skips) engine.bounds_begin(static_cast<int>(runs.size()), k);
  for (int it = 0; it < max_iter; ++it) {
    active.clear();
    for (LloydRun& r : runs)
      if (!r.done) active.push_back(&r);
    if (active.empty()) break;
    const int groups = static_cast<int>(active.size());
    stack_centers(centres, active);
    labels.resize(size_t(groups) * n);
    sums.resize(size_t(groups) * centre_floats);
    counts.resize(size_t(groups) * k);
    slots.clear();
    for (const LloydRun* r : active) slots.push_back(static_cast<int32_t>(r - runs.data()));
    engine.lloyd_pass(labels.data(), sums.data(), counts.data(), centres.data(), k, groups,
                      skips ? slots.data() : nullptr);
    if (skips) skips->push_back(engine.last_skip_fraction());
    std::vector<int64_t> changed(groups);   // per group: 1 if a label changed (reduced: ranks with a change)
    for (int g = 0; g < groups; ++g) {
      const int32_t* lab = labels.data() + size_t(g) * n;
      changed[g] = std::equal(lab, lab + n, active[g]->labels_old.begin()) ? 0 : 1;
    }
    if (comm) {
      comm->allreduce_sum(std::span<float>(sums));
      comm->allreduce_sum(std::span<int64_t>(counts));
      comm->allreduce_sum(std::span<int64_t>(changed));
    }
    for (int g = 0; g < groups; ++g) {
      LloydRun& run = *active[g];
      const int32_t* lab = labels.data() + size_t(g) * n;
      float* run_sums = sums.data() + size_t(g) * centre_floats;
      int64_t* run_counts = counts.data() + size_t(g) * k;
      if (std::find(run_counts, run_counts + k, int64_t(0)) != run_counts + k) {
        min_dist.resize(n);   // only now: the distances stay with the engine otherwise
        engine.last_min_dist(min_dist.data(), g);
        if (comm)
          global_relocate_empty_clusters(run_sums, run_counts, k, lab, min_dist.data(), engine, layout, *comm);
        else
          relocate_empty_clusters(run_sums, run_counts, k, lab, min_dist.data(), engine);
      }
      double shift = 0.0;  // squared centre shift summed over centres
      for (int j = 0; j < k; ++j) {
        const double inv = run_counts[j] > 0 ? 1.0 / static_cast<double>(run_counts[j]) : 0.0;
        for (int f = 0; f < d; ++f) {
          const size_t e = size_t(j) * d + f;
          // A cluster can only stay empty when every point is a singleton's last member: keep it.
          next[e] = run_counts[j] > 0 ? static_cast<float>(run_sums[e] * inv) : run.centers[e];
          const double delta = double(next[e]) - run.centers[e];
          shift += delta * delta;
        }
      }
      run.centers.swap(next);
      run.n_iter = it + 1;
      if (changed[g] == 0) {
        run.strict = run.converged = run.done = true;
        run.labels.assign(lab, lab + n);  // computed from centres equal to the final ones
      } else if (shift <= tol_abs) {
        run.converged = run.done = true;
      } else {
        run.labels_old.assign(lab, lab + n);
      }
    }
  }
  // Runs whose last update moved the centres: relabel them with the final centres (one pass).
  active.clear();
  for (LloydRun& r : runs)
    if (!r.strict) active.push_back(&r);
  if (!active.empty()) {
    const int groups = static_cast<int>(active.size());
    stack_centers(centres, active);
    labels.resize(size_t(groups) * n);
    engine.assign(labels.data(), nullptr, centres.data(), k, groups);
    for (int g = 0; g < groups; ++g)
      active[g]->labels.assign(labels.begin() + size_t(g) * n, labels.begin() + size_t(g + 1) * n);
  }
  // Exact inertia of every run (one pass).
  active.clear();
  labels.clear();
  for (LloydRun& r : runs) {
    active.push_back(&r);
    labels.insert(labels.end(), r.labels.begin(), r.labels.end());
    r.labels_old = {};
  }
  stack_centers(centres, active);
  std::vector<double> inertia(runs.size());
  engine.inertia(inertia.data(), centres.data(), labels.data(), k, static_cast<int>(runs.size()));
  if (comm) comm->allreduce_sum(std::span<double>(inertia));
  for (size_t r = 0; r < runs.size(); ++r) runs[r].inertia = inertia[r];
}

}  // namespace

KMeansInit parse_kmeans_init(std::string_view text) {
  if (text == "k-means++") return KMeansInit::KMeansPlusPlus;
  if (text == "random") return KMeansInit::Random;
  throw UserError("--init: unknown initialization '" + std::string(text) + "'; use k-means++ or random");
}

std::string_view to_string(KMeansInit init) { return init == KMeansInit::KMeansPlusPlus ? "k-means++" : "random"; }

KMeansFit fit_kmeans(MatrixView x, const KMeansOptions& options) {
  return fit_host_data(x, options, kWho, [](DeviceMatrixView v, const KMeansOptions& o) { return fit_kmeans(v, o); });
}

KMeansFit fit_kmeans(DeviceMatrixView x, const KMeansOptions& options) {
  Backend& backend = options.backend ? *options.backend : shared_cpu_backend();
  const ColumnStats stats = checked_column_stats(backend, x, kWho);
  // Distributed: x is this rank's block; k is checked against the whole data set.
  Communicator* comm = distributed(options.comm) ? options.comm : nullptr;
  const ShardLayout layout = comm ? shard_layout(x.rows, *comm) : ShardLayout{0, x.rows};
  check_k(options.k, layout.total, kWho);
  check_at_least(options.n_init, 1, kWho, "n_init", "--n-init");
  check_at_least(options.max_iter, 1, kWho, "max_iter", "--max-iter");
  check_tol(options.tol, kWho);

  const int k = options.k;
  const int d = x.cols;
  // The data centred on the backend, once for the whole fit (sklearn centres inside fit, so that
  // the ||x||^2 - 2 x.c + ||c||^2 expansion keeps its precision). Distributed: by the means of
  // the whole data set.
  DeviceBuffer<float> centred(backend, static_cast<size_t>(x.size()));
  std::vector<double> mean(d);
  if (comm) {
    mean = global_feature_means(stats, layout.total, *comm);
    centre_columns_at(backend, centred.data(), x, mean);
  } else {
    for (int f = 0; f < d; ++f) mean[f] = stats.sum[f] / static_cast<double>(x.rows);
    backend.centre_columns(centred.data(), x.data, stats.device.data(), x.rows, d);
  }
  const DeviceMatrixView xc{centred.data(), x.rows, d};
  KMeansEngine engine(backend, xc);

  KMeansFit fit;
  if (options.tol > 0.0) {
    const ColumnStats centred_stats = column_stats(backend, xc);
    fit.tol_abs = options.tol * (comm ? global_mean_feature_variance(centred_stats, x.rows, layout.total, *comm)
                                      : mean_feature_variance(centred_stats, x.rows));
  }
  // Run r draws from its own stream (seed, r), so its result does not depend on the other runs
  // nor on how many runs share a pass.
  std::vector<ClusterRng> rngs;
  for (int r = 0; r < options.n_init; ++r) rngs.emplace_back(options.seed, static_cast<uint64_t>(r));
  std::vector<std::vector<float>> inits = comm ? global_initial_centers(engine, layout, k, options.init, rngs, *comm)
                                                : initial_centers(engine, k, options.init, rngs);
  std::vector<LloydRun> runs(options.n_init);
  for (int r = 0; r < options.n_init; ++r) runs[r].centers = std::move(inits[r]);
  const size_t chunk = static_cast<size_t>(runs_per_pass(k));
  const bool bounds = options.bounds && kmeans_bounds_enabled();
  for (size_t r0 = 0; r0 < runs.size(); r0 += chunk)
    run_lloyd_lockstep(engine, std::span<LloydRun>(runs).subspan(r0, std::min(chunk, runs.size() - r0)), k,
                       options.max_iter, fit.tol_abs, comm, layout, bounds ? &fit.bounds_skip : nullptr);
  int best_index = 0;
  for (int r = 0; r < options.n_init; ++r) {
    fit.init_inertias.push_back(runs[r].inertia);
    if (runs[r].inertia < runs[best_index].inertia) best_index = r;  // ties keep the earlier run
  }
  fit.best_init = best_index;
  LloydRun& best = runs[best_index];
  // Back to the caller's coordinates.
  for (int j = 0; j < k; ++j)
    for (int f = 0; f < d; ++f)
      best.centers[size_t(j) * d + f] = static_cast<float>(best.centers[size_t(j) * d + f] + mean[f]);
  fit.model = KMeansModel{k, d, std::move(best.centers)};
  fit.labels = std::move(best.labels);
  fit.inertia = best.inertia;
  fit.n_iter = best.n_iter;
  fit.n_steps = best.n_iter;
  fit.converged = best.converged;
  return fit;
}

std::vector<int32_t> predict(const KMeansModel& model, MatrixView x, Backend* backend) {
  check_data(x, "KMeans predict");
  Backend& be = backend ? *backend : shared_cpu_backend();
  DeviceBuffer<float> owned;
  return predict(model, resident_data(be, x, owned), &be);
}

std::vector<int32_t> predict(const KMeansModel& model, DeviceMatrixView x, Backend* backend) {
  if (x.cols != model.d)
    throw UserError("KMeans predict: the data have " + std::to_string(x.cols) + " features but the model was fitted on " +
                    std::to_string(model.d) + "; transform the data the same way as the training data");
  if (static_cast<int64_t>(model.centers.size()) != int64_t(model.k) * model.d || model.k < 1)
    throw UserError("KMeans predict: the model holds " + std::to_string(model.centers.size()) + " centre values for k = " +
                    std::to_string(model.k) + " and d = " + std::to_string(model.d) + "; fit or load a complete model");
  std::vector<int32_t> labels(x.rows);
  KMeansEngine(backend ? *backend : shared_cpu_backend(), x).assign(labels.data(), nullptr, model.centers.data(), model.k, 1);
  return labels;
}

double inertia(const KMeansModel& model, MatrixView x, std::span<const int32_t> labels) {
  check_data(x, "KMeans inertia");
  if (x.cols != model.d || static_cast<int64_t>(labels.size()) != x.rows)
    throw UserError("KMeans inertia: the data (" + std::to_string(x.rows) + " x " + std::to_string(x.cols) +
                    "), the labels (" + std::to_string(labels.size()) + ") and the model (d = " +
                    std::to_string(model.d) + ") do not match; pass the labels predicted for these data");
  for (int32_t l : labels)
    if (l < 0 || l >= model.k)
      throw UserError("KMeans inertia: label " + std::to_string(l) + " is not a cluster of this model (k = " +
                      std::to_string(model.k) + "); pass the labels predicted by this model");
  double s = 0.0;
  cpu::kmeans_inertia(&s, x.data, model.centers.data(), labels.data(), x.rows, x.cols, model.k);
  return s;
}

}  // namespace zs
