// Run under mpirun -np R (tests/CMakeLists.txt): data-parallel training (Trainer::set_communicator)
// against one process, for the blog's autoencoder and the VAE (whose reparameterisation noise is
// keyed by the row within the batch: each rank's slice must draw the noise of its rows of the
// global batch, Model::forward_loss's first_row). Every rank builds each model from the same seed:
// one copy trains alone on the whole data (the reference), another on the rank's share with the
// gradients combined over MPI.
// (a) Two steps on global batches of 128 (Trainer::step: the global batch on every rank).
// (b) An epoch of 300 images in batches of 128 (the last one, 44, split unevenly at R = 3) where
//     each rank holds ONLY its block of the training set: uneven blocks, 64-row aligned ([0, 128)
//     and [128, 300) at R = 2; [0, 64), [64, 192), [192, 300) at R = 3) and 256-row aligned (rank 0
//     of 3 holds nothing); the batches' rows are fetched from their owners. Then evaluation. The
//     sharded epoch must equal, bit for bit, the same epoch taken through Trainer::step on the
//     global batches (the fetch is exact), and one process to float rounding.
// Bound: the gradients are sums of the same per-sample terms in another grouping (each rank's
// slice mean, then the ranks' weighted sum in double), so they differ by dg ~ 1e-7 |g|. Adam's
// step lr g / (|g| + eps) turns that into up to lr dg / eps per step for a parameter whose gradient
// is near eps (1e-7), so the parameters (of order 0.1) may differ by ~1e-7 per step. Measured: the
// AE 7.5e-9 after two steps and after the epoch (R = 2 and 3); the VAE 4.8e-8 (R = 2) and 1.7e-7
// (R = 3) after one step, 6.1e-8 and 1.4e-7 after the epoch. The bound is 1e-6 (and 1e-6 relative
// on the epoch's mean loss terms and the evaluation's); a wrong weighting of the slices (e.g.
// summing slice means unweighted) moves parameters by ~lr = 5e-4 and fails it, and so does a VAE
// slice drawing the noise of rows 0.. instead of its own rows (measured: 2e-3 in the parameters,
// 2.4e-5 relative in the epoch's loss).
// One exception, the VAE's second step: its per-sample loss is a sum over 784 pixels (~540,
// against the AE's mean of 0.69), so its gradients and curvature are ~1000 times the AE's, the
// first step's 5e-8 parameter differences move the second step's gradients by up to 5e-4 of their
// scale, and Adam normalises a gradient that nearly cancels into up to lr times that relative
// change: measured 2.0e-5 (R = 2) and 1.5e-6 (R = 3) after the second step. That case's bound is
// 1e-4, still 20 times under the wrong noise's 2e-3. (The AE shows the same effect on other data:
// an epoch of 301 images at R = 3 ends 2.2e-6 from one process, identically so through the
// whole-batch path, whose rounding this is.)
// Exit 0 when every rank agrees, 1 otherwise.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/data/batching.h"
#include "runtime/dist/mpi_communicator.h"
#include "runtime/models/autoencoder.h"
#include "runtime/models/vae.h"
#include "runtime/train/trainer.h"
#include "../test_data.h"

// OpenMPI keeps allocations of MPI_Init past MPI_Finalize (sanitize preset: LeakSanitizer).
#include "runtime/plot/lsan_suppressions.h"

namespace {

using namespace zs;

std::vector<float> images(int n, uint32_t seed) { return zs_test::sparse_images(n, seed); }

double max_param_diff(Backend& be, Model& a, Model& b) {
  std::vector<float> pa(size_t(a.params().total())), pb(pa.size());
  be.to_host(pa.data(), a.params().params(), pa.size());
  be.to_host(pb.data(), b.params().params(), pb.size());
  double d = 0;
  for (size_t i = 0; i < pa.size(); ++i) d = std::max(d, double(std::fabs(pa[i] - pb[i])));
  return d;
}

// The model under test, built the same way for the reference and the data-parallel copy.
using MakeModel = std::function<std::unique_ptr<Model>()>;

// (a) two steps on global batches of 128: the parameters within 1e-6 after the first, within
// `bound` after the second.
bool two_steps(Backend& be, Communicator& comm, const MakeModel& make, const char* name, double bound) {
  const AdamHyper h{5e-4f};
  const int batch = 128;
  std::unique_ptr<Model> alone = make(), parallel = make();
  Trainer one(be, *alone, kImageSize), many(be, *parallel, kImageSize);
  many.set_communicator(&comm);
  double d[2] = {0, 0};
  for (uint32_t s = 0; s < 2; ++s) {
    const std::vector<float> x = images(batch, 100 + s);
    one.step(x.data(), batch, h);
    many.step(x.data(), batch, h);
    d[s] = max_param_diff(be, *alone, *parallel);
  }
  const bool good = d[0] <= 1e-6 && d[1] <= bound && parallel->params().steps_taken() == 2;
  std::printf("%s two steps: rank %d/%d max |param difference| %.3g after one, %.3g after two %s\n", name,
              comm.rank(), comm.size(), d[0], d[1], good ? "OK" : "MISMATCH");
  return good;
}

// (b) an epoch of 300 images (batches 128, 128, 44), each rank holding only its block of the
// training set (shard_of with `align`), then evaluation on the whole set. Also trained: a third
// copy through Trainer::step on the epoch's global batches (every rank holding the whole set, the
// data-parallel path before sharding), which the sharded epoch must equal bit for bit (the fetched
// rows are exact).
bool sharded_epoch(Backend& be, Communicator& comm, const MakeModel& make, const char* name, int64_t align) {
  const AdamHyper h{5e-4f};
  const int batch = 128, rows = 300;
  const uint64_t seed = 5;
  const int epoch = 1;
  const std::vector<float> x = images(rows, 7);
  const Shard block = shard_of(rows, comm.rank(), comm.size(), align);
  const std::vector<float> mine(x.begin() + block.begin * kImageSize, x.begin() + block.end * kImageSize);
  std::unique_ptr<Model> alone = make(), parallel = make(), whole_batches = make();
  Trainer one(be, *alone, kImageSize), many(be, *parallel, kImageSize), stepped(be, *whole_batches, kImageSize);
  many.set_communicator(&comm);
  stepped.set_communicator(&comm);
  int64_t reported = 0;
  const auto quiet = [](int64_t, const std::vector<double>&) {};
  const auto count = [&](int64_t done, const std::vector<double>&) { reported = done; };
  const std::vector<double> loss_one = one.train_epoch(x.data(), rows, batch, seed, epoch, h, quiet);
  const std::vector<double> loss_many =
      many.train_epoch(mine.data(), int(block.rows()), batch, seed, epoch, h, count);
  std::vector<float> shuffled;
  for (int r : epoch_permutation(rows, seed, epoch))
    shuffled.insert(shuffled.end(), x.begin() + int64_t(r) * kImageSize, x.begin() + int64_t(r + 1) * kImageSize);
  for (int first = 0; first < rows; first += batch)
    stepped.step(shuffled.data() + int64_t(first) * kImageSize, std::min(batch, rows - first), h);
  const std::vector<double> eval_one = one.evaluate(x.data(), rows, batch, epoch);
  const std::vector<double> eval_many = many.evaluate(x.data(), rows, batch, epoch);
  const double d = max_param_diff(be, *alone, *parallel), d_stepped = max_param_diff(be, *whole_batches, *parallel);
  bool good = d <= 1e-6 && d_stepped == 0 && reported == rows && parallel->params().steps_taken() == 3;
  for (size_t t = 0; t < loss_one.size(); ++t)
    good = good && std::fabs(loss_one[t] - loss_many[t]) <= 1e-6 * std::fabs(loss_one[t]) &&
           std::fabs(eval_one[t] - eval_many[t]) <= 1e-6 * std::fabs(eval_one[t]);
  std::printf("%s epoch (block [%lld, %lld), %lld-row aligned): rank %d/%d max |param difference| %.3g (%.3g from "
              "whole batches), loss %.9g/%.9g, eval %.9g/%.9g %s\n",
              name, (long long)block.begin, (long long)block.end, (long long)align, comm.rank(), comm.size(), d,
              d_stepped, loss_many[0], loss_one[0], eval_many[0], eval_one[0], good ? "OK" : "MISMATCH");
  return good;
}

}  // namespace

int main() {
  std::unique_ptr<Communicator> comm = make_mpi_communicator();
  Backend& be = shared_cpu_backend();
  const int batch = 128;
  const MakeModel ae = [&] { return std::make_unique<Autoencoder>(be, 16, LossKind::Bce, batch, 11); };
  // Sampling at inference too, so that evaluation's noise is checked as well as training's.
  const MakeModel vae = [&] { return std::make_unique<Vae>(be, 2, 1.0, true, batch, 11); };
  bool ok = true;
  struct Case {
    const char* name;
    MakeModel make;
    double second_step_bound;   // on the parameters after the second of two steps (see the top)
  };
  const Case cases[] = {{"ae", ae, 1e-6}, {"vae", vae, 1e-4}};
  for (const Case& c : cases) {
    ok = two_steps(be, *comm, c.make, c.name, c.second_step_bound) && ok;
    ok = sharded_epoch(be, *comm, c.make, c.name, 64) && ok;
    ok = sharded_epoch(be, *comm, c.make, c.name, 256) && ok;
  }
  std::vector<int64_t> failures{ok ? 0 : 1};
  comm->allreduce_sum(std::span<int64_t>(failures));
  if (comm->rank() == 0) std::printf("%s\n", failures[0] == 0 ? "ALL RANKS AGREE" : "FAILED");
  return failures[0] == 0 ? 0 : 1;
}
