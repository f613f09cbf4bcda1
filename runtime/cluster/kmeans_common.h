// Pieces shared by KMeans and MiniBatchKMeans (runtime/cluster only): argument checks that throw
// zs::UserError, sklearn's tolerance scale, row gathering and the centre initializations.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/cluster/cluster_rng.h"
#include "runtime/cluster/kmeans.h"
#include "runtime/cluster/kmeans_engine.h"
#include "runtime/cluster/matrix_view.h"

namespace zs::cluster_detail {

// Throws UserError unless x is a non-empty matrix of finite values.
void check_data(MatrixView x, const char* who);
// Throws UserError unless 1 <= k <= x.rows.
void check_k(int k, int64_t rows, const char* who);
// Throws UserError unless value >= min_value, naming the option (e.g. "max_iter", "--max-iter").
void check_at_least(int64_t value, int64_t min_value, const char* who, const char* name, const char* flag);
void check_tol(double tol, const char* who);

// Host data in `backend`'s memory: in place on a backend whose memory is the host's, else
// uploaded into `owned`.
DeviceMatrixView resident_data(Backend& backend, MatrixView x, DeviceBuffer<float>& owned);

// Per-feature sums and squared deviations of data in backend memory (the column_moments op).
struct ColumnStats {
  std::vector<double> sum, sq_dev;   // on the host
  DeviceBuffer<double> device;       // [sum | sq_dev] in the backend's memory
};
ColumnStats column_stats(Backend& backend, DeviceMatrixView x);
// column_stats after checking x as check_data does (on the device: a NaN or infinity makes its
// column's sum non-finite; the message names the feature).
ColumnStats checked_column_stats(Backend& backend, DeviceMatrixView x, const char* who);

// The fit of host data: checked here (the message names the first bad sample), made resident in
// the backend's memory, then fitted by `fit` (the DeviceMatrixView overload of the algorithm).
template <class Options, class Fit>
KMeansFit fit_host_data(MatrixView x, const Options& options, const char* who, Fit fit) {
  check_data(x, who);
  DeviceBuffer<float> owned;
  return fit(resident_data(options.backend ? *options.backend : shared_cpu_backend(), x, owned), options);
}
// Mean over features of the (population) variance of each feature: sklearn's tolerance scale.
double mean_feature_variance(const ColumnStats& stats, int64_t rows);

std::vector<float> row_sqnorms(MatrixView x);

// sklearn's number of k-means++ candidates per step: 2 + floor(ln k).
int default_local_trials(int k);

// Greedy k-means++ (sklearn's _kmeans_plusplus): the first centre uniformly, then per step
// n_local_trials candidates drawn with probability D^2 / sum D^2 and the one that gives the lowest
// potential kept. Returns the row indices of the k chosen points. n_local_trials = 1 is the
// classic k-means++.
std::vector<int64_t> kmeans_plusplus(MatrixView x, const float* x_sqnorm, int k, int n_local_trials,
                                     ClusterRng& rng);
// The same for several independent runs at once, one generator per run (run r's result is the
// single-run result with rngs[r]); each step evaluates the candidates of all runs in one pass.
std::vector<std::vector<int64_t>> kmeans_plusplus_runs(MatrixView x, const float* x_sqnorm, int k,
                                                       int n_local_trials, std::span<ClusterRng> rngs);
// The same on the data of an engine (its passes run where the engine runs).
std::vector<std::vector<int64_t>> kmeans_plusplus_runs(KMeansEngine& engine, int k, int n_local_trials,
                                                       std::span<ClusterRng> rngs);

// The rows `ids` of the engine's data, on the host ([ids.size()][d]).
std::vector<float> engine_rows(KMeansEngine& engine, std::span<const int64_t> ids);

// Initial centres [k][d] of every run, chosen by `init` (k-means++ with the default number of
// trials, or k distinct random rows), one generator per run.
std::vector<std::vector<float>> initial_centers(MatrixView x, const float* x_sqnorm, int k, KMeansInit init,
                                                std::span<ClusterRng> rngs);
// One run.
std::vector<float> initial_centers(MatrixView x, const float* x_sqnorm, int k, KMeansInit init, ClusterRng& rng);
// The same on the data of `engine` (its passes run, and its rows are read, where the engine runs).
std::vector<std::vector<float>> initial_centers(KMeansEngine& engine, int k, KMeansInit init,
                                                std::span<ClusterRng> rngs);
std::vector<float> initial_centers(KMeansEngine& engine, int k, KMeansInit init, ClusterRng& rng);

// Runs that share one pass over the data: at most kMaxCentresPerPass centres in all (this bounds
// the per-thread scratch, tile scores and double accumulators, at ~1 MB per 256 centres of 784
// features), and at least one run.
inline constexpr int kMaxCentresPerPass = 512;
int runs_per_pass(int k);

// Sum of a float array in double (fixed order).
double sum_double(std::span<const float> values);

}  // namespace zs::cluster_detail
