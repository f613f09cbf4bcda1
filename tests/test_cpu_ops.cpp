// Tests of the CPU twin (kernels/cpu/ops.h), the oracle of the CUDA kernels:
//  * every op against a naive double-precision loop written here, independent of the
//    implementation (the convolution references SCATTER where the implementation gathers);
//  * finite-difference gradient checks in double: the forward is re-evaluated in double by the
//    naive loops, and the directional derivative of a random linear functional of the output is
//    compared with what the backward ops (float) give;
//  * odd shapes (batch 1, 3 and 5, H != W, stride 1 and 2, channel counts not multiples of 4,
//    kernels 1, 3 and 5, 'valid' and 'same') that reach both implementation paths (direct loops
//    for single-channel stride-1 geometries, im2col + GEMM otherwise) and the image chunking.
// Tolerances come from float precision: a sum of m products may be off by ~m * eps * sum|terms|.
#include <omp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "conv_test_support.h"
#include "kernels/cpu/gemm_panels.h"
#include "kernels/cpu/ops.h"

namespace {

using zs::Act;
using zs::ConvGeom;
using Vec = std::vector<float>;
using DVec = std::vector<double>;

constexpr double kFloatEps = std::numeric_limits<float>::epsilon();

Vec random_vec(size_t count, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  Vec v(count);
  for (auto& x : v) x = dist(rng);
  return v;
}

DVec to_double(const Vec& v) { return DVec(v.begin(), v.end()); }

double dot(const Vec& a, const DVec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// A reference result: values and, per element, the sum of |terms| that produced it, so the
// tolerance can follow the float error bound of a sum of `terms` products.
struct Ref {
  DVec value, magnitude;
  int64_t terms = 1;
};

// |got - ref| <= atol_i + rtol * |ref| with atol_i = 2 * terms * eps * magnitude_i; NaN/Inf where
// the reference is finite (or the reverse) always fails. Prints the worst index and the first
// mismatches.
void require_close(const std::string& what, const Vec& got, const Ref& ref, double rtol = 4 * kFloatEps) {
  REQUIRE(got.size() == ref.value.size());
  size_t bad = 0, worst = 0;
  double worst_ratio = 0;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], r = ref.value[i];
    const double tol = 2.0 * double(ref.terms) * kFloatEps * ref.magnitude[i] + rtol * std::fabs(r) + 1e-30;
    const double err = std::fabs(g - r);
    const bool ok = std::isfinite(g) && err <= tol;
    const double ratio = std::isfinite(g) ? err / tol : std::numeric_limits<double>::infinity();
    if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
    if (!ok && bad++ < 5) first << "\n  [" << i << "] got " << g << " want " << r << " (tol " << tol << ")";
  }
  INFO(what << ": " << bad << " of " << got.size() << " elements out of tolerance; worst index " << worst
            << " (error/tolerance " << worst_ratio << ")" << first.str());
  CHECK(bad == 0);
}

// Simple absolute/relative comparison for values without a natural term count.
void require_close(const std::string& what, const Vec& got, const DVec& ref, double atol, double rtol) {
  REQUIRE(got.size() == ref.size());
  size_t bad = 0, worst = 0;
  double worst_err = -1;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - ref[i]);
    const bool ok = std::isfinite(got[i]) == std::isfinite(ref[i]) && err <= atol + rtol * std::fabs(ref[i]);
    if (err > worst_err || std::isnan(err)) worst_err = err, worst = i;
    if (!ok && bad++ < 5) first << "\n  [" << i << "] got " << got[i] << " want " << ref[i];
  }
  INFO(what << ": " << bad << " of " << got.size() << " elements out of tolerance; worst index " << worst
            << " (error " << worst_err << ")" << first.str());
  CHECK(bad == 0);
}

double act_ref(Act act, double v) {
  switch (act) {
    case Act::LeakyRelu: return v > 0 ? v : 0.3 * v;
    case Act::Sigmoid: return 1.0 / (1.0 + std::exp(-v));
    case Act::LeakyReluSigmoid: return act_ref(Act::Sigmoid, act_ref(Act::LeakyRelu, v));
    case Act::None: break;
  }
  return v;
}

// The same, with the LeakyReLU of the fused head rounded to float as the op computes it (one
// rounded multiply, checked on its own as Act::LeakyRelu), so only the sigmoid's error is left.
double act_ref_float_input(Act act, float v) {
  if (act != Act::LeakyReluSigmoid) return act_ref(act, v);
  return act_ref(Act::Sigmoid, double(v * (v > 0.f ? 1.f : 0.3f)));
}

// The slope of the LeakyReLU inside act at x, as the op defines it through y = act(x): for the
// fused head, where y rounds to exactly 1/2 (|x| below ~1e-7) the op cannot see x's sign and
// takes alpha, as TensorFlow does at x == 0 (kernels/cpu/elementwise.cpp).
double leaky_slope(Act act, float x, float y) {
  if (act == Act::LeakyReluSigmoid && y == 0.5f) return 0.3;
  return x > 0 ? 1.0 : 0.3;
}

using zs::conv_test::act_name;
using zs::conv_test::describe;

// ---- naive convolution references (double) ----
// The input pixel that output (p, q) reads with tap (r, s), or false when it is padding.
bool tap_source(const ConvGeom& g, int p, int q, int r, int s, int& ih, int& iw) {
  ih = p * g.stride + r - g.pad_top;
  iw = q * g.stride + s - g.pad_left;
  return ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
}
size_t xi(const ConvGeom& g, int n, int c, int h, int w) { return ((size_t(n) * g.c + c) * g.h + h) * g.w + w; }
size_t yi(const ConvGeom& g, int n, int k, int p, int q) { return ((size_t(n) * g.k + k) * g.p + p) * g.q + q; }
size_t wi(const ConvGeom& g, int k, int c, int r, int s) { return ((size_t(k) * g.c + c) * g.r + r) * g.s + s; }

template <class T>
Ref ref_conv_forward(const ConvGeom& g, const std::vector<T>& x, const std::vector<T>& w, const std::vector<T>* b,
                     Act act) {
  Ref out;
  out.value.assign(g.y_size(), 0.0);
  out.magnitude.assign(g.y_size(), 0.0);
  out.terms = int64_t(g.c) * g.r * g.s + 1;
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int p = 0; p < g.p; ++p)
        for (int q = 0; q < g.q; ++q) {
          double sum = b ? double((*b)[k]) : 0.0, mag = std::fabs(sum);
          for (int c = 0; c < g.c; ++c)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                int ih, iw;
                if (!tap_source(g, p, q, r, s, ih, iw)) continue;
                const double t = double(w[wi(g, k, c, r, s)]) * double(x[xi(g, n, c, ih, iw)]);
                sum += t;
                mag += std::fabs(t);
              }
          out.value[yi(g, n, k, p, q)] = act_ref(act, sum);
          out.magnitude[yi(g, n, k, p, q)] = mag;
        }
  return out;
}

// The transposed convolution as a scatter: every (output, tap) pair adds into the input pixel it reads.
template <class T>
Ref ref_conv_backward_data(const ConvGeom& g, const std::vector<T>& dy, const std::vector<T>& w,
                           const std::vector<T>* bias, Act act) {
  Ref out;
  DVec sum(g.x_size(), 0.0);
  out.magnitude.assign(g.x_size(), 0.0);
  out.terms = int64_t(g.k) * g.r * g.s + 1;
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int p = 0; p < g.p; ++p)
        for (int q = 0; q < g.q; ++q)
          for (int c = 0; c < g.c; ++c)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                int ih, iw;
                if (!tap_source(g, p, q, r, s, ih, iw)) continue;
                const double t = double(w[wi(g, k, c, r, s)]) * double(dy[yi(g, n, k, p, q)]);
                sum[xi(g, n, c, ih, iw)] += t;
                out.magnitude[xi(g, n, c, ih, iw)] += std::fabs(t);
              }
  out.value.resize(sum.size());
  const size_t hw = size_t(g.h) * g.w;
  for (size_t i = 0; i < sum.size(); ++i) {
    const double b = bias ? double((*bias)[(i / hw) % g.c]) : 0.0;
    out.value[i] = act_ref(act, sum[i] + b);
    out.magnitude[i] += std::fabs(b);
  }
  return out;
}

Ref ref_conv_backward_weight(const ConvGeom& g, const Vec& x, const Vec& dy) {
  Ref out;
  out.value.assign(g.w_size(), 0.0);
  out.magnitude.assign(g.w_size(), 0.0);
  out.terms = int64_t(g.n) * g.p * g.q;
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int p = 0; p < g.p; ++p)
        for (int q = 0; q < g.q; ++q)
          for (int c = 0; c < g.c; ++c)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                int ih, iw;
                if (!tap_source(g, p, q, r, s, ih, iw)) continue;
                const double t = double(dy[yi(g, n, k, p, q)]) * double(x[xi(g, n, c, ih, iw)]);
                out.value[wi(g, k, c, r, s)] += t;
                out.magnitude[wi(g, k, c, r, s)] += std::fabs(t);
              }
  return out;
}

Ref ref_bias_grad(const Vec& dy, int n, int c, int hw) {
  Ref out;
  out.value.assign(c, 0.0);
  out.magnitude.assign(c, 0.0);
  out.terms = int64_t(n) * hw;
  for (int i = 0; i < n; ++i)
    for (int ch = 0; ch < c; ++ch)
      for (int j = 0; j < hw; ++j) {
        const double v = dy[(size_t(i) * c + ch) * hw + j];
        out.value[ch] += v;
        out.magnitude[ch] += std::fabs(v);
      }
  return out;
}

ConvGeom valid_geom(int n, int c, int h, int w, int k, int ksize, int stride) {
  ConvGeom g;
  g.n = n; g.c = c; g.h = h; g.w = w; g.k = k; g.r = ksize; g.s = ksize; g.stride = stride;
  g.p = (h - ksize) / stride + 1;
  g.q = (w - ksize) / stride + 1;
  return g;
}

// Odd shapes that cover both implementation paths, the chunking and the blog's strides.
std::vector<ConvGeom> test_geometries() {
  return {
      ConvGeom::same(1, 3, 9, 7, 5, 3, 1),    // GEMM path, stride 1
      ConvGeom::same(3, 3, 9, 7, 5, 3, 2),    // GEMM path, stride 2, 'same' pads 0 top / 1 bottom rows
      ConvGeom::same(3, 1, 9, 7, 5, 3, 1),    // direct path (single channel, stride 1)
      ConvGeom::same(1, 1, 8, 11, 6, 5, 1),   // direct path, 5x5 kernel
      ConvGeom::same(3, 2, 6, 5, 3, 1, 1),    // 1x1 kernel
      ConvGeom::same(2, 3, 6, 7, 4, 1, 2),    // 1x1 kernel, stride 2: pixels no output reads
      ConvGeom::same(3, 1, 9, 7, 5, 3, 2),    // single channel, stride 2: GEMM path
      ConvGeom::same(5, 5, 13, 13, 6, 3, 2),  // 7x7 output: several images per GEMM chunk (4 + 1)
      valid_geom(3, 3, 8, 6, 4, 3, 1),        // 'valid', GEMM path
      valid_geom(3, 1, 8, 6, 7, 3, 1),        // 'valid', direct path
      valid_geom(1, 2, 9, 8, 3, 3, 2),        // 'valid', stride 2
  };
}

}  // namespace

TEST_CASE("conv2d_forward matches a naive loop", "[cpu][conv]") {
  std::mt19937 rng(11);
  for (const ConvGeom& g : test_geometries()) {
    for (Act act : {Act::None, Act::LeakyRelu, Act::Sigmoid, Act::LeakyReluSigmoid}) {
      for (bool with_bias : {false, true}) {
        const Vec x = random_vec(g.x_size(), rng), w = random_vec(g.w_size(), rng), b = random_vec(g.k, rng);
        Vec y(g.y_size(), std::nanf(""));
        zs::cpu::conv2d_forward(g, y.data(), x.data(), w.data(), with_bias ? b.data() : nullptr, act);
        require_close("conv2d_forward " + describe(g) + " act " + act_name(act) + (with_bias ? " bias" : ""), y,
                      ref_conv_forward(g, x, w, with_bias ? &b : nullptr, act));
      }
    }
  }
}

TEST_CASE("conv2d_backward_data matches a naive scatter (transposed conv)", "[cpu][conv]") {
  std::mt19937 rng(12);
  for (const ConvGeom& g : test_geometries()) {
    for (Act act : {Act::None, Act::LeakyRelu, Act::Sigmoid, Act::LeakyReluSigmoid}) {
      for (bool with_bias : {false, true}) {
        const Vec dy = random_vec(g.y_size(), rng), w = random_vec(g.w_size(), rng), b = random_vec(g.c, rng);
        Vec dx(g.x_size(), std::nanf(""));
        zs::cpu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), with_bias ? b.data() : nullptr, act);
        require_close("conv2d_backward_data " + describe(g) + " act " + act_name(act) + (with_bias ? " bias" : ""),
                      dx, ref_conv_backward_data(g, dy, w, with_bias ? &b : nullptr, act));
      }
    }
  }
}

TEST_CASE("conv2d_backward_weight matches a naive loop", "[cpu][conv]") {
  std::mt19937 rng(13);
  for (const ConvGeom& g : test_geometries()) {
    const Vec x = random_vec(g.x_size(), rng), dy = random_vec(g.y_size(), rng);
    Vec dw(g.w_size(), std::nanf("")), db(g.k, std::nanf(""));
    zs::cpu::conv2d_backward_weight(g, dw.data(), db.data(), x.data(), dy.data());
    require_close("conv2d_backward_weight dw " + describe(g), dw, ref_conv_backward_weight(g, x, dy));
    require_close("conv2d_backward_weight db " + describe(g), db, ref_bias_grad(dy, g.n, g.k, g.p * g.q));
    Vec dw_only(g.w_size(), std::nanf(""));
    zs::cpu::conv2d_backward_weight(g, dw_only.data(), nullptr, x.data(), dy.data());
    CHECK(std::memcmp(dw_only.data(), dw.data(), dw.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("conv ops match naive loops on the blog's layer shapes", "[cpu][conv]") {
  // Batch 2 of the exact geometries the autoencoder uses (direct 1->32, GEMM 32->64 and 64->128).
  std::mt19937 rng(14);
  for (const ConvGeom& g : {ConvGeom::same(2, 1, 28, 28, 32, 3, 1), ConvGeom::same(2, 32, 28, 28, 64, 3, 2),
                            ConvGeom::same(2, 64, 14, 14, 128, 3, 2)}) {
    const Vec x = random_vec(g.x_size(), rng), w = random_vec(g.w_size(), rng, -0.2f, 0.2f);
    const Vec dy = random_vec(g.y_size(), rng), b = random_vec(g.k, rng), bc = random_vec(g.c, rng);
    Vec y(g.y_size()), dx(g.x_size()), dw(g.w_size());
    zs::cpu::conv2d_forward(g, y.data(), x.data(), w.data(), b.data(), Act::LeakyRelu);
    require_close("blog forward " + describe(g), y, ref_conv_forward(g, x, w, &b, Act::LeakyRelu));
    zs::cpu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), bc.data(), Act::Sigmoid);
    require_close("blog backward_data " + describe(g), dx, ref_conv_backward_data(g, dy, w, &bc, Act::Sigmoid));
    zs::cpu::conv2d_backward_weight(g, dw.data(), nullptr, x.data(), dy.data());
    require_close("blog backward_weight " + describe(g), dw, ref_conv_backward_weight(g, x, dy));
  }
}

TEST_CASE("gemm_panels matches a naive product on ragged shapes", "[cpu][gemm]") {
  // The convolutions' packed GEMM on its own: edge tiles in m (every height 1-5 below a multiple
  // of 6) and n (widths up to 8 and 9-15: the 8- and 16-column edge kernels), k split into blocks
  // (k > 384), A packed from a transposed source in two column ranges, B written run by run
  // across panel boundaries, and C += A B into a wider C.
  namespace d = zs::cpu::detail;
  std::mt19937 rng(21);
  for (auto [m, n, k] : {std::tuple{1, 1, 1}, {7, 17, 5}, {64, 196, 288}, {13, 40, 577}, {6, 16, 384}, {2, 30, 9},
                         {3, 12, 33}, {11, 25, 50}, {10, 24, 20}}) {
    const int64_t ldc = n + 3;
    const Vec a_t = random_vec(size_t(k) * m, rng), b = random_vec(size_t(k) * n, rng);  // a_t is A^T (k x m)
    const Vec c0 = random_vec(size_t(m) * ldc, rng);
    std::vector<float> ap(size_t(d::a_panels_floats(m, k)) + 16), bp(size_t(d::b_panels_floats(k, n)) + 16);
    float* ap_aligned = ap.data() + (16 - reinterpret_cast<uintptr_t>(ap.data()) / 4 % 16) % 16;
    float* bp_aligned = bp.data() + (16 - reinterpret_cast<uintptr_t>(bp.data()) / 4 % 16) % 16;
    const int64_t split = k / 2;  // pack A's columns in two calls
    d::pack_a_panels(ap_aligned, m, k, 0, split, a_t.data(), 1, m);
    d::pack_a_panels(ap_aligned, m, k, split, k - split, a_t.data() + split * m, 1, m);
    {  // the same A from a row-major source (the 8-column transposing path) packs to the same panels
      Vec a_rows(size_t(m) * k);
      for (int i = 0; i < m; ++i)
        for (int kk = 0; kk < k; ++kk) a_rows[size_t(i) * k + kk] = a_t[size_t(kk) * m + i];
      std::vector<float> again(size_t(d::a_panels_floats(m, k)));
      d::pack_a_panels(again.data(), m, k, 0, k, a_rows.data(), k, 1);
      CHECK(std::memcmp(again.data(), ap_aligned, again.size() * sizeof(float)) == 0);
    }
    for (int kk = 0; kk < k; ++kk)
      for (int j0 = 0; j0 < n; j0 += 5)  // runs of 5 columns cross the 16-column panel edges
        d::put_b_row_run(bp_aligned, k, kk, j0, b.data() + int64_t(kk) * n + j0, std::min(5, n - j0));
    d::zero_b_padding(bp_aligned, k, n);
    for (bool accumulate : {false, true}) {
      Vec c = c0;
      d::gemm_panels(m, n, k, ap_aligned, bp_aligned, c.data(), ldc, accumulate);
      Ref ref{DVec(c.size()), DVec(c.size()), k + 1};
      for (int i = 0; i < m; ++i)
        for (int64_t j = 0; j < ldc; ++j) {
          double sum = j < n && accumulate ? c0[i * ldc + j] : 0, mag = std::fabs(sum);
          if (j >= n) sum = c0[i * ldc + j], mag = 0;  // beyond n: untouched
          for (int kk = 0; j < n && kk < k; ++kk) {
            const double term = double(a_t[size_t(kk) * m + i]) * b[size_t(kk) * n + j];
            sum += term, mag += std::fabs(term);
          }
          ref.value[i * ldc + j] = sum, ref.magnitude[i * ldc + j] = mag;
        }
      std::ostringstream what;
      what << "gemm_panels m " << m << " n " << n << " k " << k << (accumulate ? " accumulate" : "");
      require_close(what.str(), c, ref);
    }
  }
}

TEST_CASE("conv2d_backward_data is the adjoint of conv2d_forward", "[cpu][conv]") {
  // <conv(x), dy> == <x, conv^T(dy)> for every geometry: the defining property of Conv2DTranspose.
  std::mt19937 rng(15);
  for (const ConvGeom& g : test_geometries()) {
    const Vec x = random_vec(g.x_size(), rng), w = random_vec(g.w_size(), rng), dy = random_vec(g.y_size(), rng);
    Vec y(g.y_size()), dx(g.x_size());
    zs::cpu::conv2d_forward(g, y.data(), x.data(), w.data(), nullptr, Act::None);
    zs::cpu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), nullptr, Act::None);
    const double lhs = dot(y, to_double(dy)), rhs = dot(dx, to_double(x));
    INFO(describe(g) << ": <conv x, dy> = " << lhs << ", <x, conv^T dy> = " << rhs);
    CHECK(std::fabs(lhs - rhs) <= 1e-4 * (1.0 + std::fabs(lhs)) * double(g.c * g.r * g.s));
  }
}

// ---- finite differences in double ----
namespace {

// Directional derivative (f(t + h) - f(t - h)) / 2h of a scalar function of a step t along a direction.
double central_difference(const std::function<double(double)>& f, double h = 1e-4) {
  return (f(h) - f(-h)) / (2 * h);
}

DVec axpy(const Vec& base, double t, const Vec& dir) {
  DVec out(base.size());
  for (size_t i = 0; i < base.size(); ++i) out[i] = double(base[i]) + t * double(dir[i]);
  return out;
}

double functional(const DVec& u, const DVec& y) {
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += u[i] * y[i];
  return s;
}

// Analytic directional derivative <grad, dir> vs the numeric one, with a tolerance scaled by the
// magnitude sum|grad_i dir_i| (float rounding of the gradient) and the difference step.
void check_directional(const std::string& what, const Vec& grad, const Vec& dir, double numeric) {
  double analytic = 0, magnitude = 0;
  for (size_t i = 0; i < grad.size(); ++i) {
    analytic += double(grad[i]) * dir[i];
    magnitude += std::fabs(double(grad[i]) * dir[i]);
  }
  INFO(what << ": analytic " << analytic << " numeric " << numeric << " (magnitude " << magnitude << ")");
  CHECK(std::fabs(analytic - numeric) <= 1e-4 * magnitude + 1e-7);
}

}  // namespace

TEST_CASE("conv gradients match finite differences (Conv2D layer)", "[cpu][conv][gradient]") {
  // f(x, w, b) = <u, sigmoid(conv(x, w) + b)>; the backward ops give df/dx, df/dw, df/db.
  std::mt19937 rng(21);
  for (const ConvGeom& g : {ConvGeom::same(3, 1, 9, 7, 5, 3, 1), ConvGeom::same(3, 3, 9, 7, 5, 3, 2),
                            ConvGeom::same(1, 2, 6, 5, 3, 5, 1)}) {
    const Vec x = random_vec(g.x_size(), rng), w = random_vec(g.w_size(), rng), b = random_vec(g.k, rng);
    const DVec u = to_double(random_vec(g.y_size(), rng));
    Vec y(g.y_size());
    zs::cpu::conv2d_forward(g, y.data(), x.data(), w.data(), b.data(), Act::Sigmoid);
    Vec gy(g.y_size());
    for (size_t i = 0; i < gy.size(); ++i) gy[i] = float(u[i]);
    zs::cpu::activation_backward(Act::Sigmoid, gy.data(), gy.data(), y.data(), int64_t(gy.size()));
    Vec dx(g.x_size()), dw(g.w_size()), db(g.k);
    zs::cpu::conv2d_backward_data(g, dx.data(), gy.data(), w.data(), nullptr, Act::None);
    zs::cpu::conv2d_backward_weight(g, dw.data(), db.data(), x.data(), gy.data());

    const DVec xd = to_double(x), wd = to_double(w), bd = to_double(b);
    const Vec ex = random_vec(x.size(), rng), ew = random_vec(w.size(), rng), eb = random_vec(b.size(), rng);
    auto f = [&](const DVec& xv, const DVec& wv, const DVec& bv) {
      return functional(u, ref_conv_forward(g, xv, wv, &bv, Act::Sigmoid).value);
    };
    check_directional("d/dx " + describe(g), dx, ex,
                      central_difference([&](double t) { return f(axpy(x, t, ex), wd, bd); }));
    check_directional("d/dw " + describe(g), dw, ew,
                      central_difference([&](double t) { return f(xd, axpy(w, t, ew), bd); }));
    check_directional("d/db " + describe(g), db, eb,
                      central_difference([&](double t) { return f(xd, wd, axpy(b, t, eb)); }));
  }
}

TEST_CASE("Conv2DTranspose layer gradients match finite differences", "[cpu][conv][gradient]") {
  // A Conv2DTranspose layer in -> out is conv2d_backward_data of the forward conv out -> in. Its
  // backward (as the runtime composes it): d(in) = conv2d_forward(g_out, no bias, None),
  // dw = conv2d_backward_weight(x = g_out, dy = in), dbias = bias_grad_nchw(g_out).
  std::mt19937 rng(22);
  // Both decoder heads: the plain sigmoid and the blog's LeakyReLU -> sigmoid.
  for (Act head : {Act::Sigmoid, Act::LeakyReluSigmoid}) {
    for (const ConvGeom& g : {ConvGeom::same(2, 3, 8, 6, 4, 3, 2), ConvGeom::same(3, 1, 7, 9, 5, 3, 1)}) {
      const Vec in = random_vec(g.y_size(), rng), w = random_vec(g.w_size(), rng), bias = random_vec(g.c, rng);
      const DVec u = to_double(random_vec(g.x_size(), rng));
      Vec out(g.x_size());
      zs::cpu::conv2d_backward_data(g, out.data(), in.data(), w.data(), bias.data(), head);
      Vec g_out(g.x_size());
      for (size_t i = 0; i < g_out.size(); ++i) g_out[i] = float(u[i]);
      zs::cpu::activation_backward(head, g_out.data(), g_out.data(), out.data(), int64_t(g_out.size()));
      Vec d_in(g.y_size()), dw(g.w_size()), dbias(g.c);
      zs::cpu::conv2d_forward(g, d_in.data(), g_out.data(), w.data(), nullptr, Act::None);
      zs::cpu::conv2d_backward_weight(g, dw.data(), nullptr, g_out.data(), in.data());
      zs::cpu::bias_grad_nchw(dbias.data(), g_out.data(), g.n, g.c, g.h * g.w);

      const DVec ind = to_double(in), wd = to_double(w), bd = to_double(bias);
      const Vec e_in = random_vec(in.size(), rng), ew = random_vec(w.size(), rng), eb = random_vec(bias.size(), rng);
      auto f = [&](const DVec& iv, const DVec& wv, const DVec& bv) {
        return functional(u, ref_conv_backward_data(g, iv, wv, &bv, head).value);
      };
      check_directional("convT d/din " + describe(g) + " " + act_name(head), d_in, e_in,
                        central_difference([&](double t) { return f(axpy(in, t, e_in), wd, bd); }));
      check_directional("convT d/dw " + describe(g) + " " + act_name(head), dw, ew,
                        central_difference([&](double t) { return f(ind, axpy(w, t, ew), bd); }));
      check_directional("convT d/dbias " + describe(g) + " " + act_name(head), dbias, eb,
                        central_difference([&](double t) { return f(ind, wd, axpy(bias, t, eb)); }));
    }
  }
}

TEST_CASE("bias_grad_nchw sums over images and pixels", "[cpu][conv]") {
  std::mt19937 rng(31);
  for (auto [n, c, hw] : {std::tuple{1, 1, 1}, {3, 5, 7}, {3, 1, 784}, {5, 3, 49}}) {
    const Vec dy = random_vec(size_t(n) * c * hw, rng);
    Vec db(c, std::nanf(""));
    zs::cpu::bias_grad_nchw(db.data(), dy.data(), n, c, hw);
    require_close("bias_grad_nchw", db, ref_bias_grad(dy, n, c, hw));
  }
}

// ---- dense ----
namespace {

Ref ref_dense_forward(const DVec& x, const DVec& w, const DVec* b, int n, int in, int out, Act act) {
  Ref r;
  r.value.assign(size_t(n) * out, 0.0);
  r.magnitude.assign(size_t(n) * out, 0.0);
  r.terms = in + 1;
  for (int i = 0; i < n; ++i)
    for (int o = 0; o < out; ++o) {
      double s = b ? (*b)[o] : 0.0, m = std::fabs(s);
      for (int j = 0; j < in; ++j) {
        s += x[size_t(i) * in + j] * w[size_t(j) * out + o];
        m += std::fabs(x[size_t(i) * in + j] * w[size_t(j) * out + o]);
      }
      r.value[size_t(i) * out + o] = act_ref(act, s);
      r.magnitude[size_t(i) * out + o] = m;
    }
  return r;
}

}  // namespace

TEST_CASE("dense_forward and dense_backward match naive loops", "[cpu][dense]") {
  std::mt19937 rng(41);
  for (auto [n, in, out] : {std::tuple{1, 7, 5}, {3, 13, 6}, {3, 6, 13}, {37, 150, 16}, {37, 16, 150}}) {
    const Vec x = random_vec(size_t(n) * in, rng), w = random_vec(size_t(in) * out, rng), b = random_vec(out, rng);
    const DVec xd = to_double(x), wd = to_double(w), bd = to_double(b);
    for (Act act : {Act::None, Act::LeakyRelu, Act::Sigmoid, Act::LeakyReluSigmoid}) {
      Vec y(size_t(n) * out, std::nanf(""));
      zs::cpu::dense_forward(y.data(), x.data(), w.data(), b.data(), n, in, out, act);
      require_close("dense_forward act " + std::string(act_name(act)), y, ref_dense_forward(xd, wd, &bd, n, in, out, act));
    }
    Vec y(size_t(n) * out);
    zs::cpu::dense_forward(y.data(), x.data(), w.data(), nullptr, n, in, out, Act::None);
    require_close("dense_forward without bias", y, ref_dense_forward(xd, wd, nullptr, n, in, out, Act::None));

    const Vec dy = random_vec(size_t(n) * out, rng);
    Vec dx(size_t(n) * in, std::nanf("")), dw(size_t(in) * out, std::nanf("")), db(out, std::nanf(""));
    zs::cpu::dense_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), n, in, out);
    Ref rdx, rdw, rdb;
    rdx.value.assign(dx.size(), 0.0), rdx.magnitude.assign(dx.size(), 0.0), rdx.terms = out;
    rdw.value.assign(dw.size(), 0.0), rdw.magnitude.assign(dw.size(), 0.0), rdw.terms = n;
    rdb.value.assign(db.size(), 0.0), rdb.magnitude.assign(db.size(), 0.0), rdb.terms = n;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < in; ++j)
        for (int o = 0; o < out; ++o) {
          const double g = dy[size_t(i) * out + o];
          rdx.value[size_t(i) * in + j] += g * w[size_t(j) * out + o];
          rdx.magnitude[size_t(i) * in + j] += std::fabs(g * w[size_t(j) * out + o]);
          rdw.value[size_t(j) * out + o] += double(x[size_t(i) * in + j]) * g;
          rdw.magnitude[size_t(j) * out + o] += std::fabs(double(x[size_t(i) * in + j]) * g);
          if (j == 0) rdb.value[o] += g, rdb.magnitude[o] += std::fabs(g);
        }
    require_close("dense_backward dx", dx, rdx);
    require_close("dense_backward dw", dw, rdw);
    require_close("dense_backward db", db, rdb);

    // Null dx and db are skipped; dw is unchanged by that.
    Vec dw2(dw.size(), std::nanf(""));
    zs::cpu::dense_backward(nullptr, dw2.data(), nullptr, dy.data(), x.data(), w.data(), n, in, out);
    CHECK(std::memcmp(dw2.data(), dw.data(), dw.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("dense gradients match finite differences", "[cpu][dense][gradient]") {
  std::mt19937 rng(42);
  const int n = 3, in = 11, out = 7;
  const Vec x = random_vec(size_t(n) * in, rng), w = random_vec(size_t(in) * out, rng), b = random_vec(out, rng);
  const DVec u = to_double(random_vec(size_t(n) * out, rng));
  Vec y(size_t(n) * out);
  zs::cpu::dense_forward(y.data(), x.data(), w.data(), b.data(), n, in, out, Act::Sigmoid);
  Vec gy(y.size());
  for (size_t i = 0; i < gy.size(); ++i) gy[i] = float(u[i]);
  zs::cpu::activation_backward(Act::Sigmoid, gy.data(), gy.data(), y.data(), int64_t(gy.size()));
  Vec dx(x.size()), dw(w.size()), db(b.size());
  zs::cpu::dense_backward(dx.data(), dw.data(), db.data(), gy.data(), x.data(), w.data(), n, in, out);
  const DVec xd = to_double(x), wd = to_double(w), bd = to_double(b);
  auto f = [&](const DVec& xv, const DVec& wv, const DVec& bv) {
    return functional(u, ref_dense_forward(xv, wv, &bv, n, in, out, Act::Sigmoid).value);
  };
  const Vec ex = random_vec(x.size(), rng), ew = random_vec(w.size(), rng), eb = random_vec(b.size(), rng);
  check_directional("dense d/dx", dx, ex, central_difference([&](double t) { return f(axpy(x, t, ex), wd, bd); }));
  check_directional("dense d/dw", dw, ew, central_difference([&](double t) { return f(xd, axpy(w, t, ew), bd); }));
  check_directional("dense d/db", db, eb, central_difference([&](double t) { return f(xd, wd, axpy(b, t, eb)); }));
}

// ---- activations ----
TEST_CASE("activations forward and backward", "[cpu][activation]") {
  std::mt19937 rng(51);
  const int64_t count = 100003;  // odd, and large enough to run on several threads
  Vec x = random_vec(count, rng, -8.f, 8.f);
  x[0] = 0.f, x[1] = -0.f, x[2] = 1e-30f, x[3] = -1e-30f, x[4] = 100.f, x[5] = -100.f;
  const Vec dy = random_vec(count, rng);
  for (Act act : {Act::None, Act::LeakyRelu, Act::Sigmoid, Act::LeakyReluSigmoid}) {
    DVec ref(count), dref(count);
    for (int64_t i = 0; i < count; ++i) ref[i] = act_ref_float_input(act, x[i]);
    Vec y(count, std::nanf(""));
    zs::cpu::activation_forward(act, y.data(), x.data(), count);
    // Absolute floor: a few steps of the denormal grid, where relative precision runs out.
    const double denormal_floor = 8.0 * std::numeric_limits<float>::denorm_min();
    require_close(std::string("activation_forward ") + act_name(act), y, ref, denormal_floor, 4 * kFloatEps);
    Vec inplace = x;
    zs::cpu::activation_forward(act, inplace.data(), inplace.data(), count);
    CHECK(std::memcmp(inplace.data(), y.data(), count * sizeof(float)) == 0);

    // Backward from the output: the derivative at x, expressed through y.
    for (int64_t i = 0; i < count; ++i) {
      const double yv = y[i];
      const double slope = act == Act::LeakyRelu          ? leaky_slope(act, x[i], y[i])
                           : act == Act::Sigmoid          ? yv * (1 - yv)
                           : act == Act::LeakyReluSigmoid ? yv * (1 - yv) * leaky_slope(act, x[i], y[i])
                                                          : 1.0;
      dref[i] = dy[i] * slope;
    }
    Vec dx(count, std::nanf(""));
    zs::cpu::activation_backward(act, dx.data(), dy.data(), y.data(), count);
    require_close(std::string("activation_backward ") + act_name(act), dx, dref, denormal_floor, 4 * kFloatEps);
    Vec dinplace = dy;
    zs::cpu::activation_backward(act, dinplace.data(), dinplace.data(), y.data(), count);
    CHECK(std::memcmp(dinplace.data(), dx.data(), count * sizeof(float)) == 0);
  }
  // Saturation: sigmoid stays finite and in [0, 1].
  const float extremes[4] = {-1000.f, 1000.f, -88.f, 88.f};
  float out[4];
  zs::cpu::activation_forward(Act::Sigmoid, out, extremes, 4);
  CHECK(out[0] == 0.f);
  CHECK(out[1] == 1.f);
  CHECK((out[2] >= 0.f && out[2] < 1e-37f));
  CHECK(out[3] == 1.f);
}

TEST_CASE("activation gradients match finite differences", "[cpu][activation][gradient]") {
  std::mt19937 rng(52);
  const int64_t count = 257;
  Vec x = random_vec(count, rng, -4.f, 4.f);
  for (auto& v : x)
    if (std::fabs(v) < 0.01f) v = 0.5f;  // keep LeakyReLU's kink out of the difference step
  const DVec u = to_double(random_vec(count, rng));
  const Vec e = random_vec(count, rng);
  for (Act act : {Act::LeakyRelu, Act::Sigmoid, Act::LeakyReluSigmoid}) {
    Vec y(count), gx(count), gu(count);
    zs::cpu::activation_forward(act, y.data(), x.data(), count);
    for (int64_t i = 0; i < count; ++i) gu[i] = float(u[i]);
    zs::cpu::activation_backward(act, gx.data(), gu.data(), y.data(), count);
    const double numeric = central_difference([&](double t) {
      const DVec xv = axpy(x, t, e);
      double s = 0;
      for (int64_t i = 0; i < count; ++i) s += u[i] * act_ref(act, xv[i]);
      return s;
    });
    check_directional(std::string("activation ") + act_name(act), gx, e, numeric);
  }
}

// ---- losses ----
TEST_CASE("bce_loss: values, clamp and gradient of the batch mean", "[cpu][loss]") {
  std::mt19937 rng(61);
  const int n = 3, dim = 29;
  Vec pred = random_vec(size_t(n) * dim, rng, 0.01f, 0.99f), target = random_vec(size_t(n) * dim, rng, 0.f, 1.f);
  target[1] = 0.f, target[2] = 1.f;
  // Clamped entries: exactly 0 and 1, and outside [0, 1] altogether.
  pred[5] = 0.f, pred[6] = 1.f, pred[7] = -0.5f, pred[8] = 1.5f, pred[9] = 1e-9f;
  const double lo = double(1e-7f), hi = double(1.f - 1e-7f);  // the clamp bounds as float32
  DVec loss_ref(n, 0.0), grad_ref(pred.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < dim; ++j) {
      const size_t k = size_t(i) * dim + j;
      const double p = std::min(std::max(double(pred[k]), lo), hi), t = target[k];
      loss_ref[i] -= (t * std::log(p) + (1 - t) * std::log(1 - p)) / dim;
      const bool clamped = pred[k] < float(lo) || pred[k] > float(hi);
      grad_ref[k] = clamped ? 0.0 : (p - t) / (p * (1 - p)) / (n * dim);
    }
  Vec loss(n, std::nanf("")), dpred(pred.size(), std::nanf(""));
  zs::cpu::bce_loss(loss.data(), dpred.data(), pred.data(), target.data(), n, dim);
  require_close("bce loss", loss, loss_ref, 1e-6, 1e-5);
  require_close("bce dpred", dpred, grad_ref, 1e-9, 1e-5);
  for (int k : {5, 6, 7, 8, 9}) {
    INFO("clamped entry " << k);
    CHECK(dpred[k] == 0.f);
  }
  // p = 0 with t = 1 costs -log(1e-7) / dim, not infinity.
  {
    const float p0 = 0.f, t1 = 1.f;
    float l = 0, d = 1;
    zs::cpu::bce_loss(&l, &d, &p0, &t1, 1, 1);
    CHECK(l == Approx(-std::log(1e-7)).epsilon(1e-5));
    CHECK(d == 0.f);
  }
  // Loss only (null dpred) gives the same values.
  Vec loss2(n);
  zs::cpu::bce_loss(loss2.data(), nullptr, pred.data(), target.data(), n, dim);
  CHECK(std::memcmp(loss2.data(), loss.data(), n * sizeof(float)) == 0);

  // Finite differences of the batch mean, away from the clamp.
  const Vec p_free = random_vec(size_t(n) * dim, rng, 0.05f, 0.95f);
  Vec d_free(p_free.size());
  zs::cpu::bce_loss(loss.data(), d_free.data(), p_free.data(), target.data(), n, dim);
  const Vec e = random_vec(p_free.size(), rng);
  const double numeric = central_difference(
      [&](double t) {
        const DVec p = axpy(p_free, t, e);
        double s = 0;
        for (size_t k = 0; k < p.size(); ++k) s -= target[k] * std::log(p[k]) + (1 - target[k]) * std::log(1 - p[k]);
        return s / (n * dim);
      },
      1e-6);
  check_directional("bce batch-mean gradient", d_free, e, numeric);
}

TEST_CASE("mse_loss: values and gradient of the batch mean", "[cpu][loss]") {
  std::mt19937 rng(62);
  const int n = 3, dim = 17;
  const Vec pred = random_vec(size_t(n) * dim, rng), target = random_vec(size_t(n) * dim, rng);
  DVec loss_ref(n, 0.0), grad_ref(pred.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < dim; ++j) {
      const size_t k = size_t(i) * dim + j;
      const double d = double(pred[k]) - target[k];
      loss_ref[i] += d * d / dim;
      grad_ref[k] = 2 * d / (n * dim);
    }
  Vec loss(n), dpred(pred.size());
  zs::cpu::mse_loss(loss.data(), dpred.data(), pred.data(), target.data(), n, dim);
  require_close("mse loss", loss, loss_ref, 1e-7, 1e-5);
  require_close("mse dpred", dpred, grad_ref, 1e-9, 1e-5);
  const Vec e = random_vec(pred.size(), rng);
  const double numeric = central_difference([&](double t) {
    const DVec p = axpy(pred, t, e);
    double s = 0;
    for (size_t k = 0; k < p.size(); ++k) s += (p[k] - target[k]) * (p[k] - target[k]);
    return s / (n * dim);
  });
  check_directional("mse batch-mean gradient", dpred, e, numeric);
}

// ---- optimizer ----
TEST_CASE("adam_step follows Keras Adam", "[cpu][adam]") {
  zs::AdamHyper h;  // lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7, all float32 as in Keras
  // Step 1 from m = v = 0 with g = 0.5, by hand (1 - 0.999f = 0.00099998713, 1 - 0.9f = 0.10000002):
  // m = 0.05000001, v = 0.00024999678, lr_t = 1e-3 * sqrt(0.00099998713) / 0.10000002 = 3.1622567e-4,
  // p = 1 - lr_t * m / (sqrt(v) + 1e-7) = 0.99900000628.
  {
    float p = 1.f, m = 0.f, v = 0.f;
    const float g = 0.5f;
    zs::cpu::adam_step(&p, &m, &v, &g, 1, h, 1);
    CHECK(m == Approx(0.050000012).epsilon(1e-7));
    CHECK(v == Approx(0.00024999678).epsilon(1e-7));
    CHECK(p == Approx(0.99900000628).epsilon(1e-7));
  }
  // Several steps on a vector against the formula in double.
  std::mt19937 rng(71);
  const int64_t count = 70001;
  Vec p = random_vec(count, rng), m(count, 0.f), v(count, 0.f);
  DVec pd = to_double(p), md(count, 0.0), vd(count, 0.0);
  h.lr = 0.01f;
  for (int64_t step = 1; step <= 3; ++step) {
    const Vec g = random_vec(count, rng);
    zs::cpu::adam_step(p.data(), m.data(), v.data(), g.data(), count, h, step);
    const double b1 = h.beta1, b2 = h.beta2, lr = h.lr, eps = h.eps;
    const double lr_t = lr * std::sqrt(1 - std::pow(b2, step)) / (1 - std::pow(b1, step));
    for (int64_t i = 0; i < count; ++i) {
      md[i] = b1 * md[i] + (1 - b1) * g[i];
      vd[i] = b2 * vd[i] + (1 - b2) * double(g[i]) * g[i];
      pd[i] -= lr_t * md[i] / (std::sqrt(vd[i]) + eps);
    }
  }
  require_close("adam m", m, md, 1e-7, 1e-5);
  require_close("adam v", v, vd, 1e-9, 1e-5);
  require_close("adam param", p, pd, 1e-6, 1e-6);
}

// ---- determinism and thread counts ----
TEST_CASE("the layer backwards equal the separate ops followed by activation_backward, bit for bit", "[cpu][conv]") {
  // Every path (direct, flat and generic lowering, chunks of several images, several weight
  // slots), every gate, with and without dx: chunk by chunk must change no bit.
  std::mt19937 rng(15);
  std::vector<ConvGeom> geoms = test_geometries();
  geoms.push_back(ConvGeom::same(3, 1, 28, 28, 32, 3, 1));     // the blog's first conv / last deconv
  geoms.push_back(ConvGeom::same(3, 32, 28, 28, 64, 3, 2));    // 28 -> 14
  geoms.push_back(ConvGeom::same(37, 64, 14, 14, 128, 3, 2));  // 14 -> 7: 10 chunks of 4 + 1, 8 slots
  const auto same_bits = [](const Vec& a, const Vec& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  for (const ConvGeom& g : geoms) {
    for (Act act : {Act::None, Act::LeakyRelu, Act::Sigmoid}) {
      for (bool with_dx : {true, false}) {
        const Vec w = random_vec(g.w_size(), rng);
        // Activation outputs as the layer inputs: both signs for LeakyReLU, (0, 1) for the sigmoid.
        const float lo = act == Act::Sigmoid ? 0.f : -1.f;
        const std::string what = describe(g) + " gate " + act_name(act) + (with_dx ? "" : " no dx");
        {  // Conv2D: x on the x side, dy on the y side.
          const Vec x = random_vec(g.x_size(), rng, lo, 1.f), dy = random_vec(g.y_size(), rng);
          Vec want_dw(g.w_size()), want_db(g.k), want_dx(g.x_size());
          zs::cpu::conv2d_backward_weight(g, want_dw.data(), want_db.data(), x.data(), dy.data());
          zs::cpu::conv2d_backward_data(g, want_dx.data(), dy.data(), w.data(), nullptr, Act::None);
          zs::cpu::activation_backward(act, want_dx.data(), want_dx.data(), x.data(), int64_t(want_dx.size()));
          Vec dw(g.w_size(), std::nanf("")), db(g.k, std::nanf("")), dx(g.x_size(), std::nanf(""));
          zs::cpu::conv2d_layer_backward(g, dw.data(), db.data(), with_dx ? dx.data() : nullptr, x.data(), dy.data(),
                                         w.data(), {act, x.data()});
          INFO("conv2d_layer_backward " << what);
          CHECK(same_bits(dw, want_dw));
          CHECK(same_bits(db, want_db));
          if (with_dx) CHECK(same_bits(dx, want_dx));
          if (!with_dx) CHECK(std::isnan(dx[0]));
        }
        {  // Conv2DTranspose, the adjoint of g: its x and dx on the y side, its dy on the x side.
          const Vec x = random_vec(g.y_size(), rng, lo, 1.f), dy = random_vec(g.x_size(), rng);
          Vec want_dw(g.w_size()), want_db(g.c), want_dx(g.y_size());
          zs::cpu::conv2d_backward_weight(g, want_dw.data(), nullptr, dy.data(), x.data());
          zs::cpu::bias_grad_nchw(want_db.data(), dy.data(), g.n, g.c, g.h * g.w);
          zs::cpu::conv2d_forward(g, want_dx.data(), dy.data(), w.data(), nullptr, Act::None);
          zs::cpu::activation_backward(act, want_dx.data(), want_dx.data(), x.data(), int64_t(want_dx.size()));
          Vec dw(g.w_size(), std::nanf("")), db(g.c, std::nanf("")), dx(g.y_size(), std::nanf(""));
          zs::cpu::conv2d_transpose_layer_backward(g, dw.data(), db.data(), with_dx ? dx.data() : nullptr, x.data(),
                                                   dy.data(), w.data(), {act, x.data()});
          INFO("conv2d_transpose_layer_backward " << what);
          CHECK(same_bits(dw, want_dw));
          CHECK(same_bits(db, want_db));
          if (with_dx) CHECK(same_bits(dx, want_dx));
          if (!with_dx) CHECK(std::isnan(dx[0]));
        }
      }
    }
  }
}

TEST_CASE("conv ops give the same bits on every run and for every thread count", "[cpu][determinism]") {
  // Chunks are handed to threads dynamically and weight gradients are summed in fixed slots, so
  // not even the thread count may change a bit.
  std::mt19937 rng(81);
  for (const ConvGeom& g : {ConvGeom::same(7, 3, 14, 12, 8, 3, 2), ConvGeom::same(5, 1, 12, 10, 6, 3, 1),
                            ConvGeom::same(19, 2, 28, 14, 3, 3, 2)}) {  // 10 chunks > 8 slots
    const Vec x = random_vec(g.x_size(), rng), dy = random_vec(g.y_size(), rng), w = random_vec(g.w_size(), rng);
    auto run = [&] {
      Vec dw(g.w_size()), db(g.k), y(g.y_size()), dx(g.x_size());
      zs::cpu::conv2d_backward_weight(g, dw.data(), db.data(), x.data(), dy.data());
      zs::cpu::conv2d_forward(g, y.data(), x.data(), w.data(), nullptr, Act::None);
      zs::cpu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), nullptr, Act::None);
      dw.insert(dw.end(), db.begin(), db.end());
      dw.insert(dw.end(), y.begin(), y.end());
      dw.insert(dw.end(), dx.begin(), dx.end());
      // The layer backwards (chunk by chunk, in weight-gradient slots), gated by x and dy.
      Vec lw(g.w_size()), lb(g.k), ldx(g.x_size()), tw(g.w_size()), tb(g.c), tdx(g.y_size());
      zs::cpu::conv2d_layer_backward(g, lw.data(), lb.data(), ldx.data(), x.data(), dy.data(), w.data(),
                                     {Act::LeakyRelu, x.data()});
      zs::cpu::conv2d_transpose_layer_backward(g, tw.data(), tb.data(), tdx.data(), dy.data(), x.data(), w.data(),
                                               {Act::LeakyRelu, dy.data()});
      for (const Vec* part : {&lw, &lb, &ldx, &tw, &tb, &tdx}) dw.insert(dw.end(), part->begin(), part->end());
      return dw;
    };
    const Vec first = run();
    for (int rep = 0; rep < 3; ++rep) {
      const Vec again = run();
      INFO(describe(g) << ", repeat " << rep);
      CHECK(std::memcmp(first.data(), again.data(), first.size() * sizeof(float)) == 0);
    }
    const int threads = omp_get_max_threads();
    for (int other : {1, 2, 3}) {
      omp_set_num_threads(other);
      const Vec again = run();
      omp_set_num_threads(threads);
      INFO(describe(g) << ", " << other << " thread(s) vs " << threads);
      CHECK(std::memcmp(first.data(), again.data(), first.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("dense ops are reproducible and change at most the rounding with the thread count", "[cpu][determinism]") {
  std::mt19937 rng(82);
  const int n = 37, in = 150, out = 70;
  const Vec x = random_vec(size_t(n) * in, rng), w = random_vec(size_t(in) * out, rng), dy = random_vec(size_t(n) * out, rng);
  auto run = [&] {
    Vec y(size_t(n) * out), dx(x.size()), dw(w.size()), db(out);
    zs::cpu::dense_forward(y.data(), x.data(), w.data(), nullptr, n, in, out, Act::None);
    zs::cpu::dense_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), n, in, out);
    y.insert(y.end(), dx.begin(), dx.end());
    y.insert(y.end(), dw.begin(), dw.end());
    y.insert(y.end(), db.begin(), db.end());
    return y;
  };
  const Vec first = run(), again = run();
  CHECK(std::memcmp(first.data(), again.data(), first.size() * sizeof(float)) == 0);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(threads == 1 ? 2 : 1);
  const Vec other = run();
  omp_set_num_threads(threads);
  require_close("dense with another thread count", other, to_double(first), 1e-5, 1e-5);
}

TEST_CASE("ops reject null buffers and empty geometry", "[cpu][errors]") {
  ConvGeom g = ConvGeom::same(1, 1, 4, 4, 1, 3, 1);
  float buf[64] = {};
  CHECK_THROWS_AS(zs::cpu::conv2d_forward(g, nullptr, buf, buf, nullptr, Act::None), std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::conv2d_layer_backward(g, buf, buf, buf, buf, buf, buf, {Act::LeakyRelu, nullptr}),
                  std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::conv2d_transpose_layer_backward(g, buf, nullptr, buf, buf, buf, buf, {}),
                  std::invalid_argument);
  g.n = 0;
  CHECK_THROWS_AS(zs::cpu::conv2d_forward(g, buf, buf, buf, nullptr, Act::None), std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::dense_forward(buf, buf, buf, nullptr, 0, 2, 2, Act::None), std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::adam_step(buf, buf, buf, buf, 4, zs::AdamHyper{}, 0), std::invalid_argument);
}
