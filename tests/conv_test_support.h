// Shared by the device convolution tests (tests/test_emu_conv.cpp, tests/test_cuda_conv.cpp):
// the geometries, seeded inputs, the CPU-twin oracle (kernels/cpu/ops.h) and a float32 tolerance.
// No CUDA here: each test file brings its own device memory.
//
// Tolerance: a float sum of L products of magnitude ~kTermRms carries a rounding error that grows
// like eps * L * kTermRms in the worst case; the device and the CPU twin sum in different orders,
// so they may differ by about twice that. |got - ref| <= atol + rtol * |ref| with
//   atol = kSlack * eps * L * kTermRms,  rtol = kSlack * eps * sqrt(L),
// and a NaN/Inf on either side where the other is finite always fails.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/shapes.h"

namespace zs::conv_test {

using Vec = std::vector<float>;

inline constexpr double kFloatEps = std::numeric_limits<float>::epsilon();
inline constexpr double kTermRms = 1.0 / 3.0;   // rms of a product of two U(-1, 1) values
inline constexpr double kSlack = 4.0;

// 'valid' padding: no padding, out = (in - k) / stride + 1.
inline ConvGeom valid_geom(int n, int c, int h, int w, int k, int ksize, int stride) {
  ConvGeom g;
  g.n = n; g.c = c; g.h = h; g.w = w; g.k = k; g.r = ksize; g.s = ksize; g.stride = stride;
  g.p = (h - ksize) / stride + 1;
  g.q = (w - ksize) / stride + 1;
  return g;
}

// One test geometry and the kernel paths it is there to reach (emulator: 8 SMs, so a 64-row
// GEMM takes 64x64 tiles from 16 blocks up, 64x32 below).
struct GeomCase {
  ConvGeom g;
  const char* reaches;
  bool small;   // cheap enough in the emulator to run every activation x bias combination
};

inline std::vector<GeomCase> test_geometries() {
  return {
      {ConvGeom::same(1, 3, 9, 7, 5, 3, 1), "direct fwd (8 filters/thread, partial group) and bwd (4 ch)", true},
      {ConvGeom::same(3, 3, 9, 7, 5, 3, 2), "GEMM 32x128, stride 2 with 1 bottom/right pad, 4 classes", true},
      {ConvGeom::same(3, 1, 9, 7, 35, 3, 1),
       "single channel: direct fwd (5 filter groups) and bwd (1 ch/thread); wgrad small tile, 2 filter tiles", true},
      {ConvGeom::same(1, 6, 10, 7, 2, 3, 1), "C > 4: GEMM bwd with 2 reduction channels", true},
      {ConvGeom::same(3, 13, 13, 11, 70, 3, 2),
       "70 filters: GEMM 64x32 (few blocks), row tail; 13 channels: 2 chunks of 8, the last partial", true},
      {ConvGeom::same(2, 3, 11, 9, 4, 5, 3), "5x5 kernel, stride 3: 9 classes of 1-2 tap rows", true},
      {ConvGeom::same(2, 2, 9, 10, 3, 3, 4), "stride 4 > kernel: classes with no taps (bias only)", true},
      {ConvGeom::same(3, 2, 6, 5, 3, 1, 1), "1x1 kernel", true},
      {valid_geom(3, 3, 8, 6, 4, 3, 1), "'valid': direct bwd with pads of 2", true},
      {valid_geom(1, 2, 9, 8, 3, 3, 2), "'valid' stride 2: classes with odd offsets", true},
      {ConvGeom::same(1, 2, 3, 300, 20, 3, 1), "wide rows: direct bwd stages 20 channels in 3 chunks", true},
      {ConvGeom::same(3, 5, 26, 26, 72, 3, 2), "GEMM 64x64 fwd (16 blocks)", false},
      {ConvGeom::same(3, 40, 26, 22, 7, 3, 2), "GEMM 64x64 bwd (28 blocks), 5 channel chunks fwd", false},
      {ConvGeom::same(1, 1, 28, 28, 32, 3, 1), "the blog's conv 1 (and last transposed conv)", false},
      {ConvGeom::same(1, 32, 28, 28, 64, 3, 2), "the blog's conv 2 (and second transposed conv)", false},
      {ConvGeom::same(1, 64, 14, 14, 128, 3, 2), "the blog's conv 3 (and first transposed conv)", false},
  };
}

// The blog's three geometries at the given batch; the decoder's transposed convs are the
// backward-data of these same geometries.
inline std::vector<ConvGeom> blog_geometries(int batch) {
  return {ConvGeom::same(batch, 1, 28, 28, 32, 3, 1), ConvGeom::same(batch, 32, 28, 28, 64, 3, 2),
          ConvGeom::same(batch, 64, 14, 14, 128, 3, 2)};
}

inline std::string describe(const ConvGeom& g) {
  std::ostringstream s;
  s << "n" << g.n << " c" << g.c << " " << g.h << "x" << g.w << " k" << g.k << " " << g.r << "x" << g.s << " stride "
    << g.stride << " pad " << g.pad_top << "," << g.pad_left << " -> " << g.p << "x" << g.q;
  return s.str();
}

inline const char* act_name(Act act) {
  switch (act) {
    case Act::LeakyRelu: return "leaky";
    case Act::Sigmoid: return "sigmoid";
    case Act::LeakyReluSigmoid: return "leaky+sigmoid";
    case Act::None: break;
  }
  return "none";
}

inline Vec random_vec(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  Vec v(static_cast<size_t>(count));
  for (float& x : v) x = dist(rng);
  return v;
}

// Products summed into one output of each op (an upper bound where padding drops some).
inline int64_t forward_terms(const ConvGeom& g) { return int64_t(g.c) * g.r * g.s; }
inline int64_t backward_data_terms(const ConvGeom& g) {
  return int64_t(g.k) * ((g.r + g.stride - 1) / g.stride) * ((g.s + g.stride - 1) / g.stride);
}
inline int64_t backward_weight_terms(const ConvGeom& g) { return int64_t(g.n) * g.p * g.q; }

struct Tolerance {
  double atol, rtol;
};
inline Tolerance sum_tolerance(int64_t terms) {
  const double l = double(terms < 1 ? 1 : terms);
  return {kSlack * kFloatEps * l * kTermRms, kSlack * kFloatEps * std::sqrt(l)};
}

// Checks got against ref; on failure names the worst element and the first mismatches.
inline void check_close(const std::string& what, const Vec& got, const Vec& ref, Tolerance tol) {
  REQUIRE(got.size() == ref.size());
  size_t bad = 0, worst = 0;
  double worst_ratio = -1;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], r = ref[i];
    const double limit = tol.atol + tol.rtol * std::fabs(r);
    const double err = std::fabs(g - r);
    const bool ok = std::isfinite(g) == std::isfinite(r) && (std::isfinite(g) ? err <= limit : g == r);
    const double ratio = std::isfinite(err) ? err / limit : std::numeric_limits<double>::infinity();
    if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
    if (!ok && bad++ < 5) first << "\n  [" << i << "] got " << g << " want " << r << " (limit " << limit << ")";
  }
  INFO(what << ": " << bad << " of " << got.size() << " elements out of tolerance (atol " << tol.atol << ", rtol "
            << tol.rtol << "); worst index " << worst << " (error/limit " << worst_ratio << ")" << first.str());
  CHECK(bad == 0);
}

// ---- the oracle: the CPU twin ----
struct ConvData {
  Vec x, w, b, dy, bias_c;   // b: [K], bias_c: [C] (the transposed conv's bias)
};

inline ConvData make_data(const ConvGeom& g, uint32_t seed) {
  return {random_vec(g.x_size(), seed), random_vec(g.w_size(), seed + 1), random_vec(g.k, seed + 2),
          random_vec(g.y_size(), seed + 3), random_vec(g.c, seed + 4)};
}

inline Vec cpu_forward(const ConvGeom& g, const ConvData& d, bool bias, Act act) {
  Vec y(size_t(g.y_size()));
  zs::cpu::conv2d_forward(g, y.data(), d.x.data(), d.w.data(), bias ? d.b.data() : nullptr, act);
  return y;
}

inline Vec cpu_backward_data(const ConvGeom& g, const ConvData& d, bool bias, Act act) {
  Vec dx(size_t(g.x_size()));
  zs::cpu::conv2d_backward_data(g, dx.data(), d.dy.data(), d.w.data(), bias ? d.bias_c.data() : nullptr, act);
  return dx;
}

struct WeightGrads {
  Vec dw, db;
};
inline WeightGrads cpu_backward_weight(const ConvGeom& g, const ConvData& d) {
  WeightGrads r{Vec(size_t(g.w_size())), Vec(size_t(g.k))};
  zs::cpu::conv2d_backward_weight(g, r.dw.data(), r.db.data(), d.x.data(), d.dy.data());
  return r;
}

// Activation x bias combinations: all eight, or four that still cover every activation and both
// bias settings (for the costlier geometries).
struct Epilogue {
  Act act;
  bool bias;
};
inline std::vector<Epilogue> epilogues(bool all) {
  if (all)
    return {{Act::None, false}, {Act::None, true},    {Act::LeakyRelu, false},
            {Act::LeakyRelu, true}, {Act::Sigmoid, false}, {Act::Sigmoid, true},
            {Act::LeakyReluSigmoid, false}, {Act::LeakyReluSigmoid, true}};
  return {{Act::None, false}, {Act::LeakyRelu, true}, {Act::Sigmoid, true}, {Act::LeakyReluSigmoid, true}};
}

}  // namespace zs::conv_test
