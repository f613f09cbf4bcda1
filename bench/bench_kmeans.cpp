// KMeans on the CPU twin: assignment throughput and full fits at the blog's sizes.
//
//   BM_Assign/k        kmeans_assign on 60,000 x 784 points, k = 25 and 225; counter `triples`
//                      = point-centre-dimension triples per second (n * k * d per iteration).
//   BM_LloydPass/k/g   the fused assignment + centroid sums (one Lloyd iteration) for g runs of
//                      k centres sharing the pass (KMeans fit: the n_init runs advance in lockstep).
//   BM_KMeansFit/n/b   the full KMeans fit of the peer comparison: k 25, k-means++, n_init n
//                      (10 there), max_iter 50, tol 1e-4 (sklearn's default), seed 0; with the
//                      distance bounds (b = 1, kernels/cpu/kmeans_bounds.h) or full passes (b = 0).
//   BM_MiniBatchFit    MiniBatchKMeans k 225, batch 200, n_init 3, max_iter 100.
//   BM_EngineAssign/device/k  the assignment through the library's KMeansEngine on a small slice
//                      (2,048 x 784) on cpu and, in builds with it, on the CUDA emulator (emu: the kernels
//                      of kernels/kmeans.cu run on the CPU, ~10^3 x slower than cpu: a scale, not a target).
// Data: the 60,000 Fashion-MNIST training images scaled by 1/255 when
// $ZS_FASHION_DIR (default /usr/share/datasets/fashion-mnist) has them, else uniform noise of the
// same shape (the assignment's speed does not depend on the values; a fit's does).
// Threads: OpenMP's default (set OMP_NUM_THREADS to pin).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench/fashion_points.h"
#include "kernels/cpu/kmeans.h"
#include "runtime/cluster/kmeans.h"
#include "runtime/cluster/kmeans_engine.h"
#include "runtime/cluster/minibatch_kmeans.h"

namespace {

constexpr int kRows = 60000, kDim = 784;

struct BenchData {
  std::vector<float> x;
  std::vector<float> x_sqnorm;
  bool real = false;
};

const BenchData& data() {
  static const BenchData d = [] {
    const zs::bench_data::FashionPoints& points = zs::bench_data::fashion_points("bench_kmeans");
    BenchData b{points.x, std::vector<float>(kRows), points.real};
    zs::cpu::row_sqnorms(b.x_sqnorm.data(), b.x.data(), kRows, kDim);
    return b;
  }();
  return d;
}

// k centres taken from evenly spaced rows.
std::vector<float> some_centers(int k) {
  const BenchData& d = data();
  std::vector<float> c(size_t(k) * kDim);
  for (int j = 0; j < k; ++j)
    std::copy(d.x.begin() + size_t(j) * (kRows / k) * kDim, d.x.begin() + (size_t(j) * (kRows / k) + 1) * kDim,
              c.begin() + size_t(j) * kDim);
  return c;
}

void set_triples(benchmark::State& state, int k) {
  state.counters["triples"] =
      benchmark::Counter(double(kRows) * k * kDim, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2e-9 * double(kRows) * k * kDim, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Assign(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  const BenchData& d = data();
  const std::vector<float> c = some_centers(k);
  std::vector<float> c_sq(k), dist(kRows);
  zs::cpu::row_sqnorms(c_sq.data(), c.data(), k, kDim);
  std::vector<int32_t> labels(kRows);
  for (auto _ : state) {
    zs::cpu::kmeans_assign(labels.data(), dist.data(), d.x.data(), d.x_sqnorm.data(), c.data(), c_sq.data(), kRows,
                           kDim, k);
    benchmark::DoNotOptimize(labels.data());
  }
  set_triples(state, k);
}
BENCHMARK(BM_Assign)->Arg(25)->Arg(225)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LloydPass(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0)), groups = static_cast<int>(state.range(1));
  const BenchData& d = data();
  const std::vector<float> c = some_centers(k * groups);
  std::vector<float> c_sq(size_t(k) * groups), dist(size_t(kRows) * groups), sums(size_t(k) * groups * kDim);
  std::vector<int64_t> counts(size_t(k) * groups);
  zs::cpu::row_sqnorms(c_sq.data(), c.data(), int64_t(k) * groups, kDim);
  std::vector<int32_t> labels(size_t(kRows) * groups);
  for (auto _ : state) {
    zs::cpu::kmeans_lloyd_pass(labels.data(), dist.data(), sums.data(), counts.data(), d.x.data(), d.x_sqnorm.data(),
                               c.data(), c_sq.data(), kRows, kDim, k, groups);
    benchmark::DoNotOptimize(sums.data());
  }
  set_triples(state, k * groups);
}
// (k, groups): one run of k = 25 or 225, and the ten n_init runs of k = 25 sharing each pass.
BENCHMARK(BM_LloydPass)->Args({25, 1})->Args({225, 1})->Args({25, 10})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_KMeansFit(benchmark::State& state) {
  const BenchData& d = data();
  zs::KMeansOptions o;
  o.k = 25;
  o.n_init = static_cast<int>(state.range(0));
  o.max_iter = 50;
  o.tol = 1e-4;
  o.seed = 0;
  o.bounds = state.range(1) != 0;
  zs::KMeansFit fit;
  for (auto _ : state) fit = zs::fit_kmeans(zs::MatrixView{d.x.data(), kRows, kDim}, o);
  state.counters["inertia"] = fit.inertia;
  state.counters["n_iter"] = fit.n_iter;
  state.counters["real_data"] = d.real;
  if (fit.bounds_skip.empty()) return;
  // The bounded passes' proven fractions, pass by pass, on stderr (bench/README.md quotes them).
  double sum = 0.0;
  std::fprintf(stderr, "BM_KMeansFit/%d bounds: proven fraction per pass:", o.n_init);
  for (double s : fit.bounds_skip) sum += s, std::fprintf(stderr, " %.3f", s);
  std::fprintf(stderr, "\n");
  state.counters["proven_mean"] = sum / double(fit.bounds_skip.size());
}
// (n_init, bounds): ZS_KMEANS_BOUNDS=off in the environment turns the bounds off for both.
BENCHMARK(BM_KMeansFit)
    ->Args({1, 1})
    ->Args({10, 1})
    ->Args({10, 0})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

void BM_MiniBatchFit(benchmark::State& state) {
  const BenchData& d = data();
  zs::MiniBatchKMeansOptions o;
  o.k = 225;
  o.batch_size = 200;
  o.seed = 0;
  zs::KMeansFit fit;
  for (auto _ : state) fit = zs::fit_minibatch_kmeans(zs::MatrixView{d.x.data(), kRows, kDim}, o);
  state.counters["inertia"] = fit.inertia;
  state.counters["n_steps"] = static_cast<double>(fit.n_steps);
  state.counters["real_data"] = d.real;
}
BENCHMARK(BM_MiniBatchFit)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

void BM_EngineAssign(benchmark::State& state) {
  constexpr int64_t kSlice = 2048;
  const std::unique_ptr<zs::Backend> backend = zs::make_backend(static_cast<zs::DeviceKind>(state.range(0)));
  const int k = static_cast<int>(state.range(1));
  const BenchData& d = data();
  const std::vector<float> c = some_centers(k);
  zs::KMeansEngine engine(*backend, zs::MatrixView{d.x.data(), kSlice, kDim});
  std::vector<int32_t> labels(kSlice);
  std::vector<float> dist(kSlice);
  for (auto _ : state) {
    engine.assign(labels.data(), dist.data(), c.data(), k, 1);
    benchmark::DoNotOptimize(labels.data());
  }
  state.SetLabel(engine.name());
  state.counters["triples"] =
      benchmark::Counter(double(kSlice) * k * kDim, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EngineAssign)
    ->Args({static_cast<int>(zs::DeviceKind::Cpu), 25})
#ifdef ZSPACE_HAVE_EMU
    ->Args({static_cast<int>(zs::DeviceKind::Emu), 25})
#endif
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
