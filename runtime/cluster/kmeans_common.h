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

// Mean over features of the (population) variance of each feature: sklearn's tolerance scale.
double mean_feature_variance(MatrixView x);

std::vector<float> row_sqnorms(MatrixView x);

// out[r] = x.row(indices[r]) for every r.
std::vector<float> gather_rows(MatrixView x, std::span<const int64_t> indices);

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

// Initial centres [k][d] of every run, chosen by `init` (k-means++ with the default number of
// trials, or k distinct random rows), one generator per run.
std::vector<std::vector<float>> initial_centers(MatrixView x, const float* x_sqnorm, int k, KMeansInit init,
                                                std::span<ClusterRng> rngs);
// One run.
std::vector<float> initial_centers(MatrixView x, const float* x_sqnorm, int k, KMeansInit init, ClusterRng& rng);
// The same with k-means++ on `engine`, whose data are x (x gives the rows of the chosen centres).
std::vector<std::vector<float>> initial_centers(KMeansEngine& engine, MatrixView x, int k, KMeansInit init,
                                                std::span<ClusterRng> rngs);
std::vector<float> initial_centers(KMeansEngine& engine, MatrixView x, int k, KMeansInit init, ClusterRng& rng);

// Runs that share one pass over the data: at most kMaxCentresPerPass centres in all (this bounds
// the per-thread scratch, tile scores and double accumulators, at ~1 MB per 256 centres of 784
// features), and at least one run.
inline constexpr int kMaxCentresPerPass = 512;
int runs_per_pass(int k);

// Sum of a float array in double (fixed order).
double sum_double(std::span<const float> values);

}  // namespace zs::cluster_detail
