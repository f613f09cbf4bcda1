// Exact accelerated Lloyd on the CPU: Hamerly's distance bounds (G. Hamerly, "Making k-means even
// faster", SDM 2010) skip the distance GEMM for the points whose nearest centre provably did not
// change, as scikit-learn's algorithm="elkan" does with Elkan's bounds. The iterates stay Lloyd's:
// the labels, sums and counts are the bits of kmeans_lloyd_pass (kmeans.h) with the same centres.
//
// Per run (a "slot") and point i the state keeps the label a_i of the last pass, an upper bound
// u_i >= ||x_i - c_a|| and a lower bound l_i <= min_{j != a} ||x_i - c_j||, true distances in
// double. When the centres move by drift_j, u_i += drift_a and l_i -= max_{j != a} drift_j keep
// them valid; with s_a = min_{j != a} ||c_a - c_j|| / 2, every other centre is at least
// L_i = max(l_i, 2 s_a - u_i) away (triangle inequality). A point is skipped when L_i^2 - u_i^2
// exceeds twice the rounding error of the pass's computed scores (the margin, see
// kmeans_bounds.cpp): then the full pass would pick a_i too, strictly, so ties cannot arise.
// Otherwise u_i is first tightened to the distance to c_a (d multiply-adds in float, rounded up
// by their error bound) and the test repeated; points still not proven are recomputed against
// all k centres of their run by the same panel GEMM and argmin as the full pass, either gathered
// run by run or in one GEMM of the whole tile against every run (whichever is cheaper; the same
// bits either way, see kmeans_impl.h). The centroid sums are always the full pass's sum over all
// points (kmeans_impl.h, lloyd_sums), block by block on the thread that assigned the block.
//
// Only the cpu backend runs this (Backend::kmeans_lloyd_pass_bounded); cuda and emu run the full
// pass. The state lives in host memory.
#pragma once
#include <cstdint>
#include <vector>

namespace zs::cpu {

struct KMeansBounds {
  int64_t n = 0;
  int d = 0, k = 0, slots = 0;
  std::vector<double> x_norm;        // [n] upper bounds of ||x_i||
  std::vector<double> upper, lower;  // [slots][n]
  std::vector<int32_t> label;        // [slots][n] labels of the slot's last pass
  std::vector<float> centres;        // [slots][k][d] the centres the bounds refer to
  std::vector<char> valid;           // [slots] 0 until the slot's first pass
  // Counts of (point, run) pairs in the last pass: all, proven by the bounds alone, proven after
  // tightening u_i; the rest were recomputed (all of them on a slot's first pass).
  int64_t pairs = 0, skipped = 0, tightened = 0;
  // The fraction of the pairs tried that tightening u_i proved, in the last pass that tried: a tile
  // whose unproven pairs would still be recomputed in one shared GEMM skips the tightening.
  double tighten_rate = 0.2;

  // Forgets every slot (sizes the arrays; x_sqnorm [n] as given to the passes).
  void reset(int64_t n, int d, int k, int slots, const float* x_sqnorm);
};

// kmeans_lloyd_pass (kmeans.h) without min_dist, for groups whose bound state is
// bounds' slot slots[g]: the same labels, sums and counts; updates the slots' bounds.
// Slots must be distinct; bounds must have been reset for these n, d, k.
void kmeans_lloyd_pass_bounded(int32_t* labels, float* sums, int64_t* counts, KMeansBounds& bounds,
                               const int32_t* slots, const float* x, const float* x_sqnorm, const float* centers,
                               const float* c_sqnorm, int64_t n, int d, int k, int groups);

}  // namespace zs::cpu
