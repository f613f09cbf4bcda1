// The convolution kernels (kernels/conv2d.cu) in the CPU emulator of CUDA: every version of every
// kernel against the CPU twin (kernels/cpu/ops.h) on odd geometries (tests/conv_test_support.h),
// each run in three thread orders (forward, reverse, seeded random) with strict mode on. Results
// must be within the float32 tolerance of the twin AND bit-identical across the orders (a
// missing barrier or a read of another thread's unfinished shared memory changes them).
// Outputs and workspaces start as NaN, so anything a kernel forgets to write fails.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "conv_test_support.h"
#include "kernels/common.cuh"
#include "kernels/conv2d.cuh"
#include "simt_test_support.h"

using namespace zs::conv_test;
using zs::Act;
using zs::ConvGeom;
using zs::DeviceBuffer;
using zs::emu::kernel_memory;
using zs::simt::Order;
using zs::simt::ScopedSettings;
using zs::simt::Settings;

namespace {

std::vector<Settings> three_orders() {
  std::vector<Settings> orders;
  for (Order order : {Order::Forward, Order::Reverse, Order::Random}) {
    Settings s;
    s.order = order;
    s.seed = 7;
    s.strict = true;
    s.threads = 1;
    orders.push_back(s);
  }
  return orders;
}

void fill_nan(DeviceBuffer<float>& a) { a.upload(Vec(a.size(), std::nanf(""))); }

// Runs `launch` once per thread order; checks the first result against ref and the others
// against the first, bit for bit. `launch` returns what the kernel wrote.
void check_in_every_order(const std::string& what, const std::function<Vec()>& launch, const Vec& ref,
                          Tolerance tol) {
  Vec first;
  for (const Settings& s : three_orders()) {
    ScopedSettings scoped(s);
    const Vec got = launch();
    if (first.empty()) {
      first = got;
      check_close(what, got, ref, tol);
    } else {
      INFO(what << ": order " << zs::simt::to_string(s.order, s.seed) << " changed the result");
      REQUIRE(got.size() == first.size());
      CHECK(std::memcmp(got.data(), first.data(), got.size() * sizeof(float)) == 0);
    }
  }
}

std::string label(const char* op, int version, const GeomCase& c, const Epilogue* e = nullptr) {
  std::string s = std::string(op) + " v" + std::to_string(version) + " " + describe(c.g) + " [" + c.reaches + "]";
  if (e) s += std::string(" act ") + act_name(e->act) + (e->bias ? " bias" : " no bias");
  return s;
}

}  // namespace

TEST_CASE("emu conv2d_forward: every version matches the CPU twin in every thread order", "[emu][conv]") {
  uint32_t seed = 100;
  for (const GeomCase& c : test_geometries()) {
    const ConvGeom& g = c.g;
    const ConvData d = make_data(g, seed += 10);
    DeviceBuffer<float> x(kernel_memory(), d.x), w(kernel_memory(), d.w), b(kernel_memory(), d.b);
    for (const Epilogue& e : epilogues(c.small)) {
      const Vec ref = cpu_forward(g, d, e.bias, e.act);
      for (int version = 1; version <= zs::emu::kConvForwardKernelVersions; ++version) {
        check_in_every_order(
            label("conv2d_forward", version, c, &e),
            [&] {
              DeviceBuffer<float> y(kernel_memory(), size_t(g.y_size()));
              fill_nan(y);
              zs::emu::conv2d_forward(g, y.data(), x.data(), w.data(), e.bias ? b.data() : nullptr, e.act, nullptr,
                                      version);
              return y.download();
            },
            ref, sum_tolerance(forward_terms(g)));
      }
    }
  }
}

TEST_CASE("emu conv2d_backward_data: every version matches the CPU twin in every thread order", "[emu][conv]") {
  uint32_t seed = 200;
  for (const GeomCase& c : test_geometries()) {
    const ConvGeom& g = c.g;
    const ConvData d = make_data(g, seed += 10);
    DeviceBuffer<float> dy(kernel_memory(), d.dy), w(kernel_memory(), d.w), bias(kernel_memory(), d.bias_c);
    for (const Epilogue& e : epilogues(c.small)) {
      const Vec ref = cpu_backward_data(g, d, e.bias, e.act);
      for (int version = 1; version <= zs::emu::kConvBackwardDataKernelVersions; ++version) {
        check_in_every_order(
            label("conv2d_backward_data", version, c, &e),
            [&] {
              DeviceBuffer<float> dx(kernel_memory(), size_t(g.x_size()));
              fill_nan(dx);
              zs::emu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), e.bias ? bias.data() : nullptr, e.act,
                                            nullptr, version);
              return dx.download();
            },
            ref, sum_tolerance(backward_data_terms(g)));
      }
    }
  }
}

TEST_CASE("emu conv2d_backward_weight: every version matches the CPU twin in every thread order", "[emu][conv]") {
  uint32_t seed = 300;
  for (const GeomCase& c : test_geometries()) {
    const ConvGeom& g = c.g;
    const ConvData d = make_data(g, seed += 10);
    const WeightGrads ref = cpu_backward_weight(g, d);
    DeviceBuffer<float> x(kernel_memory(), d.x), dy(kernel_memory(), d.dy);
    for (int version = 1; version <= zs::emu::kConvBackwardWeightKernelVersions; ++version) {
      const size_t workspace_floats = zs::emu::conv2d_backward_weight_workspace(g, version);
      // dw and db in one vector, so one comparison covers both and the orders compare both.
      auto run = [&](bool with_db) {
        DeviceBuffer<float> dw(kernel_memory(), size_t(g.w_size())), db(kernel_memory(), size_t(g.k)),
            workspace(kernel_memory(), workspace_floats > 0 ? workspace_floats : 1);
        fill_nan(dw);
        fill_nan(db);
        fill_nan(workspace);
        zs::emu::conv2d_backward_weight(g, dw.data(), with_db ? db.data() : nullptr, x.data(), dy.data(),
                                        workspace_floats > 0 ? workspace.data() : nullptr, nullptr, version);
        Vec out = dw.download();
        if (with_db) {
          const Vec dbh = db.download();
          out.insert(out.end(), dbh.begin(), dbh.end());
        }
        return out;
      };
      Vec ref_both = ref.dw;
      ref_both.insert(ref_both.end(), ref.db.begin(), ref.db.end());
      const std::string what = label("conv2d_backward_weight", version, c) + " (" +
                               std::to_string(workspace_floats) + " workspace floats)";
      check_in_every_order(what, [&] { return run(true); }, ref_both, sum_tolerance(backward_weight_terms(g)));
      // Without db, dw must come out bit-identical.
      const Vec with_db = run(true), dw_only = run(false);
      INFO(what << ": dw changed when db was not requested");
      CHECK(std::memcmp(with_db.data(), dw_only.data(), dw_only.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("emu bias_grad_nchw: every version matches the CPU twin in every thread order", "[emu][conv]") {
  struct Shape {
    int n, c, hw;
  };
  uint32_t seed = 400;
  // Version 2 has 512 threads per channel: {3, 2, 784} makes 588 float4 reads (two passes, the
  // second partial), {3, 2, 199} 597 scalar reads.
  for (const Shape& s : {Shape{3, 5, 63}, Shape{1, 1, 784}, Shape{2, 70, 10}, Shape{4, 3, 1}, Shape{1, 2, 300},
                         Shape{3, 2, 784}, Shape{3, 2, 199}}) {
    const Vec dy = random_vec(int64_t(s.n) * s.c * s.hw, seed += 10);
    Vec ref(size_t(s.c));
    zs::cpu::bias_grad_nchw(ref.data(), dy.data(), s.n, s.c, s.hw);
    DeviceBuffer<float> ddy(kernel_memory(), dy);
    for (int version = 1; version <= zs::emu::kBiasGradKernelVersions; ++version) {
      check_in_every_order(
          "bias_grad_nchw v" + std::to_string(version) + " n" + std::to_string(s.n) + " c" + std::to_string(s.c) +
              " hw" + std::to_string(s.hw),
          [&] {
            DeviceBuffer<float> db(kernel_memory(), size_t(s.c));
            fill_nan(db);
            zs::emu::bias_grad_nchw(db.data(), ddy.data(), s.n, s.c, s.hw, nullptr, version);
            return db.download();
          },
          ref, sum_tolerance(int64_t(s.n) * s.hw));
    }
  }
}

namespace {

// `host` uploaded `offset` floats into a fresh allocation (offset 1: 4 bytes past a 16-byte boundary).
struct Placed {
  Placed(const Vec& host, int offset) : offset(offset), array(kernel_memory(), host.size() + size_t(offset)) {
    Vec padded(size_t(offset), 0.f);
    padded.insert(padded.end(), host.begin(), host.end());
    array.upload(padded);
  }
  float* data() const { return array.data() + offset; }
  Vec download() const {
    const Vec all = array.download();
    return Vec(all.begin() + offset, all.end());
  }
  int offset;
  DeviceBuffer<float> array;
};

}  // namespace

// The vector paths (direct 3x3 forward and backward-data: float4 input rows and output pixels;
// bias_grad version 2: float4 reads of dy) must fall back to scalar accesses when any one pointer
// is misaligned: a float4 access there faults on a GPU and fails the kernel in the emulator.
TEST_CASE("emu conv: each pointer misaligned alone takes the scalar path and gives the twin's result",
          "[emu][conv]") {
  // 3x3 stride 1, 2 channels, rows of 8 floats: both direct kernels and all their float4 paths.
  const ConvGeom g = ConvGeom::same(2, 2, 6, 8, 5, 3, 1);
  const ConvData d = make_data(g, 500);
  const Vec nan_y(size_t(g.y_size()), std::nanf("")), nan_x(size_t(g.x_size()), std::nanf(""));
  const Vec ref_y = cpu_forward(g, d, true, Act::LeakyRelu), ref_dx = cpu_backward_data(g, d, true, Act::Sigmoid);
  Vec ref_db(size_t(g.k));
  zs::cpu::bias_grad_nchw(ref_db.data(), d.dy.data(), g.n, g.k, g.p * g.q);
  const char* names[] = {"output", "input", "w", "bias"};
  for (int misaligned = -1; misaligned < 4; ++misaligned) {   // -1: all aligned
    auto offset = [&](int argument) { return argument == misaligned ? 1 : 0; };
    const std::string which = misaligned < 0 ? "none" : names[misaligned];
    for (int version = 1; version <= zs::emu::kConvForwardKernelVersions; ++version)
      check_in_every_order(
          "conv2d_forward v" + std::to_string(version) + ", misaligned: " + which,
          [&] {
            Placed y(nan_y, offset(0)), x(d.x, offset(1)), w(d.w, offset(2)), b(d.b, offset(3));
            zs::emu::conv2d_forward(g, y.data(), x.data(), w.data(), b.data(), Act::LeakyRelu, nullptr, version);
            return y.download();
          },
          ref_y, sum_tolerance(forward_terms(g)));
    for (int version = 1; version <= zs::emu::kConvBackwardDataKernelVersions; ++version)
      check_in_every_order(
          "conv2d_backward_data v" + std::to_string(version) + ", misaligned: " + which,
          [&] {
            Placed dx(nan_x, offset(0)), dy(d.dy, offset(1)), w(d.w, offset(2)), bias(d.bias_c, offset(3));
            zs::emu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), bias.data(), Act::Sigmoid, nullptr,
                                          version);
            return dx.download();
          },
          ref_dx, sum_tolerance(backward_data_terms(g)));
    if (misaligned >= 2) continue;   // bias_grad has db and dy only
    for (int version = 1; version <= zs::emu::kBiasGradKernelVersions; ++version)
      check_in_every_order(
          "bias_grad_nchw v" + std::to_string(version) + ", misaligned: " + which,
          [&] {
            Placed db(Vec(size_t(g.k), std::nanf("")), offset(0)), dy(d.dy, offset(1));
            zs::emu::bias_grad_nchw(db.data(), dy.data(), g.n, g.k, g.p * g.q, nullptr, version);
            return db.download();
          },
          ref_db, sum_tolerance(backward_weight_terms(g)));
  }
}

TEST_CASE("emu conv entries reject bad arguments with a clear message", "[emu][conv]") {
  const ConvGeom g = ConvGeom::same(2, 3, 8, 8, 4, 3, 2);
  DeviceBuffer<float> x(kernel_memory(), size_t(g.x_size())), w(kernel_memory(), size_t(g.w_size())),
      y(kernel_memory(), size_t(g.y_size()));
  CHECK_THROWS_AS(zs::emu::conv2d_forward(g, y.data(), x.data(), w.data(), nullptr, Act::None, nullptr, 0),
                  std::invalid_argument);
  CHECK_THROWS_AS(zs::emu::conv2d_forward(g, y.data(), x.data(), w.data(), nullptr, Act::None, nullptr,
                                          zs::emu::kConvForwardKernelVersions + 1),
                  std::invalid_argument);
  CHECK_THROWS_AS(zs::emu::conv2d_forward(g, nullptr, x.data(), w.data(), nullptr, Act::None, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(zs::emu::conv2d_backward_data(g, x.data(), y.data(), w.data(), nullptr, Act(7), nullptr),
                  std::invalid_argument);
  ConvGeom bad = g;
  bad.p = 0;
  CHECK_THROWS_AS(zs::emu::conv2d_forward(bad, y.data(), x.data(), w.data(), nullptr, Act::None, nullptr),
                  std::invalid_argument);
  // Version 2 of backward-weight splits this geometry's pixels and needs scratch; version 1 does not.
  const ConvGeom big = ConvGeom::same(4, 2, 28, 28, 8, 3, 1);
  CHECK(zs::emu::conv2d_backward_weight_workspace(big, 1) == 0);
  REQUIRE(zs::emu::conv2d_backward_weight_workspace(big, 2) > 0);
  DeviceBuffer<float> bx(kernel_memory(), size_t(big.x_size())), bdy(kernel_memory(), size_t(big.y_size())),
      bdw(kernel_memory(), size_t(big.w_size()));
  try {
    zs::emu::conv2d_backward_weight(big, bdw.data(), nullptr, bx.data(), bdy.data(), nullptr, nullptr, 2);
    FAIL("a null workspace was accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("workspace") != std::string::npos);
  }
  CHECK_THROWS_AS(zs::emu::bias_grad_nchw(y.data(), x.data(), 0, 3, 4, nullptr), std::invalid_argument);
}
