// KMeansEngine: the heavy passes of KMeans and MiniBatchKMeans over ONE data set that the engine
// holds for its whole life, run as ops of a Backend (the KMeans ops of runtime/backend/op_list.h:
// the twin kernels/cpu/kmeans.h on cpu, kernels/kmeans.cuh on cuda and emu). The data are uploaded
// ONCE at construction (on the cpu backend, whose memory is the host's, they are used in place)
// and every other buffer (centres, labels, distances, sums, k-means++ state, the minibatch batch)
// is backend memory that grows to the largest size asked for and is then reused.
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
#include <span>
#include <string>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/cluster/matrix_view.h"

namespace zs {

class KMeansEngine {
 public:
  // x_sqnorm: the row norms of x when the caller has them (host memory), else computed here.
  // On a backend whose memory is the host's, x (and x_sqnorm) must outlive the engine.
  KMeansEngine(Backend& backend, MatrixView x, const float* x_sqnorm = nullptr);
  // Data already in the backend's memory (they must outlive the engine): nothing is copied.
  KMeansEngine(Backend& backend, DeviceMatrixView x);
  KMeansEngine(const KMeansEngine&) = delete;
  KMeansEngine& operator=(const KMeansEngine&) = delete;
  ~KMeansEngine();

  std::string name() const { return be_.name(); }   // "cpu", "cuda", "emu"
  int64_t rows() const { return n_; }
  int cols() const { return d_; }
  const float* data() const { return x_; }   // the data, in the backend's memory

  // labels[g][i] = nearest centre of point i in group g; min_dist[g][i] its squared distance
  // (min_dist may be null).
  void assign(int32_t* labels, float* min_dist, const float* centers, int k, int groups);

  // One Lloyd pass: assign, then sums [groups][k][d] and counts [groups][k] of the new labels.
  // The distances of the pass stay with the engine until the next pass: last_min_dist.
  void lloyd_pass(int32_t* labels, float* sums, int64_t* counts, const float* centers, int k, int groups);
  // dist[n] = the squared distances of group `group` in the last lloyd_pass.
  void last_min_dist(float* dist, int group);

  // ---- exact accelerated Lloyd (kernels/cpu/kmeans_bounds.h) ----
  // Starts bound state for `runs` runs of k centres: lloyd_pass with slots[g] (the run of group g,
  // in [0, runs)) then skips the points the bounds prove keep their label, on a backend that has
  // the bounded pass (cpu); the results are the full pass's bits. Without slots, or on cuda / emu,
  // lloyd_pass is the full pass.
  void bounds_begin(int runs, int k);
  void lloyd_pass(int32_t* labels, float* sums, int64_t* counts, const float* centers, int k, int groups,
                  const int32_t* slots);
  // Fraction of (point, run) pairs of the last lloyd_pass whose label the bounds proved without
  // the distance GEMM (0 after a full pass).
  double last_skip_fraction() const { return last_skip_; }

  // inertia[g] = sum_i ||x_i - c_{g, labels[g][i]}||^2 (double).
  void inertia(double* inertia, const float* centers, const int32_t* labels, int k, int groups);

  // out[r] = row rows[r] of the data (a gather on the backend, then one download).
  void rows_to_host(float* out, std::span<const int64_t> rows);
  Backend& backend() const { return be_; }

  // ---- greedy k-means++ for `runs` independent runs (state: each run's closest distances) ----
  // Starts: closest[r] = distances to row first_ids[r].
  void pp_start(const int32_t* first_ids, int runs);
  // Draws t candidates per run with probability closest / sum closest (uniforms [runs][t] in
  // [0, 1)) and evaluates them: cand_ids [runs][t], cand_pot [runs][t] = the potential if chosen.
  void pp_candidates(int32_t* cand_ids, double* cand_pot, const double* uniforms, int t);
  // Keeps candidate best[r] of each run: closest[r] = its distances.
  void pp_keep(const int* best);

  // ---- MiniBatchKMeans: one step on the rows `rows[0..b)` of the data (one group) ----
  // labels [b] and dist [b] of the batch under `centers` [k][d]; then sklearn's update into
  // centers_new with the per-centre counts [k] (read and written).
  void minibatch_step(float* centers_new, double* counts, int32_t* labels, float* dist, const float* centers,
                      const int32_t* rows, int64_t b, int k);

 private:
  // Host data in the backend's memory: in place on a host backend, else uploaded into `owned`.
  const float* resident(DeviceBuffer<float>& owned, const float* host, size_t count);
  void upload_centres(const float* centers, int k, int groups);

  Backend& be_;
  int64_t n_;
  int d_;
  DeviceBuffer<float> x_owned_, x_sqnorm_owned_;
  const float* x_ = nullptr;
  const float* x_sqnorm_ = nullptr;
  DeviceBuffer<float> centres_, c_sqnorm_, min_dist_, sums_, closest_, cand_dist_, batch_, batch_sqnorm_, centres_new_,
      picked_;
  DeviceBuffer<int32_t> labels_, cand_ids_, relabel_;
  std::unique_ptr<cpu::KMeansBounds> bounds_;
  bool last_bounded_ = false;   // the last lloyd_pass left min_dist_ unwritten
  int last_k_ = 0;
  double last_skip_ = 0.0;
  std::vector<int32_t> picked_ids_;
  DeviceBuffer<int64_t> counts_;
  DeviceBuffer<double> inertia_, cand_pot_, uniforms_, minibatch_counts_;
  int runs_ = 0, t_ = 0;
};

}  // namespace zs
