// The Trainer (runtime/train/trainer.h): an epoch equals the same steps taken one by one in the
// epoch's shuffle, its loss sums (kept on the device) are read only at reports, evaluation is the
// mean of the per-sample terms, and the step counter (one copy, in the ParamStore) counts the steps
// on every backend, captured graphs included.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/backend/kernel_backend.h"
#include "runtime/data/batching.h"
#include "runtime/models/autoencoder.h"
#include "runtime/models/vae.h"
#include "runtime/train/trainer.h"
#include "test_data.h"

using namespace zs;

namespace {

std::vector<float> images(int n, uint32_t seed) { return zs_test::sparse_images(n, seed); }

std::vector<float> parameters(Backend& be, Model& m) {
  std::vector<float> p(size_t(m.params().total()));
  be.to_host(p.data(), m.params().params(), p.size());
  return p;
}

}  // namespace

TEST_CASE("trainer: an epoch is its shuffle's steps one by one; sums are read at reports only", "[cpu][trainer]") {
  Backend& be = shared_cpu_backend();
  const int rows = 10, batch = 4;
  const uint64_t seed = 5;
  const int epoch = 3;
  const std::vector<float> x = images(rows, 9);
  const Buffer data(be, x);
  const AdamHyper h{1e-3f};

  Autoencoder by_epoch(be, 4, LossKind::Bce, batch, 11);
  Trainer trainer(be, by_epoch, kImageSize);
  std::vector<int64_t> reported;
  const std::vector<double> means = trainer.train_epoch(
      data.data(), rows, batch, seed, epoch, h, [&](int64_t done, const std::vector<double>&) { reported.push_back(done); },
      2);
  CHECK(reported == std::vector<int64_t>{8, 10});   // after step 2, and at the end of the epoch
  CHECK(by_epoch.params().steps_taken() == 3);

  // The same steps by hand, on the rows of the epoch's permutation.
  Autoencoder by_hand(be, 4, LossKind::Bce, batch, 11);
  Trainer stepper(be, by_hand, kImageSize);
  const std::vector<int> perm = epoch_permutation(rows, seed, epoch);
  std::vector<float> shuffled;
  for (int r : perm) shuffled.insert(shuffled.end(), x.begin() + int64_t(r) * kImageSize, x.begin() + int64_t(r + 1) * kImageSize);
  double sum = 0;
  for (int first = 0; first < rows; first += batch) {
    const int n = std::min(batch, rows - first);
    const float* losses = stepper.step(shuffled.data() + int64_t(first) * kImageSize, n, h);
    for (int i = 0; i < n; ++i) sum += double(losses[i]);
  }
  CHECK(parameters(be, by_epoch) == parameters(be, by_hand));
  CHECK(means.at(0) == sum / rows);

  // Evaluation: the mean of the per-sample losses, in order.
  const std::vector<double> eval = trainer.evaluate(data.data(), rows, batch, epoch);
  double eval_sum = 0;
  for (int first = 0; first < rows; first += batch) {
    const int n = std::min(batch, rows - first);
    const float* losses = by_epoch.evaluate(data.data() + int64_t(first) * kImageSize, n, epoch, 0);
    for (int i = 0; i < n; ++i) eval_sum += double(losses[i]);
  }
  CHECK(eval.at(0) == eval_sum / rows);
}

TEST_CASE("trainer: a report that throws stops the epoch there", "[cpu][trainer]") {
  Backend& be = shared_cpu_backend();
  const Buffer data(be, images(12, 2));
  Autoencoder model(be, 3, LossKind::Mse, 4, 1);
  Trainer trainer(be, model, kImageSize);
  struct Stop {};
  CHECK_THROWS_AS(trainer.train_epoch(data.data(), 12, 4, 1, 1, AdamHyper{1e-3f},
                                      [](int64_t, const std::vector<double>&) { throw Stop{}; }, 1),
                  Stop);
  CHECK(model.params().steps_taken() == 1);
}

#ifdef ZSPACE_HAVE_EMU
TEST_CASE("trainer: the step counter counts replayed steps; VAE epochs on emu match cpu", "[emu][trainer]") {
  const int rows = 9, batch = 3;
  const std::vector<float> x = images(rows, 4);
  std::vector<double> means[2];
  std::vector<float> params[2];
  for (int b = 0; b < 2; ++b) {
    std::unique_ptr<Backend> be = b == 0 ? make_cpu_backend() : emu::make_backend();
    const Buffer data(*be, x);
    Vae vae(*be, 2, 1.0, true, batch, 7);
    Trainer trainer(*be, vae, kImageSize);
    vae.params().set_steps_taken(40);   // as after --resume
    for (int epoch = 1; epoch <= 2; ++epoch)
      means[b] = trainer.train_epoch(data.data(), rows, batch, 3, epoch, AdamHyper{1e-3f},
                                     [](int64_t, const std::vector<double>&) {});
    CHECK(vae.params().steps_taken() == 46);   // 2 epochs of 3 steps, graphs replayed on emu
    params[b] = parameters(*be, vae);
  }
  REQUIRE(means[0].size() == 3);
  for (size_t t = 0; t < 3; ++t) CHECK(means[1][t] == Approx(means[0][t]).epsilon(1e-4));
  REQUIRE(params[0].size() == params[1].size());
  double worst = 0;
  for (size_t i = 0; i < params[0].size(); ++i) worst = std::max(worst, double(std::abs(params[0][i] - params[1][i])));
  CHECK(worst < 1e-4);   // 6 Adam steps of lr 1e-3 move a weight by at most 6e-3
}
#endif
