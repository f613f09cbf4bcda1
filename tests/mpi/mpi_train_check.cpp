// Run under mpirun -np R (tests/CMakeLists.txt): data-parallel training (Trainer::set_communicator)
// against one process. Every rank builds the blog's autoencoder twice from the same seed: one
// trains alone on the whole batches (the reference), the other on the rank's slices with the
// gradients combined over MPI. After (a) two steps on global batches of 128 and (b) an epoch of
// 300 images in batches of 128 (the last one, 44, split unevenly at R = 3), the parameters, the
// epoch's mean loss and the evaluation loss must agree to float rounding. Bound: the gradients are
// sums of the same per-sample terms in another grouping (each rank's slice mean, then the ranks'
// weighted sum in double), so they differ by dg ~ 1e-7 |g|. Adam's step lr g / (|g| + eps) turns
// that into up to lr dg / eps per step for a parameter whose gradient is near eps (1e-7), so the
// parameters (of order 0.1) may differ by ~1e-7 per step; measured 3.6e-7 after the epoch's 3 steps
// (R = 2 and 3), 3e-7 after two steps. The bound is 1e-6; a wrong weighting of the slices (e.g.
// summing slice means unweighted) moves parameters by ~lr = 5e-4 and fails it.
// Exit 0 when every rank agrees, 1 otherwise.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/dist/mpi_communicator.h"
#include "runtime/models/autoencoder.h"
#include "runtime/train/trainer.h"

// OpenMPI keeps allocations of MPI_Init past MPI_Finalize (sanitize preset: LeakSanitizer).
extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\nleak:libpmix.so\nleak:libhwloc.so\n"
         "leak:libevent\nleak:mca_\n";
}

namespace {

using namespace zs;

std::vector<float> images(int n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> x(size_t(n) * kImageSize);
  for (float& v : x) v = u(g) < 0.8f ? 0.f : u(g);
  return x;
}

double max_param_diff(Backend& be, Model& a, Model& b) {
  std::vector<float> pa(size_t(a.params().total())), pb(pa.size());
  be.to_host(pa.data(), a.params().params(), pa.size());
  be.to_host(pb.data(), b.params().params(), pb.size());
  double d = 0;
  for (size_t i = 0; i < pa.size(); ++i) d = std::max(d, double(std::fabs(pa[i] - pb[i])));
  return d;
}

}  // namespace

int main() {
  std::unique_ptr<Communicator> comm = make_mpi_communicator();
  Backend& be = shared_cpu_backend();
  const AdamHyper h{5e-4f};
  const int batch = 128;
  bool ok = true;

  {  // (a) two steps on global batches of 128
    Autoencoder alone(be, 16, LossKind::Bce, batch, 11), parallel(be, 16, LossKind::Bce, batch, 11);
    Trainer one(be, alone, kImageSize), many(be, parallel, kImageSize);
    many.set_communicator(comm.get());
    for (uint32_t s = 0; s < 2; ++s) {
      const std::vector<float> x = images(batch, 100 + s);
      one.step(x.data(), batch, h);
      many.step(x.data(), batch, h);
    }
    const double d = max_param_diff(be, alone, parallel);
    const bool good = d <= 1e-6 && parallel.params().steps_taken() == 2;
    ok = ok && good;
    std::printf("two steps: rank %d/%d max |param difference| %.3g %s\n", comm->rank(), comm->size(), d,
                good ? "OK" : "MISMATCH");
  }
  {  // (b) an epoch of 300 images (batches 128, 128, 44), then evaluation
    const int rows = 300;
    const std::vector<float> x = images(rows, 7);
    Autoencoder alone(be, 16, LossKind::Bce, batch, 11), parallel(be, 16, LossKind::Bce, batch, 11);
    Trainer one(be, alone, kImageSize), many(be, parallel, kImageSize);
    many.set_communicator(comm.get());
    const auto quiet = [](int64_t, const std::vector<double>&) {};
    const double loss_one = one.train_epoch(x.data(), rows, batch, 5, 1, h, quiet)[0];
    const double loss_many = many.train_epoch(x.data(), rows, batch, 5, 1, h, quiet)[0];
    const double eval_one = one.evaluate(x.data(), rows, batch, 1)[0];
    const double eval_many = many.evaluate(x.data(), rows, batch, 1)[0];
    const double d = max_param_diff(be, alone, parallel);
    const bool good = d <= 1e-6 && std::fabs(loss_one - loss_many) <= 1e-6 * loss_one &&
                      std::fabs(eval_one - eval_many) <= 1e-6 * eval_one;
    ok = ok && good;
    std::printf("epoch: rank %d/%d max |param difference| %.3g, loss %.9g/%.9g, eval %.9g/%.9g %s\n", comm->rank(),
                comm->size(), d, loss_many, loss_one, eval_many, eval_one, good ? "OK" : "MISMATCH");
  }
  std::vector<int64_t> failures{ok ? 0 : 1};
  comm->allreduce_sum(std::span<int64_t>(failures));
  if (comm->rank() == 0) std::printf("%s\n", failures[0] == 0 ? "ALL RANKS AGREE" : "FAILED");
  return failures[0] == 0 ? 0 : 1;
}
