// The KMeans options shared by kmeans, elbow and ae-kmeans: their registration on a command, their
// validation (before any data is loaded or any file written), the fit itself (Lloyd or minibatch)
// and their record in metrics.json.
// Options whose default depends on --algo follow sklearn 1.2: --n-init 10 (lloyd) / 3 (minibatch),
// --max-iter 300 / 100, --tol 1e-4 / 0; a value the user gives always wins.
#pragma once
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "runtime/cluster/kmeans.h"
#include "runtime/cluster/minibatch_kmeans.h"
#include "runtime/cluster/scalers.h"

namespace zs::driver {

// What the command line holds; a command may change the defaults before registering (ae-kmeans
// clusters latents, not pixels, so its --scale default is none).
struct KMeansCliOptions {
  std::string algo = "lloyd";
  std::string init = "k-means++";
  int n_init = 10;
  int max_iter = 300;
  double tol = 1e-4;
  int batch_size = 200;
  int max_no_improvement = 10;
  double reassignment_ratio = 0.01;
  int init_size = 0;
  std::string scale = "unit";
  // Set by registration: whether the user gave the options whose default depends on --algo.
  CLI::Option* n_init_opt = nullptr;
  CLI::Option* max_iter_opt = nullptr;
  CLI::Option* tol_opt = nullptr;
};

// Registers every option above except --k (kmeans and ae-kmeans take one k, elbow a range).
void add_kmeans_options(CLI::App& cmd, KMeansCliOptions& o);

// The options parsed, validated and with the algorithm-dependent defaults applied.
struct KMeansSettings {
  bool minibatch = false;
  KMeansInit init = KMeansInit::KMeansPlusPlus;
  ScaleKind scale = ScaleKind::Unit;
  int n_init = 10;
  int max_iter = 300;
  double tol = 1e-4;
  int batch_size = 200;
  int max_no_improvement = 10;
  double reassignment_ratio = 0.01;
  int init_size = 0;
  uint64_t seed = 0;
};

// Throws UserError naming the option for an unknown name or an out-of-range value.
KMeansSettings resolve_kmeans_options(const KMeansCliOptions& o, uint64_t seed);

// Throws UserError unless 1 <= k <= samples (`option` is how the user named k, e.g. "--k").
void require_valid_k(const std::string& option, int k, int64_t samples);

// Fits k clusters to x (already scaled) with Lloyd or MiniBatchKMeans; the passes over the data run
// on `device` (the data uploaded once per fit). Under mpirun x is this rank's block of the training
// set (TrainSplit::RankShard) and the fit is the whole set's: its labels are all of them.
KMeansFit fit_clusters(MatrixView x, int k, const KMeansSettings& s, Backend& backend);
// The same for features already in `backend`'s memory.
KMeansFit fit_clusters(DeviceMatrixView x, int k, const KMeansSettings& s, Backend& backend);

// algo, init, n_init, max_iter, tol, batch_size (minibatch only), scale, seed.
void record_kmeans_settings(nlohmann::json& m, const KMeansSettings& s);

}  // namespace zs::driver
