// MiniBatchKMeans with sklearn 1.2's semantics; see minibatch_kmeans.h.
#include "runtime/cluster/minibatch_kmeans.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "runtime/cluster/kmeans_common.h"
#include "runtime/cluster/kmeans_dist.h"
#include "runtime/cluster/kmeans_engine.h"
#include "runtime/core/error.h"

namespace zs {
namespace {

using namespace cluster_detail;

constexpr const char* kWho = "MiniBatchKMeans";

// `rows`: of the whole data set (all ranks' blocks).
void check_options(MatrixView x, int64_t rows, const MiniBatchKMeansOptions& o) {
  check_data(x, kWho);
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
void reassign_low_count_centers(std::vector<float>& centers, std::vector<double>& counts, MatrixView batch,
                                double ratio, ClusterRng& rng) {
  const int k = static_cast<int>(counts.size());
  const double threshold = ratio * *std::max_element(counts.begin(), counts.end());
  std::vector<int> low;
  for (int j = 0; j < k; ++j)
    if (counts[j] < threshold) low.push_back(j);
  const size_t cap = static_cast<size_t>(0.5 * static_cast<double>(batch.rows));
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
  const std::vector<int64_t> picks = rng.distinct(batch.rows, static_cast<int64_t>(low.size()));
  const int d = batch.cols;
  for (size_t r = 0; r < low.size(); ++r) {
    std::copy(batch.row(picks[r]), batch.row(picks[r]) + d, centers.begin() + int64_t(low[r]) * d);
    counts[low[r]] = min_kept;
  }
}

}  // namespace

KMeansFit fit_minibatch_kmeans(MatrixView x, const MiniBatchKMeansOptions& options) {
  Communicator* comm = options.comm;
  const bool dist = distributed(comm);
  if (dist) check_data(x, kWho);   // before the first collective's layout
  const ShardLayout layout = dist ? shard_layout(x.rows, *comm) : ShardLayout{0, x.rows};
  check_options(x, layout.total, options);
  const int k = options.k;
  const int d = x.cols;
  const int64_t n = layout.total;   // global row indices below; x holds [offset, offset + x.rows)
  // Rows of the whole data set by global index (distributed: from their owners).
  const auto rows_of = [&](const std::vector<int64_t>& ids) {
    return dist ? global_rows(x, layout, ids, *comm) : gather_rows(x, ids);
  };
  const int64_t batch = std::min<int64_t>(options.batch_size, n);
  const int64_t init_size = effective_init_size(options, batch, n);
  // The data go to the device once, for the whole fit (the cpu engine only computes the norms).
  Backend& backend = options.backend ? *options.backend : shared_cpu_backend();
  KMeansEngine engine(backend, x);

  KMeansFit fit;
  if (options.tol > 0.0)
    fit.tol_abs = options.tol * (dist ? global_mean_feature_variance(x, n, *comm) : mean_feature_variance(x));
  ClusterRng rng(options.seed);

  // ---- init: the best of n_init initializations, judged on one validation subsample ----
  // The subsamples are small (init_size rows): each gets its own engine.
  const std::vector<int64_t> valid_rows = draw_with_replacement(n, init_size, rng);
  const std::vector<float> valid = rows_of(valid_rows);
  const MatrixView valid_view{valid.data(), init_size, d};
  KMeansEngine valid_engine(backend, valid_view);
  std::vector<float> centers;
  double best_valid = 0.0;
  for (int r = 0; r < options.n_init; ++r) {
    std::vector<float> candidate;
    if (init_size < n) {
      const std::vector<int64_t> rows = draw_with_replacement(n, init_size, rng);
      const std::vector<float> subset = rows_of(rows);
      const MatrixView subset_view{subset.data(), init_size, d};
      KMeansEngine subset_engine(backend, subset_view);
      candidate = initial_centers(subset_engine, subset_view, k, options.init, rng);
    } else if (dist) {
      candidate = std::move(global_initial_centers(engine, x, layout, k, options.init, {&rng, 1}, *comm)[0]);
    } else {
      candidate = initial_centers(engine, x, k, options.init, rng);
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
  std::vector<int32_t> rows(batch), labels(batch), local_rows(dist ? batch : 0);
  std::vector<float> dists(batch), xb;
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
    if (dist) {
      // The batch's rows from their owners, and the same step on every rank on an engine of them
      // (rows 0..batch-1 of it): the twin of the single-process step on the same rows.
      xb = rows_of(std::vector<int64_t>(rows.begin(), rows.end()));
      KMeansEngine batch_engine(backend, MatrixView{xb.data(), batch, d});
      std::iota(local_rows.begin(), local_rows.end(), 0);
      batch_engine.minibatch_step(centers_new.data(), counts.data(), labels.data(), dists.data(), centers.data(),
                                  local_rows.data(), batch, k);
    } else {
      engine.minibatch_step(centers_new.data(), counts.data(), labels.data(), dists.data(), centers.data(),
                            rows.data(), batch, k);
    }
    const double batch_inertia = sum_double(dists);
    if (reassign && options.reassignment_ratio > 0.0) {
      xb.resize(static_cast<size_t>(batch) * d);   // the batch's rows, on the host only when needed
      if (!dist)
        for (int64_t r = 0; r < batch; ++r) std::copy(x.row(rows[r]), x.row(rows[r]) + d, xb.begin() + r * d);
      reassign_low_count_centers(centers_new, counts, MatrixView{xb.data(), batch, d}, options.reassignment_ratio, rng);
    }
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
  if (dist) comm->allreduce_sum(std::span<double>(&fit.inertia, 1));
  fit.model = KMeansModel{k, d, std::move(centers)};
  return fit;
}

}  // namespace zs
