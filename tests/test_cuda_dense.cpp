// The GEMM, dense, loss and Adam kernels on a real GPU (zs::cuda): the emulator tests' checks
// (dense_kernel_checks.h) for every kernel version, each run twice and required to give the
// same bits; the AE's own shapes at batch 128 (too large for the emulator); and one training
// step captured in a CUDA graph and replayed, which must equal the same launches made directly
// (the split-K scratch and the device-side Adam step are what make the graph replayable).
// Without a usable GPU every test case says "SKIPPED: no CUDA GPU" (a WARN) and checks nothing.
#define ZS_KNS cuda
#include "dense_kernel_checks.h"

#include <catch2/catch.hpp>

#include <algorithm>

#include <cstdint>
#include <vector>

using namespace zs::dense_checks;
namespace kns = zs::cuda;

using zs::kernel_runs::twice;

TEST_CASE("cuda gemm: every version, transposes, epilogues and edges match a double reference", "[cuda][gemm]") {
  SKIP_WITHOUT_GPU();
  for (int version = 1; version <= kns::kGemmKernelVersions; ++version) {
    DYNAMIC_SECTION("gemm kernel " << version) { check_gemm(twice, version); }
  }
}

TEST_CASE("cuda dense: forward and backward match the CPU twin in every version", "[cuda][dense]") {
  SKIP_WITHOUT_GPU();
  for (int version = 1; version <= kns::kDenseKernelVersions; ++version) {
    DYNAMIC_SECTION("dense kernel " << version) {
      check_dense_forward(twice, version);
      check_dense_backward(twice, version);
    }
  }
}

TEST_CASE("cuda dense: the AE's 6272 -> 16 and 16 -> 6272 layers at batch 128", "[cuda][dense]") {
  SKIP_WITHOUT_GPU();
  for (int version = 1; version <= kns::kDenseKernelVersions; ++version) {
    DYNAMIC_SECTION("dense kernel " << version) {
      check_dense_forward(twice, version, ae_dense_cases());
      check_dense_backward(twice, version, ae_dense_cases());
    }
  }
}

TEST_CASE("cuda losses: BCE and MSE match the CPU twin, also on 128 x 784", "[cuda][loss]") {
  SKIP_WITHOUT_GPU();
  for (int version = 1; version <= kns::kLossKernelVersions; ++version) {
    DYNAMIC_SECTION("loss kernel " << version) {
      check_losses(twice, version);
      check_losses(twice, version, ae_loss_shapes());
    }
  }
}

TEST_CASE("cuda adam: host and device step match the CPU twin, also over 420k parameters", "[cuda][adam]") {
  SKIP_WITHOUT_GPU();
  for (int version = 1; version <= kns::kAdamKernelVersions; ++version) {
    DYNAMIC_SECTION("adam kernel " << version) {
      check_adam(twice, version);
      check_adam_device_step(twice, version);
      check_adam(twice, version, ae_adam_counts());
    }
  }
}

TEST_CASE("cuda graph: a captured dense + loss + Adam step replays like direct launches", "[cuda][graph]") {
  SKIP_WITHOUT_GPU();
  // The encoder's dense layer (split-K forward) trained on MSE for three steps.
  const int n = 128, in = 6272, out = 16, steps = 3;
  const float range = 0.1f;
  const std::vector<float> x = random_floats(std::size_t(n) * in, 1, -range, range);
  const std::vector<float> target = random_floats(std::size_t(n) * out, 2);
  const std::vector<float> w0 = random_floats(std::size_t(in) * out, 3, -range, range);
  const std::vector<float> b0 = random_floats(std::size_t(out), 4);
  const zs::AdamHyper h;

  struct Model {
    DeviceBuffer<float> w, b, mw, vw, mb, vb, dw, db, y, dy, loss;
    DeviceBuffer<int64_t> step;
    Model(const std::vector<float>& w0, const std::vector<float>& b0, int n, int out)
        : w(kernel_memory(), w0), b(kernel_memory(), b0), mw(kernel_memory(), std::vector<float>(w0.size(), 0.f)),
          vw(kernel_memory(), std::vector<float>(w0.size(), 0.f)),
          mb(kernel_memory(), std::vector<float>(b0.size(), 0.f)),
          vb(kernel_memory(), std::vector<float>(b0.size(), 0.f)), dw(kernel_memory(), w0.size()),
          db(kernel_memory(), b0.size()), y(kernel_memory(), std::size_t(n) * out),
          dy(kernel_memory(), std::size_t(n) * out), loss(kernel_memory(), std::size_t(n)),
          step(kernel_memory(), std::vector<int64_t>{0}) {}
  };
  DeviceBuffer<float> d_x(kernel_memory(), x), d_target(kernel_memory(), target);
  DeviceBuffer<float> workspace(kernel_memory(), std::max<std::size_t>(1, kns::dense_workspace(n, in, out)));
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreate(&stream));
  const auto train_step = [&](Model& md) {
    kns::dense_forward(md.y.data(), d_x.data(), md.w.data(), md.b.data(), n, in, out, zs::Act::None, workspace.data(),
                       stream);
    kns::mse_loss(md.loss.data(), md.dy.data(), md.y.data(), d_target.data(), n, out, stream);
    kns::dense_backward(nullptr, md.dw.data(), md.db.data(), md.dy.data(), d_x.data(), nullptr, n, in, out,
                        workspace.data(), stream);
    kns::adam_advance_step(md.step.data(), stream);
    kns::adam_step_device(md.w.data(), md.mw.data(), md.vw.data(), md.dw.data(), int64_t(w0.size()), h, md.step.data(),
                          stream);
    kns::adam_step_device(md.b.data(), md.mb.data(), md.vb.data(), md.db.data(), int64_t(b0.size()), h, md.step.data(),
                          stream);
  };

  Model direct(w0, b0, n, out), replayed(w0, b0, n, out);
  for (int s = 0; s < steps; ++s) train_step(direct);
  CUDA_CHECK(cudaStreamSynchronize(stream));

  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  train_step(replayed);   // recorded, not run
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  CUDA_CHECK(cudaGraphInstantiateWithFlags(&exec, graph, 0));
  for (int s = 0; s < steps; ++s) CUDA_CHECK(cudaGraphLaunch(exec, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  CUDA_CHECK(cudaGraphExecDestroy(exec));
  CUDA_CHECK(cudaGraphDestroy(graph));
  CUDA_CHECK(cudaStreamDestroy(stream));

  CHECK(replayed.step.download()[0] == steps);
  CHECK(direct.step.download()[0] == steps);
  CHECK(same_bits(replayed.w.download(), direct.w.download()));
  CHECK(same_bits(replayed.b.download(), direct.b.download()));
  CHECK(same_bits(replayed.loss.download(), direct.loss.download()));
  CHECK(same_bits(replayed.mw.download(), direct.mw.download()));
  // The weights moved: the replays really trained (each Adam step moves a weight by ~lr).
  CHECK_FALSE(same_bits(replayed.w.download(), w0));
}
