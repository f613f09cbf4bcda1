// KMeans clustering (Lloyd's algorithm) with sklearn 1.2's semantics, on the CPU twin kernels of
// kernels/cpu/kmeans.h. MiniBatchKMeans lives in minibatch_kmeans.h and shares the types below.
//
// Semantics (sklearn 1.2, `KMeans(algorithm="lloyd")`):
// - init: greedy k-means++ (2 + floor(ln k) candidates per step, the one giving the lowest
//   potential wins) or `random` (k distinct points).
// - n_init runs from different inits; the run with the lowest inertia is kept (ties: the first).
//   Run r draws from its own random stream (seed, r). The runs advance in lockstep: one pass over
//   the data per iteration serves every run still going (a kernel group per run), which packs
//   the points for the GEMM once instead of n_init times; each run stops on its own criteria.
// - A run stops after max_iter iterations, or when the labels did not change ("strict"
//   convergence), or when the squared centre shift summed over centres is <= tol * (mean over
//   features of the per-feature variance of the data). Without strict convergence the labels are
//   recomputed from the final centres, so labels and centres always agree.
// - Empty clusters are re-seeded with the points farthest from their centre (sklearn's
//   _relocate_empty_clusters); a point is never taken from a cluster it is the only member of.
// - The data are centred (feature means subtracted) inside fit, as sklearn does, so that the
//   ||x||^2 - 2 x.c + ||c||^2 expansion keeps its precision; the returned centres are not. Means
//   and variances are per-feature sums in row order in double (kernels/cpu/columns.h).
// - Deterministic: the same data, options and seed give the same result on every run (see
//   kernels/cpu/kmeans.h for the thread-count caveat).
// - Device: options.backend says where the passes run (k-means++, Lloyd passes, relabelling,
//   inertia); the loop logic (convergence, empty-cluster relocation, the best run) stays on the
//   host. cuda / emu give the cpu result up to float rounding: the same labels unless a point is
//   within rounding of equidistant to two centres.
// Bad arguments (k < 1, k > samples, max_iter < 1, n_init < 1, tol < 0, NaN data...) throw
// zs::UserError naming the option.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/cluster/matrix_view.h"

namespace zs {

class Communicator;

enum class KMeansInit { KMeansPlusPlus, Random };

// "k-means++" or "random" (the --init values); anything else throws UserError.
KMeansInit parse_kmeans_init(std::string_view text);
std::string_view to_string(KMeansInit init);

struct KMeansOptions {
  int k = 8;
  KMeansInit init = KMeansInit::KMeansPlusPlus;
  int n_init = 10;
  int max_iter = 300;
  double tol = 1e-4;  // relative: multiplied by the mean per-feature variance of the data
  uint64_t seed = 0;
  // Where the passes over the data run (runtime/cluster/kmeans_engine.h); null: the cpu backend.
  // The data are uploaded once per fit.
  Backend* backend = nullptr;
  // Data-parallel fit (runtime/dist/communicator.h): every rank passes ITS contiguous block of the
  // data set, on the host or in backend memory (rank 0 the first rows, then rank 1, ...; runtime/dist's shard_of with
  // kShardAlignRows of kmeans_dist.h) and the same options; every rank gets the same model,
  // inertia, n_iter..., and the labels of its own block. Null or a size-1 communicator: the
  // single-process fit, untouched. R ranks give the single-process fit up to float rounding
  // (runtime/cluster/kmeans_dist.h says exactly which).
  Communicator* comm = nullptr;
  // Exact accelerated Lloyd (kernels/cpu/kmeans_bounds.h, like sklearn's algorithm="elkan"):
  // Hamerly's distance bounds skip the points whose label provably cannot change. Same labels,
  // centres, inertia and n_iter as the full passes, bit for bit; only the cpu backend has the
  // bounded pass (cuda / emu run the full one either way). The environment variable
  // ZS_KMEANS_BOUNDS=off turns it off for a whole process (benchmarks).
  bool bounds = true;
};

// Fitted centres; what predict needs.
struct KMeansModel {
  int k = 0;
  int d = 0;
  std::vector<float> centers;  // [k][d], row-major

  const float* center(int j) const { return centers.data() + int64_t(j) * d; }
};

struct KMeansFit {
  KMeansModel model;
  std::vector<int32_t> labels;        // cluster of every training point under model (distributed: of this rank's block)
  double inertia = 0.0;               // sum of squared distances of the points to their centre
  int n_iter = 0;                     // Lloyd: iterations of the kept run; minibatch: epochs (sklearn n_iter_)
  int64_t n_steps = 0;                // minibatch steps (Lloyd: = n_iter)
  int best_init = 0;                  // index of the kept init run
  std::vector<double> init_inertias;  // Lloyd: final inertia of each run; minibatch: validation inertia of each init
  bool converged = false;             // stopped before max_iter (labels stable, tol, or no improvement)
  double tol_abs = 0.0;               // the absolute tolerance that was applied to the centre shift
  // Lloyd with bounds: per pass over the data (all runs in lockstep, chunk after chunk), the
  // fraction of (point, run) pairs whose label the bounds proved without the distance GEMM.
  std::vector<double> bounds_skip;
};

KMeansFit fit_kmeans(MatrixView x, const KMeansOptions& options);
// The same for data already in the memory of options.backend (the cpu backend when null): they
// stay there (centred into a copy of the backend's); only centres, labels and sums cross.
KMeansFit fit_kmeans(DeviceMatrixView x, const KMeansOptions& options);

// Nearest centre of every row of x, computed on `backend` (null: the cpu backend).
std::vector<int32_t> predict(const KMeansModel& model, MatrixView x, Backend* backend = nullptr);
std::vector<int32_t> predict(const KMeansModel& model, DeviceMatrixView x, Backend* backend = nullptr);

// Exact sum of squared distances of the rows of x to their labelled centre.
double inertia(const KMeansModel& model, MatrixView x, std::span<const int32_t> labels);

}  // namespace zs
