// The kernel backend's host code on a real GPU (zs::cuda): the checks the emulator runs in
// test_emu_backend.cpp (backend_checks.h) - captured training steps equal direct ones bit for bit,
// a learning-rate change after capture, workspace growth under a live graph, two backends on two
// streams at once, the step counter's reset - with the GPU's own concurrency and timing.
// Without a usable GPU every test case says "SKIPPED: no CUDA GPU" (a WARN) and checks nothing.
#define ZS_KNS cuda
#include "backend_checks.h"
#include "kernel_runs.h"

#include <catch2/catch.hpp>

#include <vector>

#include "runtime/backend/kernel_backend.h"

using namespace zs;
using namespace zs::backend_checks;

namespace {
const MakeBackend kCuda = [](bool graphs) { return cuda::make_backend(graphs); };
}  // namespace

TEST_CASE("cuda backend: captured AE and VAE training steps equal direct steps bit for bit", "[cuda][graphs]") {
  SKIP_WITHOUT_GPU();
  check_graphs_match_direct(kCuda, kFiveSteps, 4, true);
}

TEST_CASE("cuda backend: a learning rate changed after capture is honoured", "[cuda][graphs]") {
  SKIP_WITHOUT_GPU();
  check_graphs_match_direct(kCuda, kLearningRateChange, 3, false);
}

TEST_CASE("cuda backend: workspace growth after a capture leaves the captured graph valid", "[cuda][graphs]") {
  SKIP_WITHOUT_GPU();
  check_graphs_match_direct(kCuda, kWorkspaceGrowth, 4, false);
}

TEST_CASE("cuda backend: two backends stepping concurrently give the bits of one at a time", "[cuda][graphs]") {
  SKIP_WITHOUT_GPU();
  auto solo = cuda::make_backend();
  const DenseOutputs alone = dense_on_two_backends(*solo, nullptr);
  for (int round = 0; round < 8; ++round) {
    auto a = cuda::make_backend(), b = cuda::make_backend();
    const DenseOutputs got = dense_on_two_backends(*a, b.get());
    CHECK(got.first == alone.first);
    CHECK(got.second == alone.second);
  }
  std::vector<float> models_alone[2];
  train_two_models_alone(kCuda, models_alone);
  check_two_models_concurrently(kCuda, models_alone);
}

TEST_CASE("cuda backend: the device step counter starts at zero on the backend's stream", "[cuda][graphs]") {
  SKIP_WITHOUT_GPU();
  auto cpu = make_cpu_backend(), gpu = cuda::make_backend();
  const std::vector<float> want = adam_three_steps(*cpu), got = adam_three_steps(*gpu);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(std::fabs(got[i] - want[i]) <= 1e-7 + 1e-6 * std::fabs(want[i]));
}
