// MiniBatchKMeans with sklearn 1.2's semantics; see minibatch_kmeans.h.
#include "runtime/cluster/minibatch_kmeans.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <string>

#include "runtime/cluster/kmeans_common.h"
#include "runtime/cluster/kmeans_dist.h"
#include "runtime/cluster/kmeans_engine.h"
#include "runtime/core/error.h"

namespace zs {
namespace {

using namespace cluster_detail;

constexpr const char* kWho = "MiniBatchKMeans";

void check_options(int64_t rows, const MiniBatchKMeansOptions& o) {
  check_k(o.k, rows, kWho);
  check_at_least(o.batch_size, 1, kWho, "batch_size", "--batch-size");
  check_at_least(o.n_init, 1, kWho, "n_init", "--n-init");
  check_at_least(o.max_iter, 1, kWho, "max_iter", "--max-iter");
  check_at_least(o.max_no_improvement, 0, kWho, "max_no_improvement", "--max-no-improvement");
  check_at_least(o.init_size, 0, kWho, "init_size", "--init-size");
  check_tol(o.tol, kWho);
  if (!(o.reassignment_ratio >= 0.0) || !std::isfinite(o.reassignment_ratio))
    throw UserError(std::string(kWho) + ": reassignment_ratio = " + std::to_string(o.reassignment_ratio) +
                    " is invalid; it must be a finite number >= 0");
}

// sklearn's _init_size: 3 * batch by default, at least 3 * k when the requested size is below k,
// at most n.
int64_t effective_init_size(const MiniBatchKMeansOptions& o, int64_t batch, int64_t n) {
  int64_t size = o.init_size > 0 ? o.init_size : 3 * batch;
  if (size < o.k) size = 3 * static_cast<int64_t>(o.k);
  return std::min(size, n);
}

std::vector<int64_t> draw_with_replacement(int64_t n, int64_t count, ClusterRng& rng) {
  std::vector<int64_t> out(count);
  for (int64_t& i : out) i = static_cast<int64_t>(rng.below(n));
  return out;
}

// The inertia of the engine's points under `centers`: the sum of their squared distances.
double assign_inertia(KMeansEngine& engine, const std::vector<float>& centers, int k) {
  std::vector<int32_t> labels(engine.rows());
  std::vector<float> dist(engine.rows());
  engine.assign(labels.data(), dist.data(), centers.data(), k, 1);
  return sum_double(dist);
}

// The rows `ids` of the data set gathered into `out` (backend memory), for an engine of their own:
// on the backend from the engine's data, or (distributed: comm not null, ids global) fetched from
// the ranks that own them.
DeviceMatrixView subset_rows(KMeansEngine& engine, DeviceBuffer<float>& out, const std::vector<int64_t>& ids,
                             Communicator* comm, const ShardLayout& layout) {
  const int d = engine.cols();
  const size_t count = ids.size() * static_cast<size_t>(d);
  if (comm) {
    const std::vector<float> rows = global_rows(engine, layout, ids, *comm);
    out = DeviceBuffer<float>(engine.backend(), std::span<const float>(rows));
  } else {
    out = DeviceBuffer<float>(engine.backend(), count);
    const std::vector<int32_t> ids32(ids.begin(), ids.end());
    engine.backend().gather_rows(out.data(), engine.data(), engine.rows(), ids32, d);
  }
  return DeviceMatrixView{out.data(), static_cast<int64_t>(ids.size()), d};
}

// sklearn's early-stopping state (_mini_batch_convergence).
class ConvergenceMonitor {
 public:
  ConvergenceMonitor(int64_t batch, int64_t n, double tol_abs, int max_no_improvement)
      : alpha_(std::min(1.0, 2.0 * static_cast<double>(batch) / static_cast<double>(n + 1))),
        batch_(static_cast<double>(batch)),
        tol_abs_(tol_abs),
        max_no_improvement_(max_no_improvement) {}

  // step is 0-based; true when the optimization should stop after this step.
  bool should_stop(int64_t step, double centers_squared_diff, double batch_inertia) {
    const double per_sample = batch_inertia / batch_;
    if (step == 0) return false;  // the first step is far worse than the others: ignored
    ewa_ = has_ewa_ ? ewa_ * (1.0 - alpha_) + per_sample * alpha_ : per_sample;
    has_ewa_ = true;
    if (tol_abs_ > 0.0 && centers_squared_diff <= tol_abs_) return true;
    if (!has_min_ || ewa_ < ewa_min_) {
      no_improvement_ = 0;
      ewa_min_ = ewa_;
      has_min_ = true;
    } else {
      ++no_improvement_;
    }
    return max_no_improvement_ > 0 && no_improvement_ >= max_no_improvement_;
  }

 private:
  double alpha_, batch_, tol_abs_;
  int max_no_improvement_;
  bool has_ewa_ = false, has_min_ = false;
  double ewa_ = 0.0, ewa_min_ = 0.0;
  int no_improvement_ = 0;
};

// sklearn's random reassignment: centres whose count is below ratio * max count jump onto distinct
// random points of the batch (at most half the batch, the lowest counts first), and their count
// becomes the smallest count of the centres that stay, so they are not reassigned again at once.
void reassign_low_count_centers(std::vector<float>& centers, std::vector<double>& counts, KMeansEngine& engine,
                                const std::vector<int32_t>& batch_rows, double ratio, ClusterRng& rng) {
  const int64_t batch = static_cast<int64_t>(batch_rows.size());
  const int k = static_cast<int>(counts.size());
  const double threshold = ratio * *std::max_element(counts.begin(), counts.end());
  std::vector<int> low;
  for (int j = 0; j < k; ++j)
    if (counts[j] < threshold) low.push_back(j);
  const size_t cap = static_cast<size_t>(0.5 * static_cast<double>(batch));
  if (low.size() > cap) {
    // Keep the `cap` lowest counts (stable: ties keep the smaller centre index).
    std::stable_sort(low.begin(), low.end(), [&](int a, int b) { return counts[a] < counts[b]; });
    low.resize(cap);
    std::sort(low.begin(), low.end());
  }
  if (low.empty()) return;
  std::vector<bool> is_low(k, false);
  for (int j : low) is_low[j] = true;
  double min_kept = 0.0;
  bool any_kept = false;
  for (int j = 0; j < k; ++j)
    if (!is_low[j] && (!any_kept || counts[j] < min_kept)) {
      min_kept = counts[j];
      any_kept = true;
    }
  std::vector<int64_t> picks = rng.distinct(batch, static_cast<int64_t>(low.size()));
  for (int64_t& p : picks) p = batch_rows[size_t(p)];   // batch positions to rows of the data
  const std::vector<float> picked = engine_rows(engine, picks);
  const int d = engine.cols();
  for (size_t r = 0; r < low.size(); ++r) {
    std::copy(picked.begin() + int64_t(r) * d, picked.begin() + int64_t(r + 1) * d, centers.begin() + int64_t(low[r]) * d);
    counts[low[r]] = min_kept;
  }
}

}  // namespace

KMeansFit fit_minibatch_kmeans(MatrixView x, const MiniBatchKMeansOptions& options) {
  return fit_host_data(x, options, kWho, [](DeviceMatrixView v, const MiniBatchKMeansOptions& o) { return fit_minibatch_kmeans(v, o); });
}

KMeansFit fit_minibatch_kmeans(DeviceMatrixView x, const MiniBatchKMeansOptions& options) {
  Backend& backend = options.backend ? *options.backend : shared_cpu_backend();
  const ColumnStats stats = checked_column_stats(backend, x, kWho);
  // Distributed: x is this rank's block; the row indices below are global (of all the blocks).
  Communicator* comm = distributed(options.comm) ? options.comm : nullptr;
  const ShardLayout layout = comm ? shard_layout(x.rows, *comm) : ShardLayout{0, x.rows};
  check_options(layout.total, options);
  const int k = options.k;
  const int d = x.cols;
  const int64_t n = layout.total;
  const int64_t batch = std::min<int64_t>(options.batch_size, n);
  const int64_t init_size = effective_init_size(options, batch, n);
  KMeansEngine engine(backend, x);

  KMeansFit fit;
  if (options.tol > 0.0)
    fit.tol_abs = options.tol * (comm ? global_mean_feature_variance(stats, x.rows, n, *comm)
                                      : mean_feature_variance(stats, n));
  ClusterRng rng(options.seed);

  // ---- init: the best of n_init initializations, judged on one validation subsample ----
  // The subsamples (init_size rows) are gathered on the backend, each into an engine of its own.
  DeviceBuffer<float> valid, subset;
  KMeansEngine valid_engine(backend, subset_rows(engine, valid, draw_with_replacement(n, init_size, rng), comm, layout));
  std::vector<float> centers;
  double best_valid = 0.0;
  for (int r = 0; r < options.n_init; ++r) {
    std::vector<float> candidate;
    if (init_size < n) {
      KMeansEngine init_engine(backend,
                               subset_rows(engine, subset, draw_with_replacement(n, init_size, rng), comm, layout));
      candidate = initial_centers(init_engine, k, options.init, rng);
    } else if (comm) {
      candidate = std::move(global_initial_centers(engine, layout, k, options.init, {&rng, 1}, *comm)[0]);
    } else {
      candidate = initial_centers(engine, k, options.init, rng);
    }
    const double valid_inertia = assign_inertia(valid_engine, candidate, k);
    fit.init_inertias.push_back(valid_inertia);
    if (r == 0 || valid_inertia < best_valid) {
      best_valid = valid_inertia;
      centers = std::move(candidate);
      fit.best_init = r;
    }
  }

  // ---- minibatch steps ----
  std::vector<float> centers_new(centers.size());
  std::vector<double> counts(k, 0.0);
  ConvergenceMonitor monitor(batch, n, fit.tol_abs, options.max_no_improvement);
  int64_t since_reassign = 0;
  const int64_t n_steps = std::max<int64_t>(1, static_cast<int64_t>(options.max_iter) * n / batch);
  std::vector<int32_t> rows(batch), labels(batch), local_rows(comm ? batch : 0);
  std::iota(local_rows.begin(), local_rows.end(), 0);
  std::vector<float> dist(batch);
  DeviceBuffer<float> batch_data;
  int64_t step = 0;
  for (; step < n_steps; ++step) {
    for (int64_t r = 0; r < batch; ++r) rows[r] = static_cast<int32_t>(rng.below(n));
    // sklearn decides on reassignment before the update: every 10 k samples, or while a centre is unused.
    since_reassign += batch;
    bool reassign = false;
    if (std::find(counts.begin(), counts.end(), 0.0) != counts.end() || since_reassign >= 10 * int64_t(k)) {
      since_reassign = 0;
      reassign = true;
    }
    // Distributed: the batch's rows from their owners, and the same step on every rank on an engine
    // of them (its rows 0..batch-1): the single-process step on the same rows, to the bit.
    std::optional<KMeansEngine> batch_engine;
    if (comm)
      batch_engine.emplace(backend, subset_rows(engine, batch_data, std::vector<int64_t>(rows.begin(), rows.end()),
                                                comm, layout));
    KMeansEngine& step_engine = comm ? *batch_engine : engine;
    const std::vector<int32_t>& step_rows = comm ? local_rows : rows;
    step_engine.minibatch_step(centers_new.data(), counts.data(), labels.data(), dist.data(), centers.data(),
                               step_rows.data(), batch, k);
    const double batch_inertia = sum_double(dist);
    if (reassign && options.reassignment_ratio > 0.0)
      reassign_low_count_centers(centers_new, counts, step_engine, step_rows, options.reassignment_ratio, rng);
    double diff = 0.0;
    if (fit.tol_abs > 0.0)
      for (size_t e = 0; e < centers.size(); ++e) {
        const double delta = double(centers_new[e]) - centers[e];
        diff += delta * delta;
      }
    centers.swap(centers_new);
    if (monitor.should_stop(step, diff, batch_inertia)) {
      fit.converged = true;
      ++step;
      break;
    }
  }

  // ---- final labels and exact inertia over all the data ----
  fit.n_steps = step;
  fit.n_iter = static_cast<int>((step * batch + n - 1) / n);
  fit.labels.resize(x.rows);   // distributed: this rank's block
  engine.assign(fit.labels.data(), nullptr, centers.data(), k, 1);
  engine.inertia(&fit.inertia, centers.data(), fit.labels.data(), k, 1);
  if (comm) comm->allreduce_sum(std::span<double>(&fit.inertia, 1));
  fit.model = KMeansModel{k, d, std::move(centers)};
  return fit;
}

}  // namespace zs
