// The kernel backend's host code (runtime/backend/kernel_backend.cpp) on the emulator, whose
// streams are queues and whose graphs replay what they captured (runtime/simt/device_queue.h):
// the whole AE and VAE training step as a captured graph equals the direct step bit for bit, and
// the asynchrony bugs a review found stay fixed (each case names the bug it guards against).
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/common.cuh"
#include "runtime/backend/kernel_backend.h"
#include "runtime/models/autoencoder.h"
#include "runtime/models/vae.h"
#include "runtime/simt/device_queue.h"
#include "runtime/simt/settings.h"
#include "simt_test_support.h"

using namespace zs;

namespace {

struct Step {
  int n;
  float lr;
};

struct Trace {
  std::vector<float> losses;   // every step's per-sample losses (VAE: its loss terms)
  std::vector<float> params;   // after the last step
};

std::vector<float> mnist_like(int n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> x(size_t(n) * kImageSize);
  for (float& v : x) v = u(g) < 0.8f ? 0.f : u(g);
  return x;
}

template <class Model>
Trace train(Backend& be, Model& model, const std::vector<float>& x, const std::vector<Step>& schedule) {
  Trace t;
  Buffer dev_x(be, x.size());
  be.to_device(dev_x.data(), x.data(), x.size());
  for (const Step& s : schedule) {
    model.train_step(dev_x.data(), s.n, AdamHyper{s.lr});
    std::vector<float> l;
    if constexpr (std::is_same_v<Model, Vae>) {
      l.resize(3 * size_t(s.n));
      be.to_host(l.data(), model.loss_terms(), l.size());
    } else {
      l.resize(size_t(s.n));
      be.to_host(l.data(), model.loss_per_sample(), l.size());
    }
    t.losses.insert(t.losses.end(), l.begin(), l.end());
  }
  t.params.resize(size_t(model.params().total()));
  be.to_host(t.params.data(), model.params().params(), t.params.size());
  return t;
}

Trace train_ae(Backend& be, const std::vector<Step>& schedule, int max_batch) {
  Autoencoder ae(be, 5, LossKind::Bce, max_batch, 17);
  return train(be, ae, mnist_like(max_batch, 3), schedule);
}

Trace train_vae(Backend& be, const std::vector<Step>& schedule, int max_batch) {
  Vae vae(be, 2, 1.f, max_batch, 23);
  return train(be, vae, mnist_like(max_batch, 4), schedule);
}

// Forward and one random interleaving: enough to expose order-dependent host code.
std::vector<simt::Settings> two_orders() {
  const auto all = simt_test::all_orders();
  return {all[0], all[2]};
}

// The same schedule with graphs (capture, replay) and without (every step direct): same bits.
void require_graphs_match_direct(const std::vector<Step>& schedule, int max_batch, bool with_vae,
                                 const std::vector<simt::Settings>& orders) {
  for (const simt::Settings& s : orders) {
    simt::ScopedSettings scoped(s);
    INFO(simt_test::describe(s));
    auto with_graphs = emu::make_backend(true), direct = emu::make_backend(false);
    const Trace ae_graph = train_ae(*with_graphs, schedule, max_batch), ae_direct = train_ae(*direct, schedule, max_batch);
    CHECK(ae_graph.losses == ae_direct.losses);
    CHECK(ae_graph.params == ae_direct.params);
    if (!with_vae) continue;
    const Trace vae_graph = train_vae(*with_graphs, schedule, max_batch);
    const Trace vae_direct = train_vae(*direct, schedule, max_batch);
    CHECK(vae_graph.losses == vae_direct.losses);
    CHECK(vae_graph.params == vae_direct.params);
  }
}

}  // namespace

TEST_CASE("emu backend: captured AE and VAE training steps equal direct steps bit for bit", "[emu][graphs]") {
  // Step 1 runs directly, step 2 is captured (and replayed), steps 3-5 are replays.
  require_graphs_match_direct({{4, 1e-3f}, {4, 1e-3f}, {4, 1e-3f}, {4, 1e-3f}, {4, 1e-3f}}, 4, true, two_orders());
}

TEST_CASE("emu backend: a learning rate changed after capture is honoured (bug 2)", "[emu][graphs]") {
  // The graph captured at lr 1e-3 must not keep replaying it once the schedule says 5e-3.
  require_graphs_match_direct({{3, 1e-3f}, {3, 1e-3f}, {3, 1e-3f}, {3, 5e-3f}, {3, 5e-3f}, {3, 1e-3f}}, 3, false,
                              {simt_test::all_orders()[2]});
}

TEST_CASE("emu backend: workspace growth after a capture leaves the captured graph valid (bug 1)", "[emu][graphs]") {
  // Batch 2 is captured first; batch 4 then needs a larger conv workspace; batch 2 replays after.
  require_graphs_match_direct({{2, 1e-3f}, {2, 1e-3f}, {2, 1e-3f}, {4, 1e-3f}, {4, 1e-3f}, {2, 1e-3f}, {2, 1e-3f}}, 4,
                              false, {simt_test::all_orders()[2]});
}

TEST_CASE("emu backend: two backends stepping concurrently give the bits of one at a time (bug 3)", "[emu][graphs]") {
  // Each backend's work is queued on its own stream and only a device-wide synchronisation runs
  // it, so the random orders interleave the two models' kernels, split-K GEMMs included. The
  // models differ (seed, data), so scratch memory shared between them would change the bits.
  const std::vector<Step> schedule{{4, 1e-3f}, {4, 1e-3f}, {4, 1e-3f}};
  const uint64_t seeds[2] = {17, 18};
  const std::vector<float> data[2] = {mnist_like(4, 3), mnist_like(4, 8)};
  std::vector<float> alone[2];
  for (int i = 0; i < 2; ++i) {
    auto be = emu::make_backend();
    Autoencoder ae(*be, 5, LossKind::Bce, 4, seeds[i]);
    alone[i] = train(*be, ae, data[i], schedule).params;
  }
  // Op level: a split-K dense layer (3 x 1000 -> 5) on each backend, synchronised together, in
  // many random interleavings (each one interleaves the two GEMMs with some probability).
  const int rows = 3, in = 1000, out = 5;
  auto dense = [&](Backend& be, uint32_t seed) {
    const std::vector<float> x = mnist_like(rows * in / kImageSize + 1, seed), w = mnist_like(in * out / kImageSize + 1, seed + 1);
    Buffer dx(be, size_t(rows) * in), dw(be, size_t(in) * out), dy(be, size_t(rows) * out);
    be.to_device(dx.data(), x.data(), dx.size());
    be.to_device(dw.data(), w.data(), dw.size());
    return std::tuple{std::move(dx), std::move(dw), std::move(dy)};
  };
  std::vector<float> solo[2];
  for (int i = 0; i < 2; ++i) {
    auto be = emu::make_backend();
    auto [dx, dw, dy] = dense(*be, 40 + i);
    be->dense_forward(dy.data(), dx.data(), dw.data(), nullptr, rows, in, out, Act::None);
    solo[i].resize(dy.size());
    be->to_host(solo[i].data(), dy.data(), dy.size());
  }
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    simt::Settings s = simt_test::all_orders()[2];
    s.seed = seed;
    simt::ScopedSettings scoped(s);
    std::unique_ptr<Backend> be[2] = {emu::make_backend(), emu::make_backend()};
    auto [dx0, dw0, dy0] = dense(*be[0], 40);
    auto [dx1, dw1, dy1] = dense(*be[1], 41);
    be[0]->dense_forward(dy0.data(), dx0.data(), dw0.data(), nullptr, rows, in, out, Act::None);
    be[1]->dense_forward(dy1.data(), dx1.data(), dw1.data(), nullptr, rows, in, out, Act::None);
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> got[2] = {std::vector<float>(dy0.size()), std::vector<float>(dy1.size())};
    be[0]->to_host(got[0].data(), dy0.data(), dy0.size());
    be[1]->to_host(got[1].data(), dy1.data(), dy1.size());
    INFO(simt_test::describe(s));
    CHECK(got[0] == solo[0]);
    CHECK(got[1] == solo[1]);
  }

  // Whole training steps, graphs included.
  for (const simt::Settings& s : two_orders()) {
    simt::ScopedSettings scoped(s);
    INFO(simt_test::describe(s));
    std::unique_ptr<Backend> be[2] = {emu::make_backend(), emu::make_backend()};
    std::vector<std::unique_ptr<Autoencoder>> ae;
    std::vector<Buffer> x;
    for (int i = 0; i < 2; ++i) {
      ae.push_back(std::make_unique<Autoencoder>(*be[i], 5, LossKind::Bce, 4, seeds[i]));
      x.emplace_back(*be[i], data[i].size());
      be[i]->to_device(x[i].data(), data[i].data(), data[i].size());
    }
    for (const Step& st : schedule)
      for (int i = 0; i < 2; ++i) ae[i]->train_step(x[i].data(), st.n, AdamHyper{st.lr});
    CUDA_CHECK(cudaDeviceSynchronize());
    for (int i = 0; i < 2; ++i) {
      std::vector<float> p(size_t(ae[i]->params().total()));
      be[i]->to_host(p.data(), ae[i]->params().params(), p.size());
      CHECK(p == alone[i]);
    }
  }
}

TEST_CASE("emu backend: the device step counter is cleared on the backend's own stream (bug 4)", "[emu][graphs]") {
  // Adam steps 1, 2, a device-wide synchronisation (a cudaFree), step 3: the cpu's parameters.
  const int64_t count = 37;
  std::vector<float> p0(count), g(count);
  for (int64_t i = 0; i < count; ++i) {
    p0[i] = 0.01f * float(i) - 0.2f;
    g[i] = 0.03f * float(i % 7) - 0.1f;
  }
  auto run = [&](Backend& be) {
    Buffer p(be, count), m(be, count), v(be, count), grad(be, count);
    be.to_device(p.data(), p0.data(), count);
    be.to_device(grad.data(), g.data(), count);
    be.fill(m.data(), 0.f, count);
    be.fill(v.data(), 0.f, count);
    for (int64_t step = 1; step <= 3; ++step) {
      be.adam_step(p.data(), m.data(), v.data(), grad.data(), count, AdamHyper{1e-2f}, step);
      if (step == 2) Buffer(be, 1).reset();   // cudaFree synchronises the whole device
    }
    std::vector<float> out(count);
    be.to_host(out.data(), p.data(), count);
    return out;
  };
  auto cpu = make_cpu_backend();
  const std::vector<float> want = run(*cpu);
  for (const simt::Settings& s : two_orders()) {
    simt::ScopedSettings scoped(s);
    auto emu = emu::make_backend();
    simt_test::require_close(run(*emu), want, 1e-7, 1e-6, "Adam after 3 steps, " + simt_test::describe(s));
  }
}

TEST_CASE("emu backend: error paths release the stream, graph and exec they hold (bug 5)", "[emu][graphs]") {
  const simt::queue::HandleCounts before = simt::queue::live_handles();
  // The constructor's first allocation fails after its stream was created.
  simt::fail_next_call("cudaMalloc", cudaErrorMemoryAllocation);
  CHECK_THROWS(emu::make_backend());
  CHECK(simt::queue::live_handles().streams == before.streams);

  // Instantiation fails after the capture produced a graph.
  {
    auto be = emu::make_backend();
    Buffer a(*be, 8), b(*be, 8);
    simt::fail_next_call("cudaGraphInstantiate", cudaErrorMemoryAllocation);
    CHECK_THROWS(be->capture([&] { be->copy(b.data(), a.data(), 8); }));
    CHECK(simt::queue::live_handles().graphs == before.graphs);
    CHECK(simt::queue::live_handles().graph_execs == before.graph_execs);
    // A capture that succeeds holds one graph and one exec until it is dropped.
    auto graph = be->capture([&] { be->copy(b.data(), a.data(), 8); });
    REQUIRE(graph);
    CHECK(simt::queue::live_handles().graph_execs == before.graph_execs + 1);
    graph.reset();
    CHECK(simt::queue::live_handles().graph_execs == before.graph_execs);
  }
  CHECK(simt::queue::live_handles().streams == before.streams);
}

TEST_CASE("emu backend: releasing memory the backend does not own is reported, not ignored (bug 5)", "[emu][graphs]") {
  char path[] = "/tmp/zs_release_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::fflush(nullptr);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGABRT, SIG_DFL);   // not Catch's handler: the child must just die
    dup2(fd, 1);
    dup2(fd, 2);
    auto be = emu::make_backend();
    float not_ours[4] = {};
    be->release(not_ours);
    std::_Exit(0);   // reached only when the release was silently ignored
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  std::string message(4096, '\0');
  message.resize(size_t(std::max<ssize_t>(0, pread(fd, message.data(), message.size(), 0))));
  close(fd);
  unlink(path);
  INFO("child stderr: " << message);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT));
  CHECK(message.find("did not allocate") != std::string::npos);
}
