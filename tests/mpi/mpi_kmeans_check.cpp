// Run under mpirun -np R (R = 1, 2, 3; tests/CMakeLists.txt): every rank fits KMeans on its
// contiguous block with the MPI communicator and ALSO fits the whole data set alone (the
// single-process fit, the reference); the two must agree: the labels of the rank's block and
// n_iter / best_init exactly; centres and inertia to the rounding kmeans_dist.h derives (the float
// centroid sums of each rank are rounded once before the ranks are added: a few units in the last
// place of a centre coordinate, ~1e-7 relative). Exit 0 when every rank agrees, 1 otherwise.
// Cases: k-means++ on overlapping blobs; random init; random init on data whose duplicate rows
// leave clusters empty (the relocation of empty clusters across ranks). MiniBatchKMeans: the steps
// run on the same fetched rows on every rank, so its centres must be the single-process bits.
// With the argument `emu`, both fits run on the emulated CUDA backend (the block stays in its
// memory; the rows a collective needs are gathered there and downloaded), else on the cpu backend.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "runtime/cluster/kmeans.h"
#include "runtime/cluster/kmeans_dist.h"
#include "runtime/backend/backend.h"
#include "runtime/cluster/minibatch_kmeans.h"
#include "runtime/dist/mpi_communicator.h"

// OpenMPI keeps allocations of MPI_Init past MPI_Finalize (sanitize preset: LeakSanitizer).
#include "runtime/plot/lsan_suppressions.h"

namespace {

using namespace zs;

Backend* g_backend = nullptr;   // null: the cpu backend

// n points around `blobs` centres in d dimensions (a fixed std::mt19937 stream: same on all ranks).
std::vector<float> blobs(int64_t n, int d, int centres, float spread, int duplicates_every, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> where(-5.0f, 5.0f);
  std::normal_distribution<float> noise(0.0f, spread);
  std::vector<float> c(size_t(centres) * d), x(size_t(n) * d);
  for (float& v : c) v = where(gen);
  for (int64_t i = 0; i < n; ++i) {
    const int j = int(i % centres);
    for (int f = 0; f < d; ++f) x[size_t(i) * d + f] = c[size_t(j) * d + f] + noise(gen);
    if (duplicates_every > 0 && i % duplicates_every != 0)   // a copy of an earlier duplicated row
      for (int f = 0; f < d; ++f) x[size_t(i) * d + f] = x[size_t(i % 4) * d + f];
  }
  return x;
}

struct Case {
  std::string name;
  int64_t n;
  int d, k, blob_count;
  float spread;
  int duplicates_every;
  KMeansInit init;
  int n_init;
};

bool check(const Case& c, Communicator& comm) {
  const std::vector<float> x = blobs(c.n, c.d, c.blob_count, c.spread, c.duplicates_every, 7u);
  KMeansOptions o;
  o.k = c.k;
  o.init = c.init;
  o.n_init = c.n_init;
  o.seed = 3;
  o.backend = g_backend;
  const KMeansFit single = fit_kmeans(MatrixView{x.data(), c.n, c.d}, o);
  const Shard shard = shard_of(c.n, comm.rank(), comm.size(), cluster_detail::kShardAlignRows);
  o.comm = &comm;
  const KMeansFit dist = fit_kmeans(MatrixView{x.data() + shard.begin * c.d, shard.rows(), c.d}, o);

  int64_t label_diffs = 0;
  for (int64_t i = 0; i < shard.rows(); ++i) label_diffs += dist.labels[size_t(i)] != single.labels[size_t(shard.begin + i)];
  double centre_rel = 0.0;   // largest |difference| relative to the largest |coordinate|
  float scale = 0.0f;
  for (float v : single.model.centers) scale = std::max(scale, std::fabs(v));
  for (size_t e = 0; e < single.model.centers.size(); ++e)
    centre_rel = std::max(centre_rel, double(std::fabs(dist.model.centers[e] - single.model.centers[e])) / scale);
  const double inertia_rel = std::fabs(dist.inertia - single.inertia) / single.inertia;
  const bool ok = label_diffs == 0 && dist.labels.size() == size_t(shard.rows()) && dist.n_iter == single.n_iter &&
                  dist.best_init == single.best_init && centre_rel <= 1e-6 && inertia_rel <= 1e-6;
  std::printf("%s rank %d/%d rows [%lld, %lld): label diffs %lld, n_iter %d/%d, best_init %d/%d, centres rel %.3g, "
              "inertia %.10g/%.10g (rel %.3g) %s\n",
              c.name.c_str(), comm.rank(), comm.size(), (long long)shard.begin, (long long)shard.end,
              (long long)label_diffs, dist.n_iter, single.n_iter, dist.best_init, single.best_init, centre_rel,
              dist.inertia, single.inertia, inertia_rel, ok ? "OK" : "MISMATCH");
  return ok;
}

bool check_minibatch(Communicator& comm) {
  const int64_t n = 3300;
  const int d = 12;
  const std::vector<float> x = blobs(n, d, 9, 2.0f, 0, 11u);
  MiniBatchKMeansOptions o;
  o.k = 9;
  o.batch_size = 100;
  o.max_iter = 5;
  o.tol = 1e-4;   // also exercises the global variance
  o.seed = 4;
  o.backend = g_backend;
  const KMeansFit single = fit_minibatch_kmeans(MatrixView{x.data(), n, d}, o);
  const Shard shard = shard_of(n, comm.rank(), comm.size(), cluster_detail::kShardAlignRows);
  o.comm = &comm;
  const KMeansFit dist = fit_minibatch_kmeans(MatrixView{x.data() + shard.begin * d, shard.rows(), d}, o);
  int64_t label_diffs = 0;
  for (int64_t i = 0; i < shard.rows(); ++i) label_diffs += dist.labels[size_t(i)] != single.labels[size_t(shard.begin + i)];
  const double inertia_rel = std::fabs(dist.inertia - single.inertia) / single.inertia;
  const bool ok = label_diffs == 0 && dist.model.centers == single.model.centers && dist.n_steps == single.n_steps &&
                  dist.best_init == single.best_init && inertia_rel <= 1e-12;
  std::printf("minibatch rank %d/%d: label diffs %lld, centres %s, n_steps %lld/%lld, inertia rel %.3g %s\n",
              comm.rank(), comm.size(), (long long)label_diffs,
              dist.model.centers == single.model.centers ? "identical" : "DIFFER", (long long)dist.n_steps,
              (long long)single.n_steps, inertia_rel, ok ? "OK" : "MISMATCH");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<Communicator> comm = make_mpi_communicator();
  std::unique_ptr<Backend> emu;
  if (argc > 1 && std::string(argv[1]) == "emu") {
    emu = make_backend(DeviceKind::Emu);
    g_backend = emu.get();
  }
  const std::vector<Case> cases = {
      {"kmeans++", 3500, 24, 12, 12, 2.5f, 0, KMeansInit::KMeansPlusPlus, 3},
      {"random", 3100, 16, 9, 6, 3.0f, 0, KMeansInit::Random, 2},
      {"empty-clusters", 3300, 8, 10, 10, 1.0f, 3, KMeansInit::Random, 2},
  };
  std::vector<int64_t> failures{0};
  for (const Case& c : cases) failures[0] += check(c, *comm) ? 0 : 1;
  failures[0] += check_minibatch(*comm) ? 0 : 1;
  comm->allreduce_sum(std::span<int64_t>(failures));
  if (comm->rank() == 0) std::printf("%s\n", failures[0] == 0 ? "ALL RANKS AGREE" : "FAILED");
  return failures[0] == 0 ? 0 : 1;
}
