// Whole training steps of the autoencoder on the emu backend (the CUDA kernels run by the emulator)
// against the cpu backend, in all three thread orders: the same losses, the same parameters after
// Adam, within a float32 tolerance — and bit-identical across the orders.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "runtime/backend/kernel_backend.h"
#include "runtime/models/autoencoder.h"
#include "runtime/simt/settings.h"

using namespace zs;

namespace {

struct StepResult {
  std::vector<float> losses;   // per sample, both steps
  std::vector<float> params;   // after both steps
};

StepResult two_steps(Backend& be, const std::vector<float>& x, int n, LossKind loss) {
  Autoencoder ae(be, 5, loss, n, 17);
  StepResult r;
  const Buffer dev_x(be, x);
  for (int step = 0; step < 2; ++step) {
    ae.train_step(dev_x.data(), n, AdamHyper{1e-3f});
    std::vector<float> l(static_cast<size_t>(n));
    be.to_host(l.data(), ae.loss_per_sample(), l.size());
    r.losses.insert(r.losses.end(), l.begin(), l.end());
  }
  r.params.resize(size_t(ae.params().total()));
  be.to_host(r.params.data(), ae.params().params(), r.params.size());
  return r;
}

}  // namespace

TEST_CASE("two autoencoder training steps on emu equal the cpu steps", "[emu][training]") {
  const int n = 3;
  std::mt19937 g(5);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> x(size_t(n) * kImageSize);
  for (auto& v : x) v = u(g) < 0.8f ? 0.f : u(g);  // sparse, MNIST-like intensities

  for (LossKind loss : {LossKind::Bce, LossKind::Mse}) {
    auto cpu = make_cpu_backend();
    StepResult want = two_steps(*cpu, x, n, loss);
    std::vector<StepResult> got;
    for (auto order : {simt::Order::Forward, simt::Order::Reverse, simt::Order::Random}) {
      simt::Settings s = simt::settings();
      s.order = order;
      s.seed = 99;
      s.strict = true;
      simt::ScopedSettings scoped(s);
      auto emu = emu::make_backend();
      got.push_back(two_steps(*emu, x, n, loss));
    }
    // Losses: a mean over 784 pixels of float32 terms.
    for (size_t i = 0; i < want.losses.size(); ++i) {
      INFO("loss " << i << ": cpu " << want.losses[i] << " emu " << got[0].losses[i]);
      REQUIRE(std::abs(got[0].losses[i] - want.losses[i]) <= 1e-5f + 1e-4f * std::abs(want.losses[i]));
    }
    // Parameters after two Adam steps: Adam normalizes the gradient, so a parameter moves by about
    // lr per step whatever the gradient's size; a float32 difference in a tiny gradient can flip
    // its direction. Bound: lr * 2 steps for sign flips on near-zero gradients, rare; typical |d| is
    // far below. We require 99.9% of parameters within 1e-5 and all within 2 * 2 * lr.
    size_t close = 0, worst_i = 0;
    double worst = 0;
    for (size_t i = 0; i < want.params.size(); ++i) {
      double d = std::abs(double(got[0].params[i]) - want.params[i]);
      close += d <= 1e-5;
      if (d > worst) worst = d, worst_i = i;
    }
    INFO("parameters: " << close << " of " << want.params.size() << " within 1e-5; worst " << worst << " at " << worst_i);
    CHECK(double(close) >= 0.999 * double(want.params.size()));
    CHECK(worst <= 4e-3);
    // Identical bits in every thread order: the kernels are deterministic.
    CHECK(got[1].params == got[0].params);
    CHECK(got[2].params == got[0].params);
    CHECK(got[1].losses == got[0].losses);
    CHECK(got[2].losses == got[0].losses);
  }
}
