// The kernel backend's host code (runtime/backend/kernel_backend.cpp) on the emulator, whose
// streams are queues and whose graphs replay what they captured (runtime/simt/device_queue.h):
// the whole AE and VAE training step as a captured graph equals the direct step bit for bit, and
// the asynchrony bugs a review found stay fixed (each case names the bug it guards against; the
// checks are shared with a real GPU in backend_checks.h / test_cuda_backend.cpp).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "backend_checks.h"
#include "runtime/core/error.h"
#include "child_process.h"
#include "runtime/backend/kernel_backend.h"
#include "runtime/simt/device_queue.h"
#include "runtime/simt/settings.h"
#include "simt_test_support.h"

using namespace zs;
using namespace zs::backend_checks;

namespace {

const MakeBackend kEmu = [](bool graphs) { return emu::make_backend(graphs); };

// Forward and one random interleaving: enough to expose order-dependent host code.
std::vector<simt::Settings> two_orders() {
  const auto all = simt_test::all_orders();
  return {all[0], all[2]};
}

}  // namespace

TEST_CASE("emu backend: captured AE and VAE training steps equal direct steps bit for bit", "[emu][graphs]") {
  // Step 1 runs directly, step 2 is captured (and replayed), steps 3-5 are replays.
  for (const simt::Settings& s : two_orders()) {
    simt::ScopedSettings scoped(s);
    INFO(simt_test::describe(s));
    check_graphs_match_direct(kEmu, kFiveSteps, 4, true);
  }
}

TEST_CASE("emu backend: a learning rate changed after capture is honoured (bug 2)", "[emu][graphs]") {
  // The graph captured at lr 1e-3 must not keep replaying it once the schedule says 5e-3.
  simt::ScopedSettings scoped(simt_test::all_orders()[2]);
  check_graphs_match_direct(kEmu, kLearningRateChange, 3, false);
}

TEST_CASE("emu backend: workspace growth after a capture leaves the captured graph valid (bug 1)", "[emu][graphs]") {
  // Batch 2 is captured first; batch 4 then needs a larger conv workspace; batch 2 replays after.
  simt::ScopedSettings scoped(simt_test::all_orders()[2]);
  check_graphs_match_direct(kEmu, kWorkspaceGrowth, 4, false);
}

TEST_CASE("emu backend: two backends stepping concurrently give the bits of one at a time (bug 3)", "[emu][graphs]") {
  // Each backend's work is queued on its own stream and only a device-wide synchronisation runs
  // it, so random orders interleave the two backends' kernels. The inputs differ, so scratch
  // memory shared between them would change the bits. Op level first: one split-K dense layer
  // each, in many random interleavings (each one interleaves the two GEMMs with some probability).
  const DenseOutputs alone = [] {
    auto be = emu::make_backend();
    return dense_on_two_backends(*be, nullptr);
  }();
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    simt::Settings s = simt_test::all_orders()[2];
    s.seed = seed;
    simt::ScopedSettings scoped(s);
    INFO(simt_test::describe(s));
    auto a = emu::make_backend(), b = emu::make_backend();
    const DenseOutputs got = dense_on_two_backends(*a, b.get());
    CHECK(got.first == alone.first);
    CHECK(got.second == alone.second);
  }
  // Whole training steps, graphs included.
  std::vector<float> models_alone[2];
  train_two_models_alone(kEmu, models_alone);
  for (const simt::Settings& s : two_orders()) {
    simt::ScopedSettings scoped(s);
    INFO(simt_test::describe(s));
    check_two_models_concurrently(kEmu, models_alone);
  }
}

TEST_CASE("emu backend: the device step counter is cleared on the backend's own stream (bug 4)", "[emu][graphs]") {
  auto cpu = make_cpu_backend();
  const std::vector<float> want = adam_three_steps(*cpu);
  for (const simt::Settings& s : two_orders()) {
    simt::ScopedSettings scoped(s);
    auto emu = emu::make_backend();
    simt_test::require_close(adam_three_steps(*emu), want, 1e-7, 1e-6,
                             "Adam after 3 steps, " + simt_test::describe(s));
  }
}

TEST_CASE("emu backend: error paths release the stream, graph and exec they hold (bug 5)", "[emu][graphs]") {
  const simt::queue::HandleCounts before = simt::queue::live_handles();
  // An allocation that fails (here gather_rows' index buffer) throws the out-of-memory UserError
  // and leaves the backend's accounting as it was; the backend stays usable.
  {
    auto be = emu::make_backend();
    Buffer src(*be, 8), dst(*be, 8);
    const size_t in_use = be->bytes_in_use();
    const std::vector<int32_t> rows{1, 0};
    simt::fail_next_call("cudaMalloc", cudaErrorMemoryAllocation);
    CHECK_THROWS_AS(be->gather_rows(dst.data(), src.data(), 2, rows, 4), UserError);
    CHECK(be->bytes_in_use() == in_use);
    be->gather_rows(dst.data(), src.data(), 2, rows, 4);
    CHECK(be->bytes_in_use() > in_use);   // the index buffer, allocated this time
  }
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
  const zs::test_support::ChildOutcome child = zs::test_support::run_in_child([] {
    auto be = emu::make_backend();
    float not_ours[4] = {};
    be->release_bytes(not_ours);
    return 0;   // reached only when the release was silently ignored
  });
  INFO("child output: " << child.err);
  CHECK(child.aborted());
  CHECK(child.err.find("did not allocate") != std::string::npos);
}

TEST_CASE("emu backend: the device description names the emulator and its memory", "[emu][backend]") {
  auto be = emu::make_backend();
  const std::string d = be->device_description();
  INFO(d);
  CHECK(d.find("emulator") != std::string::npos);
  CHECK(d.find("MiB") != std::string::npos);
  CHECK(zs::make_cpu_backend()->device_description() == "cpu");
}
