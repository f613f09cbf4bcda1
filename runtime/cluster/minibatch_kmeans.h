// MiniBatchKMeans with sklearn 1.2's semantics (sklearn.cluster.MiniBatchKMeans), on the CPU twin
// kernels of kernels/cpu/kmeans.h. Results use the types of kmeans.h.
//
// - Init: n_init candidate initializations (k-means++ or random), each computed on its own random
//   subsample of init_size points (default 3 * batch_size, at least 3 * k, at most n); the one
//   with the lowest inertia on a fixed random validation subsample of init_size points is kept.
//   (Unlike KMeans, n_init does NOT repeat the whole optimization: sklearn's meaning.)
// - Steps: max_iter * n / batch_size at most; each draws batch_size points with replacement,
//   assigns them to the nearest centre and moves each centre towards the mean of its members
//   with a per-centre learning rate 1 / (points it has absorbed so far).
// - Low-count centres (count < reassignment_ratio * max count) are moved onto random points of
//   the batch every 10 * k processed samples, or at once while some centre has absorbed nothing
//   (sklearn's random reassignment; this is how MiniBatchKMeans handles empty clusters).
// - Early stopping: squared centre change summed over centres <= tol * mean feature variance
//   (only when tol > 0), or max_no_improvement steps without a new minimum of the exponentially
//   weighted average (EWA) of the per-sample batch inertia (alpha = 2 * batch / (n + 1)).
// - Finally every point is labelled with the final centres and the exact inertia computed.
// - Device: options.backend says where the passes run (runtime/cluster/kmeans_engine.h); the data
//   are uploaded once (or given in backend memory), the init subsamples (init_size rows) are gathered
//   there into small engines of their own.
#pragma once
#include <cstdint>

#include "runtime/cluster/kmeans.h"

namespace zs {

struct MiniBatchKMeansOptions {
  int k = 8;
  KMeansInit init = KMeansInit::KMeansPlusPlus;
  int batch_size = 200;        // the default (sklearn 1.2's is 1024)
  int n_init = 3;              // sklearn 1.2's default for MiniBatchKMeans
  int max_iter = 100;          // epochs over the data
  double tol = 0.0;            // relative, as in KMeans; 0 disables the centre-change test
  int max_no_improvement = 10; // 0 disables the EWA-inertia test
  double reassignment_ratio = 0.01;
  int init_size = 0;           // 0: 3 * batch_size (raised to 3 * k when smaller than k)
  uint64_t seed = 0;
  // Where the passes run (see KMeansOptions::backend; null: the cpu backend). The data are uploaded once per fit; each
  // step moves only the batch's row indices, the centres, counts, batch labels and distances.
  Backend* backend = nullptr;
  // Sharded data (see KMeansOptions::comm: each rank passes its contiguous block). The data set
  // stays sharded; the few rows each step needs (the batch, the init subsamples) are fetched from
  // their owners and every rank runs the same step on them, so the centres follow the
  // single-process fit's exactly; the final labels (of the rank's block) and inertia are reduced
  // over the ranks. Null or size 1: the single-process fit.
  Communicator* comm = nullptr;
};

KMeansFit fit_minibatch_kmeans(MatrixView x, const MiniBatchKMeansOptions& options);
// The same for data already in the memory of options.backend (the cpu backend when null).
KMeansFit fit_minibatch_kmeans(DeviceMatrixView x, const MiniBatchKMeansOptions& options);

}  // namespace zs
