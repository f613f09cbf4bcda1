// Checks of the kernel backend's host code (runtime/backend/kernel_backend.cpp), shared by the
// emulator (test_emu_backend.cpp, in several thread and stream orders) and a real GPU
// (test_cuda_backend.cpp). The includer picks the build: it defines ZS_KNS (cuda) before including
// this, or leaves it to kernels/common.cuh (emu); `make` creates a backend of that build.
#pragma once
#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <random>
#include <tuple>
#include <type_traits>
#include <vector>

#include "kernels/common.cuh"
#include "runtime/backend/backend.h"
#include "runtime/models/autoencoder.h"
#include "runtime/models/vae.h"
#include "runtime/train/trainer.h"

namespace zs::backend_checks {

using MakeBackend = std::function<std::unique_ptr<Backend>(bool graphs)>;

struct Step {
  int n;
  float lr;
};

struct Trace {
  std::vector<float> losses;   // every step's per-sample losses (VAE: its loss terms)
  std::vector<float> params;   // after the last step
};

inline std::vector<float> mnist_like(int n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> x(size_t(n) * kImageSize);
  for (float& v : x) v = u(g) < 0.8f ? 0.f : u(g);
  return x;
}

inline Trace train(Backend& be, Model& model, const std::vector<float>& x, const std::vector<Step>& schedule) {
  Trace t;
  const Buffer dev_x(be, x);
  Trainer trainer(be, model, kImageSize);
  for (const Step& s : schedule) {
    std::vector<float> l(model.loss_terms().size() * size_t(s.n));
    be.to_host(l.data(), trainer.step(dev_x.data(), s.n, AdamHyper{s.lr}), l.size());
    t.losses.insert(t.losses.end(), l.begin(), l.end());
  }
  t.params.resize(size_t(model.params().total()));
  be.to_host(t.params.data(), model.params().params(), t.params.size());
  return t;
}

inline Trace train_ae(Backend& be, const std::vector<Step>& schedule, int max_batch, uint64_t seed = 17,
                      uint32_t data_seed = 3) {
  Autoencoder ae(be, 5, LossKind::Bce, max_batch, seed);
  return train(be, ae, mnist_like(max_batch, data_seed), schedule);
}

inline Trace train_vae(Backend& be, const std::vector<Step>& schedule, int max_batch) {
  Vae vae(be, 2, 1.0, true, max_batch, 23);
  return train(be, vae, mnist_like(max_batch, 4), schedule);
}

// The same schedule with graphs (capture, replay) and without (every step direct): same bits.
inline void check_graphs_match_direct(const MakeBackend& make, const std::vector<Step>& schedule, int max_batch,
                                      bool with_vae) {
  auto with_graphs = make(true), direct = make(false);
  const Trace ae_graph = train_ae(*with_graphs, schedule, max_batch), ae_direct = train_ae(*direct, schedule, max_batch);
  CHECK(ae_graph.losses == ae_direct.losses);
  CHECK(ae_graph.params == ae_direct.params);
  if (!with_vae) return;
  const Trace vae_graph = train_vae(*with_graphs, schedule, max_batch);
  const Trace vae_direct = train_vae(*direct, schedule, max_batch);
  CHECK(vae_graph.losses == vae_direct.losses);
  CHECK(vae_graph.params == vae_direct.params);
}

// The schedules of the bugs a review found (see the test files).
inline const std::vector<Step> kFiveSteps{{4, 1e-3f}, {4, 1e-3f}, {4, 1e-3f}, {4, 1e-3f}, {4, 1e-3f}};
inline const std::vector<Step> kLearningRateChange{{3, 1e-3f}, {3, 1e-3f}, {3, 1e-3f},
                                                   {3, 5e-3f}, {3, 5e-3f}, {3, 1e-3f}};
inline const std::vector<Step> kWorkspaceGrowth{{2, 1e-3f}, {2, 1e-3f}, {2, 1e-3f}, {4, 1e-3f},
                                                {4, 1e-3f}, {2, 1e-3f}, {2, 1e-3f}};

// A split-K dense layer (3 x 1000 -> 5) on two backends, synchronised together, against each
// alone. Returns the two outputs.
struct DenseOutputs {
  std::vector<float> first, second;
};
inline DenseOutputs dense_on_two_backends(Backend& a, Backend* b) {
  const int rows = 3, in = 1000, out = 5;
  auto upload = [&](Backend& be, uint32_t seed) {
    const std::vector<float> x = mnist_like(rows * in / kImageSize + 1, seed);
    const std::vector<float> w = mnist_like(in * out / kImageSize + 1, seed + 1);
    Buffer dx(be, size_t(rows) * in), dw(be, size_t(in) * out), dy(be, size_t(rows) * out);
    be.to_device(dx.data(), x.data(), dx.size());
    be.to_device(dw.data(), w.data(), dw.size());
    return std::tuple{std::move(dx), std::move(dw), std::move(dy)};
  };
  auto [x0, w0, y0] = upload(a, 40);
  Backend& second = b ? *b : a;
  auto [x1, w1, y1] = upload(second, 41);
  a.dense_forward(y0.data(), x0.data(), w0.data(), nullptr, rows, in, out, Act::None);
  if (!b) a.synchronize();   // one at a time
  second.dense_forward(y1.data(), x1.data(), w1.data(), nullptr, rows, in, out, Act::None);
  CUDA_CHECK(cudaDeviceSynchronize());
  DenseOutputs r{std::vector<float>(y0.size()), std::vector<float>(y1.size())};
  a.to_host(r.first.data(), y0.data(), y0.size());
  second.to_host(r.second.data(), y1.data(), y1.size());
  return r;
}

// Two models on two backends, their steps issued alternately, synchronised together at the end:
// each model's parameters equal its parameters when trained alone.
inline void check_two_models_concurrently(const MakeBackend& make, const std::vector<float> (&alone)[2]) {
  const std::vector<Step> schedule{{4, 1e-3f}, {4, 1e-3f}, {4, 1e-3f}};
  const uint64_t seeds[2] = {17, 18};
  const std::vector<float> data[2] = {mnist_like(4, 3), mnist_like(4, 8)};
  std::unique_ptr<Backend> be[2] = {make(true), make(true)};
  std::vector<std::unique_ptr<Autoencoder>> ae;
  std::vector<std::unique_ptr<Trainer>> trainer;
  std::vector<Buffer> x;
  for (int i = 0; i < 2; ++i) {
    ae.push_back(std::make_unique<Autoencoder>(*be[i], 5, LossKind::Bce, 4, seeds[i]));
    trainer.push_back(std::make_unique<Trainer>(*be[i], *ae[i], kImageSize));
    x.emplace_back(*be[i], data[i]);
  }
  for (const Step& st : schedule)
    for (int i = 0; i < 2; ++i) trainer[i]->step(x[i].data(), st.n, AdamHyper{st.lr});
  CUDA_CHECK(cudaDeviceSynchronize());
  for (int i = 0; i < 2; ++i) {
    std::vector<float> p(size_t(ae[i]->params().total()));
    be[i]->to_host(p.data(), ae[i]->params().params(), p.size());
    CHECK(p == alone[i]);
  }
}

// What each model of check_two_models_concurrently reaches alone.
inline void train_two_models_alone(const MakeBackend& make, std::vector<float> (&alone)[2]) {
  const std::vector<Step> schedule{{4, 1e-3f}, {4, 1e-3f}, {4, 1e-3f}};
  for (int i = 0; i < 2; ++i) {
    auto be = make(true);
    alone[i] = train_ae(*be, schedule, 4, i == 0 ? 17 : 18, i == 0 ? 3 : 8).params;
  }
}

// Adam steps 1, 2, a device-wide synchronisation (a cudaFree), step 3: the parameters. The step
// counter is zeroed on the backend's stream (fill_zero), as a ParamStore's is.
inline std::vector<float> adam_three_steps(Backend& be) {
  const int64_t count = 37;
  std::vector<float> p0(count), g(count);
  for (int64_t i = 0; i < count; ++i) {
    p0[i] = 0.01f * float(i) - 0.2f;
    g[i] = 0.03f * float(i % 7) - 0.1f;
  }
  Buffer p(be, count), m(be, count), v(be, count), grad(be, count);
  be.to_device(p.data(), p0.data(), count);
  be.to_device(grad.data(), g.data(), count);
  be.fill(m.data(), 0.f, count);
  be.fill(v.data(), 0.f, count);
  DeviceBuffer<int64_t> counter(be, 1);
  be.fill_zero(counter.data(), 1);
  for (int64_t step = 1; step <= 3; ++step) {
    be.advance_step(counter.data());
    be.adam_step(p.data(), m.data(), v.data(), grad.data(), count, AdamHyper{1e-2f}, counter.data());
    if (step == 2) Buffer(be, 1).reset();   // cudaFree synchronises the whole device
  }
  std::vector<float> out(count);
  be.to_host(out.data(), p.data(), count);
  return out;
}

}  // namespace zs::backend_checks
