// The VAE kernels (kernels/vae.cu) on a real GPU (zs::cuda): the emulator tests' checks
// (vae_kernel_checks.h) for every kernel version, each run twice and required to give the same
// bits, within tolerance of the CPU twin (device math is not glibc's) and with the raw Philox
// words exactly the host's; the VAE's own shapes at batch 128 (z_dim 2 and 16); and the
// reparameterization captured in a CUDA graph behind the device step counter, whose replays
// must draw the eps of consecutive steps.
// Without a usable GPU every test case says "SKIPPED: no CUDA GPU" (a WARN) and checks nothing.
#define ZS_KNS cuda
#include "vae_kernel_checks.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

using namespace zs::vae_checks;

using zs::kernel_runs::twice;

TEST_CASE("cuda vae: the raw Philox words equal the host's", "[cuda][vae][philox]") {
  SKIP_WITHOUT_GPU();
  check_philox_words(twice);
}

TEST_CASE("cuda vae: reparameterization forward matches the twin, also at batch 128", "[cuda][vae]") {
  SKIP_WITHOUT_GPU();
  check_reparam_forward(twice, TwinBits::No);
  check_reparam_forward(twice, TwinBits::No, vae_latent_shapes());
}

TEST_CASE("cuda vae: the step read from device memory (and advanced there) gives the host step's bits",
          "[cuda][vae]") {
  SKIP_WITHOUT_GPU();
  check_reparam_device_step(twice, TwinBits::No);
}

TEST_CASE("cuda vae: a slice of a batch (first row > 0) matches the twin's slice", "[cuda][vae]") {
  SKIP_WITHOUT_GPU();
  check_reparam_slice(twice, TwinBits::No);
}

TEST_CASE("cuda vae: reparameterization backward matches the twin, also at batch 128", "[cuda][vae]") {
  SKIP_WITHOUT_GPU();
  check_reparam_backward(twice, TwinBits::No);
  check_reparam_backward(twice, TwinBits::No, vae_latent_shapes());
}

TEST_CASE("cuda vae: the loss matches the CPU twin in every version, also on 128 x 784", "[cuda][vae][loss]") {
  SKIP_WITHOUT_GPU();
  for (int version = 1; version <= kns::kVaeLossKernelVersions; ++version) {
    DYNAMIC_SECTION("vae_loss kernel " << version) {
      check_vae_loss(twice, version, TwinBits::No);
      check_vae_loss(twice, version, TwinBits::No, vae_batch_cases());
    }
  }
}

TEST_CASE("cuda vae: bad arguments are rejected before any launch", "[cuda][vae]") {
  SKIP_WITHOUT_GPU();
  check_vae_bad_arguments();
}

TEST_CASE("cuda vae: a captured graph (advance step, reparameterize) draws consecutive steps' eps",
          "[cuda][vae][graph]") {
  SKIP_WITHOUT_GPU();
  const int n = 128, zdim = 16, replays = 3;
  const uint64_t seed = 2024;
  const std::vector<float> ml = make_mu_logvar(n, zdim, 900);
  DeviceBuffer<float> d_ml(kernel_memory(), ml), z(kernel_memory(), std::size_t(n) * zdim),
      eps(kernel_memory(), std::size_t(n) * zdim);
  DeviceBuffer<float> z_direct(kernel_memory(), std::size_t(n) * zdim),
      eps_direct(kernel_memory(), std::size_t(n) * zdim);
  DeviceBuffer<int64_t> step(kernel_memory(), std::vector<int64_t>{0});
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreate(&stream));
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  kns::adam_advance_step(step.data(), stream);   // recorded, not run
  kns::vae_reparam_forward_device(z.data(), eps.data(), d_ml.data(), n, zdim, seed, step.data(), true, 0, stream);
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  CUDA_CHECK(cudaGraphInstantiateWithFlags(&exec, graph, 0));
  std::vector<float> previous_eps;
  for (int r = 1; r <= replays; ++r) {
    CUDA_CHECK(cudaGraphLaunch(exec, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    kns::vae_reparam_forward(z_direct.data(), eps_direct.data(), d_ml.data(), n, zdim, seed, r, true, 0, stream);
    const std::vector<float> got_eps = eps.download();
    INFO("replay " << r << " vs a direct launch at step " << r);
    CHECK(step.download()[0] == r);
    CHECK(same_bits(got_eps, eps_direct.download()));
    CHECK(same_bits(z.download(), z_direct.download()));
    CHECK_FALSE(same_bits(got_eps, previous_eps));   // fresh noise at every replay
    previous_eps = got_eps;
  }
  CUDA_CHECK(cudaGraphExecDestroy(exec));
  CUDA_CHECK(cudaGraphDestroy(graph));
  CUDA_CHECK(cudaStreamDestroy(stream));
}
