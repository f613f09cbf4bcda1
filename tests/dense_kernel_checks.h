// Checks of the GEMM, dense, loss and Adam kernels (kernels/gemm, dense, loss, adam), shared by
// tests/test_emu_dense.cpp, tests/test_emu_loss_adam.cpp (the emulator, zs::emu) and
// tests/test_cuda_dense.cpp (a real GPU, zs::cuda). The includer picks the build: it defines
// ZS_KNS (cuda) before including this, or leaves it to kernels/common.cuh (emu).
//
// Each check builds inputs, computes the oracle (the CPU twin zs::cpu, or a double-precision
// loop for the GEMM, which has no twin), and hands a Producer that runs the kernel and downloads
// its outputs to a Repeater supplied by the test file: the emulator's runs it in every thread
// order, the GPU's runs it twice. Every run must match the oracle within tolerance AND all runs
// must be bit-identical (the kernels are deterministic by design).
//
// Tolerances come from float32 rounding, never from observed errors. u = 2^-24. A sum of K terms
// evaluated in float32 in ANY order, with or without FMA, lies within about (K + 1) u * M of the
// exact sum, where M = sum of the terms' magnitudes (Higham's gamma_K bound). Each element is
// therefore checked as |got - ref| <= atol + rtol * max(|ref|, M), with M computed by the test
// next to the reference (it equals |ref| when the terms do not cancel), rtol = (K + c) u for
// the kernel against an exact reference, and twice that against the twin (both sides round).
// c counts the roundings outside the sum (epilogue, activation, the twin's few-ulp exp/log).
// atol = 1e-30 only absorbs denormal-level differences. A missing or extra term, a wrong index
// or a race shows up as an error of the size of a whole term: orders of magnitude above this.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/adam.cuh"
#include "kernels/common.cuh"
#include "kernels/cpu/ops.h"
#include "kernels/dense.cuh"
#include "kernels/gemm.cuh"
#include "kernels/loss.cuh"
#include "runtime/backend/kernel_memory.h"
#include "kernel_runs.h"

namespace zs::dense_checks {

namespace kns = ::zs::ZS_KNS;

inline constexpr double kUnitRoundoff = 0x1p-24;
inline constexpr double kDenormalAtol = 1e-30;

// ---- device memory of the build under test (emulated or real) ----

// DeviceBuffer<T>(kernel_memory(), count or host vector). Its download waits for the whole
// device first, so a check may launch on any stream and then read the results.
using kns::kernel_memory;
using ::zs::DeviceBuffer;

// ---- runs, oracles, comparison ----

using kernel_runs::Outputs;
using kernel_runs::Producer;
using kernel_runs::Repeater;
using kernel_runs::Run;

// The oracle for one output: reference values, term magnitudes M (empty: M = |ref|), rtol.
struct Expected {
  std::string name;
  std::vector<float> ref;
  std::vector<double> magnitude;
  double rtol = 0;
};

inline std::vector<float> random_floats(std::size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Counts elements outside |got - ref| <= atol + rtol * max(|ref|, M) (NaN/Inf must match exactly)
// and describes the worst one and the first few.
inline void require_close(const std::vector<float>& got, const Expected& e, const std::string& context) {
  REQUIRE(got.size() == e.ref.size());
  std::size_t bad = 0, worst = 0;
  double worst_excess = -1;
  std::string first;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], r = e.ref[i];
    double excess;
    if (std::isfinite(g) && std::isfinite(r)) {
      const double scale = e.magnitude.empty() ? std::fabs(r) : std::max(std::fabs(r), e.magnitude[i]);
      excess = std::fabs(g - r) - (kDenormalAtol + e.rtol * scale);
    } else {
      excess = (std::isnan(g) && std::isnan(r)) || g == r ? 0 : INFINITY;
    }
    if (excess <= 0) continue;
    if (bad < 4) {
      char line[128];
      std::snprintf(line, sizeof line, " [%zu] got %.9g want %.9g;", i, g, r);
      first += line;
    }
    ++bad;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  INFO(context << ", output " << e.name << ": " << bad << " of " << got.size() << " elements outside tolerance (rtol "
               << e.rtol << " of max(|ref|, term magnitudes)); worst index " << worst << " (got "
               << (got.empty() ? 0.f : got[worst]) << " want " << (got.empty() ? 0.f : e.ref[worst]) << ");"
               << first);
  CHECK(bad == 0);
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Every run matches the oracle, and every run has the first run's exact bits.
inline void check_runs(const Repeater& repeat, const Producer& produce, const std::vector<Expected>& expected,
                       const std::string& context) {
  const std::vector<Run> runs = repeat(produce);
  REQUIRE(!runs.empty());
  for (const Run& run : runs) {
    REQUIRE(run.outputs.size() == expected.size());
    for (std::size_t o = 0; o < expected.size(); ++o) {
      require_close(run.outputs[o], expected[o], context + ", " + run.label);
      INFO(context << ", output " << expected[o].name << ": " << run.label << " differs in its bits from "
                   << runs.front().label);
      CHECK(same_bits(run.outputs[o], runs.front().outputs[o]));
    }
  }
}

inline double sum_rtol(int terms, int other_roundings) {
  return double(terms + 1 + other_roundings) * kUnitRoundoff;
}

inline const char* act_name(Act act) {
  return act == Act::None ? "none" : act == Act::LeakyRelu ? "leaky_relu" : act == Act::Sigmoid ? "sigmoid" : "leaky+sigmoid";
}

inline double activate_exact(Act act, double x) {
  if (act == Act::LeakyRelu) return x > 0 ? x : double(kLeakyAlpha) * x;
  if (act == Act::Sigmoid) return 1.0 / (1.0 + std::exp(-x));
  if (act == Act::LeakyReluSigmoid) return activate_exact(Act::Sigmoid, activate_exact(Act::LeakyRelu, x));
  return x;
}

// Roundings outside the sum: epilogue (alpha, beta, bias: 3) + activation (sigmoid's exp, add,
// divide, multiply; the twin's exp is a few-ulp polynomial: budget 8).
inline constexpr int kEpilogueRoundings = 3 + 8;

// ---- GEMM: C = act(alpha op(A) op(B) + beta C + bias), oracle in double ----

struct GemmShape {
  int m, n, k;
};

// Shapes cover the three tile kinds (flat m <= 16, tall n <= 16, wide), edges that are not
// multiples of the tile, 4 or 16, and the split-K path (few tiles, k >= 256).
inline const std::vector<GemmShape>& gemm_shapes() {
  static const std::vector<GemmShape> shapes = {
      {1, 1, 1}, {3, 5, 7}, {13, 70, 33}, {70, 13, 40}, {67, 131, 19},
      {3, 5, 1000}, {70, 10, 777}, {20, 70, 300}, {16, 16, 260},
  };
  return shapes;
}

struct GemmVariant {
  float alpha, beta;
  bool bias;
  Act act;
};
inline const std::vector<GemmVariant>& gemm_variants() {
  static const std::vector<GemmVariant> variants = {
      {1.f, 0.f, false, Act::None}, {0.5f, 0.f, true, Act::LeakyRelu}, {-1.25f, 0.75f, true, Act::Sigmoid},
      {0.75f, 0.f, true, Act::LeakyReluSigmoid}};
  return variants;
}

inline void check_gemm(const Repeater& repeat, int version) {
  int case_index = 0;
  for (const GemmShape& s : gemm_shapes()) {
    for (int t = 0; t < 4; ++t, ++case_index) {
      const bool ta = t & 1, tb = t & 2;
      const GemmVariant var = gemm_variants()[std::size_t(case_index) % gemm_variants().size()];
      const uint32_t seed = 1000u + uint32_t(case_index);
      // Entries of size k^(-1/4) keep the sums O(1), where a sigmoid is not saturated (saturation
      // would hide errors of the sum from the comparison of its outputs).
      const float range = float(std::pow(double(s.k), -0.25));
      const std::vector<float> a = random_floats(std::size_t(s.m) * s.k, seed, -range, range);
      const std::vector<float> b = random_floats(std::size_t(s.k) * s.n, seed + 7777, -range, range);
      const std::vector<float> bias = random_floats(std::size_t(s.n), seed + 3333);
      // beta == 0: C starts as NaN, which must never be read.
      const std::vector<float> c0 =
          var.beta != 0.f ? random_floats(std::size_t(s.m) * s.n, seed + 5555) : std::vector<float>(std::size_t(s.m) * s.n, NAN);

      Expected e{"C", std::vector<float>(c0.size()), std::vector<double>(c0.size()),
                 sum_rtol(s.k, kEpilogueRoundings)};
      for (int i = 0; i < s.m; ++i)
        for (int j = 0; j < s.n; ++j) {
          double sum = 0, mag = 0;
          for (int kk = 0; kk < s.k; ++kk) {
            const double av = ta ? a[std::size_t(kk) * s.m + i] : a[std::size_t(i) * s.k + kk];
            const double bv = tb ? b[std::size_t(j) * s.k + kk] : b[std::size_t(kk) * s.n + j];
            sum += av * bv;
            mag += std::fabs(av * bv);
          }
          const std::size_t idx = std::size_t(i) * s.n + j;
          double v = double(var.alpha) * sum;
          mag *= std::fabs(double(var.alpha));
          if (var.beta != 0.f) {
            v += double(var.beta) * c0[idx];
            mag += std::fabs(double(var.beta) * c0[idx]);
          }
          if (var.bias) {
            v += bias[std::size_t(j)];
            mag += std::fabs(bias[std::size_t(j)]);
          }
          e.ref[idx] = float(activate_exact(var.act, v));
          e.magnitude[idx] = mag;
        }

      const std::string context = "gemm v" + std::to_string(version) + " m " + std::to_string(s.m) + " n " +
                                  std::to_string(s.n) + " k " + std::to_string(s.k) + (ta ? " A^T" : " A") +
                                  (tb ? " B^T" : " B") + " alpha " + std::to_string(var.alpha) + " beta " +
                                  std::to_string(var.beta) + (var.bias ? " +bias " : " ") + act_name(var.act);
      const Producer produce = [&]() -> Outputs {
        DeviceBuffer<float> da(kernel_memory(), a), db(kernel_memory(), b), dbias(kernel_memory(), bias),
            dc(kernel_memory(), c0);
        DeviceBuffer<float> workspace(kernel_memory(),
                                      std::max<std::size_t>(1, kns::gemm_workspace(s.m, s.n, s.k, version)));
        kns::GemmEpilogue ep;
        ep.alpha = var.alpha;
        ep.beta = var.beta;
        ep.bias = var.bias ? dbias.data() : nullptr;
        ep.act = var.act;
        kns::gemm(dc.data(), da.data(), db.data(), s.m, s.n, s.k, ta ? kns::Trans::Yes : kns::Trans::No,
                  tb ? kns::Trans::Yes : kns::Trans::No, ep, workspace.data(), nullptr, version);
        return {dc.download()};
      };
      check_runs(repeat, produce, {e}, context);
    }
  }
}

// ---- dense layer vs the CPU twin ----

struct DenseCase {
  int n, in, out;
  Act act;
  bool bias;
};

// n 1 and 3; sizes not multiples of 4 or of any tile; (1000 -> 5) forward and (5 -> 1000)
// backward-data take the split-K path, like the AE's 6272 -> 16 and 16 -> 6272. n 17 and 19:
// db's column sums spread rows over 8 groups, so every group gets 2 or 3 of them (a tree that
// dropped some groups would lose rows), and 37 columns take two column blocks of 32 (the case
// with n 19 is at an index that computes both dx and db: see check_dense_backward).
inline const std::vector<DenseCase>& dense_cases() {
  static const std::vector<DenseCase> cases = {
      {1, 5, 7, Act::None, true},       {3, 5, 7, Act::LeakyRelu, true}, {3, 70, 3, Act::Sigmoid, true},
      {1, 3, 70, Act::LeakyRelu, false}, {3, 17, 33, Act::None, false},  {3, 1000, 5, Act::None, true},
      {1, 5, 1000, Act::Sigmoid, true},  {3, 5, 1000, Act::LeakyRelu, true}, {17, 40, 9, Act::Sigmoid, false},
      {19, 6, 37, Act::LeakyRelu, true}, {3, 40, 9, Act::LeakyReluSigmoid, true},
  };
  return cases;
}

// The AE's two dense layers at batch 128 (too large for the emulator; the GPU test runs them).
inline const std::vector<DenseCase>& ae_dense_cases() {
  static const std::vector<DenseCase> cases = {{128, 6272, 16, Act::None, true}, {128, 16, 6272, Act::None, true}};
  return cases;
}

inline std::string dense_context(const char* op, int version, const DenseCase& c) {
  return std::string(op) + " v" + std::to_string(version) + " n " + std::to_string(c.n) + " in " +
         std::to_string(c.in) + " out " + std::to_string(c.out) + " " + act_name(c.act) + (c.bias ? " +bias" : "");
}

inline void check_dense_forward(const Repeater& repeat, int version,
                                const std::vector<DenseCase>& cases = dense_cases()) {
  uint32_t seed = 100;
  for (const DenseCase& c : cases) {
    const float range = float(std::pow(double(c.in), -0.25));   // O(1) sums, as in check_gemm
    const std::vector<float> x = random_floats(std::size_t(c.n) * c.in, ++seed, -range, range);
    const std::vector<float> w = random_floats(std::size_t(c.in) * c.out, ++seed, -range, range);
    const std::vector<float> b = random_floats(std::size_t(c.out), ++seed);
    Expected e{"y", std::vector<float>(std::size_t(c.n) * c.out), std::vector<double>(std::size_t(c.n) * c.out),
               2 * sum_rtol(c.in, kEpilogueRoundings)};
    cpu::dense_forward(e.ref.data(), x.data(), w.data(), c.bias ? b.data() : nullptr, c.n, c.in, c.out, c.act);
    for (int i = 0; i < c.n; ++i)
      for (int j = 0; j < c.out; ++j) {
        double mag = c.bias ? std::fabs(b[std::size_t(j)]) : 0;
        for (int k = 0; k < c.in; ++k)
          mag += std::fabs(double(x[std::size_t(i) * c.in + k]) * w[std::size_t(k) * c.out + j]);
        e.magnitude[std::size_t(i) * c.out + j] = mag;
      }
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> dx(kernel_memory(), x), dw(kernel_memory(), w), db(kernel_memory(), b),
          dy(kernel_memory(), std::vector<float>(e.ref.size(), NAN));
      DeviceBuffer<float> workspace(kernel_memory(),
                                    std::max<std::size_t>(1, kns::dense_workspace(c.n, c.in, c.out, version)));
      kns::dense_forward(dy.data(), dx.data(), dw.data(), c.bias ? db.data() : nullptr, c.n, c.in, c.out, c.act,
                         workspace.data(), nullptr, version);
      return {dy.download()};
    };
    check_runs(repeat, produce, {e}, dense_context("dense_forward", version, c));
  }
}

inline void check_dense_backward(const Repeater& repeat, int version,
                                 const std::vector<DenseCase>& cases = dense_cases()) {
  uint32_t seed = 200;
  int case_index = 0;
  for (const DenseCase& c : cases) {
    // Every other case skips dx or db (nullable), which must leave the other outputs intact.
    const bool want_dx = case_index % 3 != 1, want_db = case_index % 3 != 2;
    ++case_index;
    const std::vector<float> x = random_floats(std::size_t(c.n) * c.in, ++seed);
    const std::vector<float> w = random_floats(std::size_t(c.in) * c.out, ++seed);
    const std::vector<float> dy = random_floats(std::size_t(c.n) * c.out, ++seed);
    std::vector<Expected> expected;
    Expected e_dw{"dw", std::vector<float>(std::size_t(c.in) * c.out), std::vector<double>(std::size_t(c.in) * c.out),
                  2 * sum_rtol(c.n, 0)};
    Expected e_db{"db", std::vector<float>(std::size_t(c.out)), std::vector<double>(std::size_t(c.out)),
                  2 * sum_rtol(c.n, 0)};
    Expected e_dx{"dx", std::vector<float>(std::size_t(c.n) * c.in), std::vector<double>(std::size_t(c.n) * c.in),
                  2 * sum_rtol(c.out, 0)};
    cpu::dense_backward(e_dx.ref.data(), e_dw.ref.data(), e_db.ref.data(), dy.data(), x.data(), w.data(), c.n, c.in,
                        c.out);
    for (int k = 0; k < c.in; ++k)
      for (int j = 0; j < c.out; ++j)
        for (int i = 0; i < c.n; ++i)
          e_dw.magnitude[std::size_t(k) * c.out + j] +=
              std::fabs(double(x[std::size_t(i) * c.in + k]) * dy[std::size_t(i) * c.out + j]);
    for (int j = 0; j < c.out; ++j)
      for (int i = 0; i < c.n; ++i) e_db.magnitude[std::size_t(j)] += std::fabs(dy[std::size_t(i) * c.out + j]);
    for (int i = 0; i < c.n; ++i)
      for (int k = 0; k < c.in; ++k)
        for (int j = 0; j < c.out; ++j)
          e_dx.magnitude[std::size_t(i) * c.in + k] +=
              std::fabs(double(dy[std::size_t(i) * c.out + j]) * w[std::size_t(k) * c.out + j]);
    expected.push_back(e_dw);
    if (want_db) expected.push_back(e_db);
    if (want_dx) expected.push_back(e_dx);

    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> d_x(kernel_memory(), x), d_w(kernel_memory(), w), d_dy(kernel_memory(), dy);
      DeviceBuffer<float> d_dw(kernel_memory(), std::vector<float>(e_dw.ref.size(), NAN)),
          d_db(kernel_memory(), std::vector<float>(e_db.ref.size(), NAN)),
          d_dx(kernel_memory(), std::vector<float>(e_dx.ref.size(), NAN));
      DeviceBuffer<float> workspace(kernel_memory(),
                                    std::max<std::size_t>(1, kns::dense_workspace(c.n, c.in, c.out, version)));
      kns::dense_backward(want_dx ? d_dx.data() : nullptr, d_dw.data(), want_db ? d_db.data() : nullptr, d_dy.data(),
                          d_x.data(), want_dx ? d_w.data() : nullptr, c.n, c.in, c.out, workspace.data(), nullptr,
                          version);
      Outputs out{d_dw.download()};
      if (want_db) out.push_back(d_db.download());
      if (want_dx) out.push_back(d_dx.download());
      return out;
    };
    check_runs(repeat, produce, expected,
               dense_context("dense_backward", version, c) + (want_dx ? "" : " (no dx)") + (want_db ? "" : " (no db)"));
  }
}

// ---- losses vs the CPU twin ----

// Predictions in (0, 1) plus the clamp's edge cases: 0, 1, below 1e-7, exactly 1e-7, above
// 1 - 1e-7 (where the gradient must be 0); targets in [0, 1] with exact 0s and 1s.
inline void make_loss_inputs(int n, int dim, uint32_t seed, std::vector<float>& pred, std::vector<float>& target) {
  pred = random_floats(std::size_t(n) * dim, seed, 0.f, 1.f);
  target = random_floats(std::size_t(n) * dim, seed + 1, 0.f, 1.f);
  const float specials[] = {0.f, 1.f, 1e-8f, 1e-7f, 1.f - 1e-8f, 0.9999999f, 0.5f};
  for (std::size_t i = 0; i < pred.size(); i += 5) pred[i] = specials[(i / 5) % 7];
  for (std::size_t i = 2; i < target.size(); i += 7) target[i] = float((i / 7) % 2);
}

// The twin's BCE terms use its few-ulp log (budget 4 ulp = 8u) and two float roundings; the
// kernel's use logf (1 ulp = 2u) and two roundings: 14u, plus the final float rounding of each
// side. The terms are non-negative, so their magnitudes sum to |loss|: rtol 16u on |ref|. The
// gradient is the same float formula on both sides (5 roundings each): 10u. The MSE loss is
// exact in double on both sides but for its final rounding to float: they differ by at most
// 1 ulp <= 2u |ref|; 4u.
inline constexpr double kBceLossRtol = 16 * kUnitRoundoff;
inline constexpr double kLossGradRtol = 10 * kUnitRoundoff;
inline constexpr double kMseLossRtol = 4 * kUnitRoundoff;

struct LossShape {
  int n, dim;
};
// dim below and above a block of 256 (4 passes with a tail at 785); n 130: version 1's second
// block of 128 samples.
inline const std::vector<LossShape>& loss_shapes() {
  static const std::vector<LossShape> shapes = {{1, 1}, {3, 7}, {1, 300}, {3, 785}, {130, 3}};
  return shapes;
}
inline const std::vector<LossShape>& ae_loss_shapes() {   // batch 128 of 28 x 28 images
  static const std::vector<LossShape> shapes = {{128, 784}};
  return shapes;
}

inline void check_losses(const Repeater& repeat, int version, const std::vector<LossShape>& shapes = loss_shapes()) {
  uint32_t seed = 300;
  for (const bool bce : {true, false}) {
    for (const LossShape& s : shapes) {
      for (const bool with_grad : {true, false}) {
        std::vector<float> pred, target;
        make_loss_inputs(s.n, s.dim, seed += 2, pred, target);
        Expected e_loss{"loss", std::vector<float>(std::size_t(s.n)), {}, bce ? kBceLossRtol : kMseLossRtol};
        Expected e_grad{"dpred", std::vector<float>(pred.size()), {}, kLossGradRtol};
        (bce ? cpu::bce_loss : cpu::mse_loss)(e_loss.ref.data(), e_grad.ref.data(), pred.data(), target.data(), s.n,
                                              s.dim);
        std::vector<Expected> expected{e_loss};
        if (with_grad) expected.push_back(e_grad);
        const Producer produce = [&]() -> Outputs {
          DeviceBuffer<float> d_pred(kernel_memory(), pred), d_target(kernel_memory(), target),
              d_loss(kernel_memory(), std::vector<float>(std::size_t(s.n), NAN)),
              d_grad(kernel_memory(), std::vector<float>(pred.size(), NAN));
          (bce ? kns::bce_loss : kns::mse_loss)(d_loss.data(), with_grad ? d_grad.data() : nullptr, d_pred.data(),
                                                d_target.data(), s.n, s.dim, nullptr, version);
          Outputs out{d_loss.download()};
          if (with_grad) out.push_back(d_grad.download());
          return out;
        };
        check_runs(repeat, produce, expected,
                   std::string(bce ? "bce_loss" : "mse_loss") + " v" + std::to_string(version) + " n " +
                       std::to_string(s.n) + " dim " + std::to_string(s.dim) + (with_grad ? "" : " (loss only)"));
      }
    }
  }
}

// ---- Adam vs the CPU twin ----

// m and v: 3 roundings each (2 products, 1 add; FMA or not) on each side, relative to the
// magnitudes of their two terms. p: the update lr_t m / (sqrt(v) + eps) has ~5 roundings plus
// m's and v's, relative to |p| + lr_t M_m / (sqrt(v) + eps). Twice, for two float evaluations.
inline constexpr double kAdamRtol = 2 * 8 * kUnitRoundoff;

// Runs `step_kernel` (one of the two ways to pass the step) on fresh copies of the state and
// checks p, m, v against the twin after one update at `step`.
using AdamLauncher =
    std::function<void(float* p, float* m, float* v, const float* g, int64_t count, const AdamHyper& h, int64_t step)>;

inline const std::vector<int64_t>& adam_counts() {
  static const std::vector<int64_t> counts = {1, 3, 1001, 4099};
  return counts;
}
inline const std::vector<int64_t>& ae_adam_counts() {   // about the AE's parameter count
  static const std::vector<int64_t> counts = {420001};
  return counts;
}

// Offsets in floats of param, m, v and grad: all aligned, each array alone one float off 16-byte
// alignment (version 2 must then take its scalar path: a float4 access to it would fault on a
// GPU, and fails the kernel in the emulator), and all four off.
inline const std::vector<std::array<int, 4>>& adam_offsets() {
  static const std::vector<std::array<int, 4>> offsets = {
      {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}, {1, 1, 1, 1}};
  return offsets;
}

inline void check_adam_with(const Repeater& repeat, const AdamLauncher& step_kernel, const std::string& what,
                            const std::vector<int64_t>& counts, const std::vector<int64_t>& steps = {1, 2, 1000},
                            const std::vector<std::array<int, 4>>& offsets = adam_offsets()) {
  AdamHyper h;   // Keras defaults
  uint32_t seed = 400;
  for (const int64_t count : counts) {
    for (const int64_t step : steps) {
      for (const std::array<int, 4>& offset : offsets) {
        const std::vector<float> p0 = random_floats(std::size_t(count), ++seed);
        const std::vector<float> g = random_floats(std::size_t(count), ++seed);
        const std::vector<float> m0 = random_floats(std::size_t(count), ++seed, -0.1f, 0.1f);
        const std::vector<float> v0 = random_floats(std::size_t(count), ++seed, 0.f, 0.01f);
        Expected e_p{"param", p0, std::vector<double>(std::size_t(count)), kAdamRtol};
        Expected e_m{"m", m0, std::vector<double>(std::size_t(count)), kAdamRtol};
        Expected e_v{"v", v0, std::vector<double>(std::size_t(count)), kAdamRtol};
        cpu::adam_step(e_p.ref.data(), e_m.ref.data(), e_v.ref.data(), g.data(), count, h, step);
        const double lr_t = h.lr * std::sqrt(1 - std::pow(double(h.beta2), double(step))) /
                            (1 - std::pow(double(h.beta1), double(step)));
        for (std::size_t i = 0; i < std::size_t(count); ++i) {
          e_m.magnitude[i] = std::fabs(double(h.beta1) * m0[i]) + std::fabs((1.0 - h.beta1) * g[i]);
          e_v.magnitude[i] = e_v.ref[i];
          e_p.magnitude[i] = std::fabs(p0[i]) + lr_t * e_m.magnitude[i] / (std::sqrt(double(e_v.ref[i])) + h.eps);
        }
        const auto pad = [&](const std::vector<float>& v, int by) {
          std::vector<float> padded(v.size() + std::size_t(by), 0.f);
          std::copy(v.begin(), v.end(), padded.begin() + by);
          return padded;
        };
        const Producer produce = [&]() -> Outputs {
          DeviceBuffer<float> dp(kernel_memory(), pad(p0, offset[0])), dm(kernel_memory(), pad(m0, offset[1])),
              dv(kernel_memory(), pad(v0, offset[2])), dg(kernel_memory(), pad(g, offset[3]));
          step_kernel(dp.data() + offset[0], dm.data() + offset[1], dv.data() + offset[2], dg.data() + offset[3], count,
                      h, step);
          Outputs out{dp.download(), dm.download(), dv.download()};
          for (std::size_t o = 0; o < out.size(); ++o) out[o].erase(out[o].begin(), out[o].begin() + offset[o]);
          return out;
        };
        check_runs(repeat, produce, {e_p, e_m, e_v},
                   what + " count " + std::to_string(count) + " step " + std::to_string(step) + " offsets (param " +
                       std::to_string(offset[0]) + ", m " + std::to_string(offset[1]) + ", v " +
                       std::to_string(offset[2]) + ", grad " + std::to_string(offset[3]) + ")");
      }
    }
  }
}

inline void check_adam(const Repeater& repeat, int version, const std::vector<int64_t>& counts = adam_counts()) {
  check_adam_with(
      repeat,
      [version](float* p, float* m, float* v, const float* g, int64_t count, const AdamHyper& h, int64_t step) {
        kns::adam_step(p, m, v, g, count, h, step, nullptr, version);
      },
      "adam_step v" + std::to_string(version), counts);
}

// Version 2 caps its grid at 512 blocks of 256 threads: 2^20 + 3 elements make each thread take
// two float4 passes and one thread in four a scalar tail element; with grad misaligned, eight
// scalar passes.
inline void check_adam_grid_stride(const Repeater& repeat, int version) {
  check_adam_with(
      repeat,
      [version](float* p, float* m, float* v, const float* g, int64_t count, const AdamHyper& h, int64_t step) {
        kns::adam_step(p, m, v, g, count, h, step, nullptr, version);
      },
      "adam_step v" + std::to_string(version), {(int64_t(1) << 20) + 3}, {3}, {{0, 0, 0, 0}, {0, 0, 0, 1}});
}

// The step lives in device memory: written there, then read by the kernel. Also covers
// adam_advance_step: the device counter starts at step - 1 and is advanced once.
inline void check_adam_device_step(const Repeater& repeat, int version,
                                   const std::vector<int64_t>& counts = adam_counts()) {
  check_adam_with(
      repeat,
      [version](float* p, float* m, float* v, const float* g, int64_t count, const AdamHyper& h, int64_t step) {
        DeviceBuffer<int64_t> d_step(kernel_memory(), std::vector<int64_t>{step - 1});
        kns::adam_advance_step(d_step.data(), nullptr);
        kns::adam_step_device(p, m, v, g, count, h, d_step.data(), nullptr, version);
        const std::vector<int64_t> after = d_step.download();
        REQUIRE(after[0] == step);   // the kernel reads the step, never changes it
      },
      "adam_step_device v" + std::to_string(version), counts);
}

}  // namespace zs::dense_checks
