// Shared pieces of KMeans and MiniBatchKMeans (see kmeans_common.h).
#include "runtime/cluster/kmeans_common.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/kmeans.h"
#include "runtime/core/error.h"

namespace zs::cluster_detail {

namespace {

// Throws UserError unless the matrix has at least one row and column and at most 2^31 - 1 rows.
void check_shape(bool has_data, int64_t rows, int cols, const char* who) {
  if (!has_data || rows < 1 || cols < 1)
    throw UserError(std::string(who) + ": the data set is empty (" + std::to_string(rows) + " rows of " +
                    std::to_string(cols) + " features); pass at least one sample with at least one feature");
  if (rows > INT32_MAX)
    throw UserError(std::string(who) + ": " + std::to_string(rows) +
                    " samples is more than this implementation supports (2^31 - 1); subsample the data");
}

}  // namespace

void check_data(MatrixView x, const char* who) {
  check_shape(x.data != nullptr, x.rows, x.cols, who);
  int64_t bad = INT64_MAX;  // the first sample with a non-finite value
#pragma omp parallel for schedule(static) reduction(min : bad)
  for (int64_t i = 0; i < x.rows; ++i) {
    const float* row = x.row(i);
    for (int f = 0; f < x.cols; ++f)
      if (!std::isfinite(row[f])) bad = std::min(bad, i);
  }
  if (bad != INT64_MAX)
    throw UserError(std::string(who) + ": sample " + std::to_string(bad) +
                    " contains a NaN or infinite value; clean the input data (or its scaling) first");
}

void check_k(int k, int64_t rows, const char* who) {
  if (k < 1 || k > rows)
    throw UserError(std::string(who) + ": k = " + std::to_string(k) +
                    " clusters is impossible with " + std::to_string(rows) +
                    " samples; choose k (--k) between 1 and the number of samples");
}

void check_at_least(int64_t value, int64_t min_value, const char* who, const char* name, const char* flag) {
  if (value < min_value)
    throw UserError(std::string(who) + ": " + name + " = " + std::to_string(value) + " is invalid; " + name +
                    " (" + flag + ") must be at least " + std::to_string(min_value));
}

void check_tol(double tol, const char* who) {
  if (!(tol >= 0.0) || !std::isfinite(tol))
    throw UserError(std::string(who) + ": tol = " + std::to_string(tol) +
                    " is invalid; the tolerance (--tol) must be a finite number >= 0");
}

DeviceMatrixView resident_data(Backend& backend, MatrixView x, DeviceBuffer<float>& owned) {
  if (backend.memory_is_host()) return {x.data, x.rows, x.cols};
  owned = DeviceBuffer<float>(backend, std::span<const float>(x.data, static_cast<size_t>(x.size())));
  return {owned.data(), x.rows, x.cols};
}

ColumnStats column_stats(Backend& backend, DeviceMatrixView x) {
  ColumnStats s{{}, {}, DeviceBuffer<double>(backend, 2 * static_cast<size_t>(x.cols))};
  backend.column_moments(s.device.data(), s.device.data() + x.cols, x.data, x.rows, x.cols);
  const std::vector<double> both = s.device.download();
  s.sum.assign(both.begin(), both.begin() + x.cols);
  s.sq_dev.assign(both.begin() + x.cols, both.end());
  return s;
}

ColumnStats checked_column_stats(Backend& backend, DeviceMatrixView x, const char* who) {
  check_shape(x.data != nullptr, x.rows, x.cols, who);
  ColumnStats stats = column_stats(backend, x);
  for (int f = 0; f < x.cols; ++f)
    if (!std::isfinite(stats.sum[f]))
      throw UserError(std::string(who) + ": feature " + std::to_string(f) +
                      " holds a NaN or infinite value; clean the input data (or its scaling) first");
  return stats;
}

double mean_feature_variance(const ColumnStats& stats, int64_t rows) {
  double total = 0.0;
  for (double s : stats.sq_dev) total += s / static_cast<double>(rows);
  return total / static_cast<double>(stats.sq_dev.size());
}

int default_local_trials(int k) { return 2 + static_cast<int>(std::log(static_cast<double>(k))); }

std::vector<std::vector<int64_t>> kmeans_plusplus_runs(KMeansEngine& engine, int k, int n_local_trials,
                                                       std::span<ClusterRng> rngs) {
  const int64_t n = engine.rows();
  const int runs = static_cast<int>(rngs.size());
  const int t = n_local_trials;
  std::vector<std::vector<int64_t>> chosen(runs);
  std::vector<int32_t> first(runs);
  for (int r = 0; r < runs; ++r) {
    chosen[r].reserve(k);
    chosen[r].push_back(static_cast<int64_t>(rngs[r].below(n)));
    first[r] = static_cast<int32_t>(chosen[r][0]);
  }
  // The engine keeps closest[r][i], the squared distance of point i to the nearest centre chosen
  // so far by run r, and the candidates' distances.
  engine.pp_start(first.data(), runs);
  std::vector<double> uniforms(static_cast<size_t>(runs) * t), cand_pot(static_cast<size_t>(runs) * t);
  std::vector<int32_t> cand_ids(static_cast<size_t>(runs) * t);
  std::vector<int> best(runs);
  for (int c = 1; c < k; ++c) {
    for (int r = 0; r < runs; ++r)
      for (int s = 0; s < t; ++s) uniforms[size_t(r) * t + s] = rngs[r].uniform();
    engine.pp_candidates(cand_ids.data(), cand_pot.data(), uniforms.data(), t);
    for (int r = 0; r < runs; ++r) {
      const double* pots = cand_pot.data() + size_t(r) * t;
      best[r] = static_cast<int>(std::min_element(pots, pots + t) - pots);  // ties: the first candidate
      chosen[r].push_back(cand_ids[size_t(r) * t + best[r]]);
    }
    engine.pp_keep(best.data());
  }
  return chosen;
}

std::vector<std::vector<int64_t>> kmeans_plusplus_runs(MatrixView x, const float* x_sqnorm, int k,
                                                       int n_local_trials, std::span<ClusterRng> rngs) {
  KMeansEngine engine(shared_cpu_backend(), x, x_sqnorm);
  return kmeans_plusplus_runs(engine, k, n_local_trials, rngs);
}

std::vector<int64_t> kmeans_plusplus(MatrixView x, const float* x_sqnorm, int k, int n_local_trials,
                                     ClusterRng& rng) {
  return kmeans_plusplus_runs(x, x_sqnorm, k, n_local_trials, std::span<ClusterRng>(&rng, 1))[0];
}

int runs_per_pass(int k) { return std::max(1, kMaxCentresPerPass / k); }

// The rows `ids` of the engine's data, on the host.
std::vector<float> engine_rows(KMeansEngine& engine, std::span<const int64_t> ids) {
  std::vector<float> out(ids.size() * static_cast<size_t>(engine.cols()));
  engine.rows_to_host(out.data(), ids);
  return out;
}

std::vector<std::vector<float>> initial_centers(KMeansEngine& engine, int k, KMeansInit init,
                                                std::span<ClusterRng> rngs) {
  std::vector<std::vector<float>> centres;
  if (init == KMeansInit::Random) {
    for (ClusterRng& rng : rngs) centres.push_back(engine_rows(engine, rng.distinct(engine.rows(), k)));
    return centres;
  }
  // k-means++ in chunks of runs: a chunk keeps t x n candidate distances per run in memory.
  constexpr int kMaxCandidatesPerPass = 64;
  const int trials = default_local_trials(k);
  const size_t chunk = static_cast<size_t>(std::max(1, kMaxCandidatesPerPass / trials));
  for (size_t r0 = 0; r0 < rngs.size(); r0 += chunk) {
    const auto rows = kmeans_plusplus_runs(engine, k, trials, rngs.subspan(r0, std::min(chunk, rngs.size() - r0)));
    for (const auto& r : rows) centres.push_back(engine_rows(engine, r));
  }
  return centres;
}

std::vector<float> initial_centers(KMeansEngine& engine, int k, KMeansInit init, ClusterRng& rng) {
  return std::move(initial_centers(engine, k, init, std::span<ClusterRng>(&rng, 1))[0]);
}

std::vector<std::vector<float>> initial_centers(MatrixView x, const float* x_sqnorm, int k, KMeansInit init,
                                                std::span<ClusterRng> rngs) {
  KMeansEngine engine(shared_cpu_backend(), x, x_sqnorm);
  return initial_centers(engine, k, init, rngs);
}

std::vector<float> initial_centers(MatrixView x, const float* x_sqnorm, int k, KMeansInit init, ClusterRng& rng) {
  return std::move(initial_centers(x, x_sqnorm, k, init, std::span<ClusterRng>(&rng, 1))[0]);
}

double sum_double(std::span<const float> values) {
  double s = 0.0;
  for (float v : values) s += v;
  return s;
}

}  // namespace zs::cluster_detail
