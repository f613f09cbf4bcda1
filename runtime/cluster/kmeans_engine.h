// KMeansEngine: the heavy passes of KMeans and MiniBatchKMeans over ONE data set that the engine
// holds for its whole life, on cpu (the twin kernels/cpu/kmeans.h, on the caller's memory), or on
// cuda / emu (kernels/kmeans.cuh, the data uploaded ONCE at construction and kept on the device).
// The algorithms (runtime/cluster/kmeans.cpp, minibatch_kmeans.cpp) stay on the host and call
// these passes; per pass only centres, labels, centroid sums and counts cross to and from the
// device (distances only when asked for), never the points.
//
// Conventions: host pointers in and out; layouts of kernels/cpu/kmeans.h (groups of k centres
// stacked, [groups][k][d]; labels [groups][n]). Every pass synchronizes before it returns.
// Results: cpu gives the twin's results; cuda / emu give the same labels except at float near-ties,
// distances and sums within float rounding (see kernels/kmeans.cuh for the exact relations).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/backend/backend.h"
#include "runtime/cluster/matrix_view.h"

namespace zs {

class KMeansEngine {
 public:
  virtual ~KMeansEngine() = default;
  virtual std::string name() const = 0;   // "cpu", "cuda", "emu"
  int64_t rows() const { return rows_; }
  int cols() const { return cols_; }

  // labels[g][i] = nearest centre of point i in group g; min_dist[g][i] its squared distance
  // (min_dist may be null).
  virtual void assign(int32_t* labels, float* min_dist, const float* centers, int k, int groups) = 0;

  // One Lloyd pass: assign, then sums [groups][k][d] and counts [groups][k] of the new labels.
  // The distances of the pass stay with the engine until the next pass: last_min_dist.
  virtual void lloyd_pass(int32_t* labels, float* sums, int64_t* counts, const float* centers, int k, int groups) = 0;
  // dist[n] = the squared distances of group `group` in the last lloyd_pass.
  virtual void last_min_dist(float* dist, int group) = 0;

  // inertia[g] = sum_i ||x_i - c_{g, labels[g][i]}||^2 (double).
  virtual void inertia(double* inertia, const float* centers, const int32_t* labels, int k, int groups) = 0;

  // ---- greedy k-means++ for `runs` independent runs (state: each run's closest distances) ----
  // Starts: closest[r] = distances to row first_ids[r].
  virtual void pp_start(const int32_t* first_ids, int runs) = 0;
  // Draws t candidates per run with probability closest / sum closest (uniforms [runs][t] in
  // [0, 1)) and evaluates them: cand_ids [runs][t], cand_pot [runs][t] = the potential if chosen.
  virtual void pp_candidates(int32_t* cand_ids, double* cand_pot, const double* uniforms, int t) = 0;
  // Keeps candidate best[r] of each run: closest[r] = its distances.
  virtual void pp_keep(const int* best) = 0;

  // ---- MiniBatchKMeans: one step on the rows `rows[0..b)` of the data (one group) ----
  // labels [b] and dist [b] of the batch under `centers` [k][d]; then sklearn's update into
  // centers_new with the per-centre counts [k] (read and written).
  virtual void minibatch_step(float* centers_new, double* counts, int32_t* labels, float* dist,
                              const float* centers, const int32_t* rows, int64_t b, int k) = 0;

 protected:
  KMeansEngine(int64_t rows, int cols) : rows_(rows), cols_(cols) {}

 private:
  int64_t rows_;
  int cols_;
};

// The engine of `device` over x (Auto: cuda when a usable GPU is present, else cpu). The cpu
// engine keeps a view of x (x must outlive it) and computes the row norms, or takes them from
// x_sqnorm when given; the device engines copy x to the device. Throws UserError when the device
// is not available in this build or machine.
std::unique_ptr<KMeansEngine> make_kmeans_engine(DeviceKind device, MatrixView x, const float* x_sqnorm = nullptr);

// The device engines, one per build of kernels/kmeans.cu (runtime/cluster/kmeans_kernel_engine.cpp).
namespace emu {
std::unique_ptr<KMeansEngine> make_kmeans_engine(MatrixView x);
}
namespace cuda {
std::unique_ptr<KMeansEngine> make_kmeans_engine(MatrixView x);
}

}  // namespace zs
