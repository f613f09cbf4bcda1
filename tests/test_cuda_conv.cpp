// The convolution kernels (kernels/conv2d.cu) on a real GPU: every version of every kernel
// against the CPU twin on the same odd geometries as the emulator test (tests/conv_test_support.h)
// plus the blog's layers at batch 16, and run-to-run bit identity (no atomics anywhere).
// Without a CUDA build or without a GPU each test says SKIPPED (a visible warning), never passes
// silently.
#include <catch2/catch.hpp>

#if defined(ZSPACE_HAVE_CUDA)

#define ZS_KNS cuda
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "conv_test_support.h"
#include "kernel_runs.h"
#include "kernels/common.cuh"
#include "kernels/conv2d.cuh"
#include "runtime/backend/kernel_memory.h"

using namespace zs::conv_test;
using zs::ConvGeom;

namespace {

using zs::DeviceBuffer;
using zs::cuda::kernel_memory;

// An output buffer that starts as NaN, so anything a kernel forgets to write fails the comparison.
DeviceBuffer<float> nan_floats(size_t count) { return DeviceBuffer<float>(kernel_memory(), Vec(count, std::nanf(""))); }

// The emulator test's geometries plus the blog's layers at batch 16.
std::vector<GeomCase> cuda_geometries() {
  std::vector<GeomCase> cases = test_geometries();
  for (const ConvGeom& g : blog_geometries(16)) cases.push_back({g, "blog layer, batch 16", false});
  return cases;
}

// Runs `launch` twice: the first result must match ref, the second must equal it bit for bit.
void check_twice(const std::string& what, const std::function<Vec()>& launch, const Vec& ref, Tolerance tol) {
  const Vec first = launch();
  check_close(what, first, ref, tol);
  const Vec second = launch();
  INFO(what << ": a second run changed the result");
  CHECK(std::memcmp(first.data(), second.data(), first.size() * sizeof(float)) == 0);
}

std::string label(const char* op, int version, const GeomCase& c, const Epilogue* e = nullptr) {
  std::string s = std::string(op) + " v" + std::to_string(version) + " " + describe(c.g) + " [" + c.reaches + "]";
  if (e) s += std::string(" act ") + act_name(e->act) + (e->bias ? " bias" : " no bias");
  return s;
}

}  // namespace

TEST_CASE("cuda conv2d_forward: every version matches the CPU twin", "[cuda][conv]") {
  SKIP_WITHOUT_GPU();
  uint32_t seed = 500;
  for (const GeomCase& c : cuda_geometries()) {
    const ConvGeom& g = c.g;
    const ConvData d = make_data(g, seed += 10);
    DeviceBuffer<float> x(kernel_memory(), d.x), w(kernel_memory(), d.w), b(kernel_memory(), d.b);
    for (const Epilogue& e : epilogues(true)) {
      const Vec ref = cpu_forward(g, d, e.bias, e.act);
      for (int version = 1; version <= zs::cuda::kConvForwardKernelVersions; ++version) {
        check_twice(
            label("conv2d_forward", version, c, &e),
            [&] {
              DeviceBuffer<float> y = nan_floats(size_t(g.y_size()));
              zs::cuda::conv2d_forward(g, y.data(), x.data(), w.data(), e.bias ? b.data() : nullptr, e.act, nullptr,
                                       version);
              return y.download();
            },
            ref, sum_tolerance(forward_terms(g)));
      }
    }
  }
}

TEST_CASE("cuda conv2d_backward_data: every version matches the CPU twin", "[cuda][conv]") {
  SKIP_WITHOUT_GPU();
  uint32_t seed = 600;
  for (const GeomCase& c : cuda_geometries()) {
    const ConvGeom& g = c.g;
    const ConvData d = make_data(g, seed += 10);
    DeviceBuffer<float> dy(kernel_memory(), d.dy), w(kernel_memory(), d.w), bias(kernel_memory(), d.bias_c);
    for (const Epilogue& e : epilogues(true)) {
      const Vec ref = cpu_backward_data(g, d, e.bias, e.act);
      for (int version = 1; version <= zs::cuda::kConvBackwardDataKernelVersions; ++version) {
        check_twice(
            label("conv2d_backward_data", version, c, &e),
            [&] {
              DeviceBuffer<float> dx = nan_floats(size_t(g.x_size()));
              zs::cuda::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), e.bias ? bias.data() : nullptr, e.act,
                                             nullptr, version);
              return dx.download();
            },
            ref, sum_tolerance(backward_data_terms(g)));
      }
    }
  }
}

TEST_CASE("cuda conv2d_backward_weight: every version matches the CPU twin", "[cuda][conv]") {
  SKIP_WITHOUT_GPU();
  uint32_t seed = 700;
  for (const GeomCase& c : cuda_geometries()) {
    const ConvGeom& g = c.g;
    const ConvData d = make_data(g, seed += 10);
    const WeightGrads ref = cpu_backward_weight(g, d);
    Vec ref_both = ref.dw;
    ref_both.insert(ref_both.end(), ref.db.begin(), ref.db.end());
    DeviceBuffer<float> x(kernel_memory(), d.x), dy(kernel_memory(), d.dy);
    for (int version = 1; version <= zs::cuda::kConvBackwardWeightKernelVersions; ++version) {
      const size_t workspace_floats = zs::cuda::conv2d_backward_weight_workspace(g, version);
      // max(floats, 1) as this test always allocated; the kernel is handed nullptr when it needs none.
      DeviceBuffer<float> workspace = nan_floats(std::max<size_t>(workspace_floats, 1));
      auto run = [&](bool with_db) {
        DeviceBuffer<float> dw = nan_floats(size_t(g.w_size())), db = nan_floats(size_t(g.k));
        zs::cuda::conv2d_backward_weight(g, dw.data(), with_db ? db.data() : nullptr, x.data(), dy.data(),
                                         workspace_floats ? workspace.data() : nullptr, nullptr, version);
        Vec out = dw.download();
        if (with_db) {
          const Vec dbh = db.download();
          out.insert(out.end(), dbh.begin(), dbh.end());
        }
        return out;
      };
      const std::string what = label("conv2d_backward_weight", version, c);
      check_twice(what, [&] { return run(true); }, ref_both, sum_tolerance(backward_weight_terms(g)));
      const Vec with_db = run(true), dw_only = run(false);
      INFO(what << ": dw changed when db was not requested");
      CHECK(std::memcmp(with_db.data(), dw_only.data(), dw_only.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("cuda bias_grad_nchw: every version matches the CPU twin", "[cuda][conv]") {
  SKIP_WITHOUT_GPU();
  struct Shape {
    int n, c, hw;
  };
  uint32_t seed = 800;
  for (const Shape& s : {Shape{3, 5, 63}, Shape{1, 1, 784}, Shape{2, 70, 10}, Shape{128, 1, 784}, Shape{128, 32, 196}}) {
    const Vec dy = random_vec(int64_t(s.n) * s.c * s.hw, seed += 10);
    Vec ref(size_t(s.c));
    zs::cpu::bias_grad_nchw(ref.data(), dy.data(), s.n, s.c, s.hw);
    DeviceBuffer<float> ddy(kernel_memory(), dy);
    for (int version = 1; version <= zs::cuda::kBiasGradKernelVersions; ++version) {
      check_twice(
          "bias_grad_nchw v" + std::to_string(version) + " n" + std::to_string(s.n) + " c" + std::to_string(s.c) +
              " hw" + std::to_string(s.hw),
          [&] {
            DeviceBuffer<float> db = nan_floats(size_t(s.c));
            zs::cuda::bias_grad_nchw(db.data(), ddy.data(), s.n, s.c, s.hw, nullptr, version);
            return db.download();
          },
          ref, sum_tolerance(int64_t(s.n) * s.hw));
    }
  }
}

#else  // no CUDA backend in this build

TEST_CASE("cuda conv kernels", "[cuda][conv]") {
  WARN("SKIPPED: this build has no CUDA backend (configure with -DZSPACE_CUDA=ON and a CUDA toolkit)");
}

#endif
