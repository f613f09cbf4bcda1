// The CPU twin's run-time ISA dispatch (kernels/cpu/cpu_isa.h):
//  * ZS_CPU_ISA parsing against given feature sets (every answer, and the one-line errors);
//  * the features this machine reports are consistent, and which paths these tests ran is printed;
//  * every path this CPU has, forced in turn, against a naive double product (tolerance from the
//    float error bound of a k-term sum) and against the AVX2 path, which it must match BIT FOR
//    BIT: the paths run the same FMAs per element in the same order (gemm_panels.h). The same
//    for the convolutions built on that GEMM, on the blog's layer shapes, the element-wise ops
//    (activations, their derivatives, Adam, the BCE gradient; the BCE loss within a bound: its
//    terms' FMAs and its simd sum follow the vector width) and the KMeans pass, also against a
//    naive argmin.
// Paths the CPU lacks are skipped with "SKIPPED: this CPU lacks <path>", which ctest counts as
// skipped. (All the op tests of test_cpu_ops also run once per forced path: tests/CMakeLists.txt.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/gemm_panels.h"
#include "kernels/cpu/kmeans.h"
#include "kernels/cpu/ops.h"

namespace {

using zs::cpu::CpuFeatures;
using zs::cpu::CpuIsa;
using Vec = std::vector<float>;

constexpr double kFloatEps = std::numeric_limits<float>::epsilon();

Vec random_vec(size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  Vec v(count);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<CpuIsa> all_paths() {
  std::vector<CpuIsa> paths;
  for (int i = 0; i <= int(zs::cpu::kWidestCpuIsa); ++i) paths.push_back(CpuIsa(i));
  return paths;
}

// True when the CPU has `isa`; otherwise WARNs the skip line that ctest counts as skipped.
bool have_or_skip(CpuIsa isa) {
  if (zs::cpu::cpu_supports(zs::cpu::detect_cpu_features(), isa)) return true;
  WARN("SKIPPED: this CPU lacks " << zs::cpu::cpu_isa_name(isa) << " (" << zs::cpu::cpu_isa_summary() << ")");
  return false;
}

float* aligned64(Vec& v) { return v.data() + (16 - reinterpret_cast<uintptr_t>(v.data()) / 4 % 16) % 16; }

// Index of the first element whose bits differ, or -1.
int64_t first_bit_difference(const Vec& a, const Vec& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return int64_t(i);
  return -1;
}

}  // namespace

TEST_CASE("ZS_CPU_ISA picks a path the CPU has, or says what to use instead", "[cpu][isa]") {
  CpuFeatures avx2_only;
  avx2_only.avx2_fma = true;
  CpuFeatures avx512 = avx2_only;
  avx512.avx512 = true;
  CpuIsa isa = CpuIsa::kAvx512;
  std::string error;

  CHECK(zs::cpu::choose_cpu_isa(nullptr, avx2_only, isa, error));
  CHECK(isa == CpuIsa::kAvx2);
  CHECK(zs::cpu::choose_cpu_isa("", avx512, isa, error));
  CHECK(isa == CpuIsa::kAvx512);
  CHECK(zs::cpu::choose_cpu_isa("avx2", avx512, isa, error));
  CHECK(isa == CpuIsa::kAvx2);
  CHECK(zs::cpu::choose_cpu_isa("avx512", avx512, isa, error));
  CHECK(isa == CpuIsa::kAvx512);
  CHECK(error.empty());

  CHECK_FALSE(zs::cpu::choose_cpu_isa("avx512", avx2_only, isa, error));
  CHECK(error == "ZS_CPU_ISA=avx512: this CPU (or its OS) does not support avx512; use ZS_CPU_ISA=avx2 or lower, "
                 "or unset it");
  error.clear();
  CHECK_FALSE(zs::cpu::choose_cpu_isa("AVX512", avx512, isa, error));
  CHECK(error == "ZS_CPU_ISA=AVX512: unknown instruction set; use avx2 or avx512, or unset it for the widest");
  CHECK(zs::cpu::widest_supported(avx2_only) == CpuIsa::kAvx2);
  CHECK(zs::cpu::widest_supported(avx512) == CpuIsa::kAvx512);
}

TEST_CASE("the detected features are consistent and the active path is one the CPU has", "[cpu][isa]") {
  const CpuFeatures f = zs::cpu::detect_cpu_features();
  CHECK(f.avx2_fma);  // the library is compiled for x86-64-v3: these tests could not run without it
  if (f.avx512_bf16) CHECK(f.avx512);
  CHECK(zs::cpu::cpu_supports(f, zs::cpu::active_cpu_isa()));
  std::ostringstream ran;
  for (CpuIsa isa : all_paths())
    ran << zs::cpu::cpu_isa_name(isa) << (zs::cpu::cpu_supports(f, isa) ? " runs" : " SKIPPED") << "; ";
  WARN("CPU paths on this machine: " << ran.str() << "active: " << zs::cpu::cpu_isa_summary());
  {
    const zs::cpu::ScopedCpuIsa forced(CpuIsa::kAvx2);
    CHECK(zs::cpu::active_cpu_isa() == CpuIsa::kAvx2);
  }
  if (!f.avx512) CHECK_THROWS_AS(zs::cpu::ScopedCpuIsa(CpuIsa::kAvx512), std::invalid_argument);
}

TEST_CASE("gemm_panels: every CPU path matches a naive product and the AVX2 bits", "[cpu][isa][gemm]") {
  // Shapes that cut the 12 x 32 AVX-512 tile and the 6 x 16 AVX2 tile every way: m from 1 to
  // past two 16-panel blocks (odd and even panel counts), n with 1 or 2 B panels in the last tile
  // and every lane count of the masked edge, k across the 384-term blocks.
  namespace d = zs::cpu::detail;
  std::mt19937 rng(31);
  for (auto [m, n, k] : {std::tuple{1, 1, 1}, {5, 15, 7}, {6, 16, 384}, {12, 32, 385}, {13, 33, 20}, {17, 47, 9},
                         {32, 196, 288}, {64, 49, 577}, {100, 80, 31}, {200, 17, 64}, {7, 100, 3}}) {
    const int64_t ldc = n + 5;
    const Vec a = random_vec(size_t(m) * k, rng), b = random_vec(size_t(k) * n, rng);
    const Vec c0 = random_vec(size_t(m) * ldc, rng);
    // 64-byte aligned panels, as thread_scratch hands them out (the AVX2 kernel loads B aligned).
    Vec ap_store(size_t(d::a_panels_floats(m, k)) + 16), bp_store(size_t(d::b_panels_floats(k, n)) + 16);
    float* ap = aligned64(ap_store);
    float* bp = aligned64(bp_store);
    d::pack_a_panels(ap, m, k, 0, k, a.data(), k, 1);
    for (int kk = 0; kk < k; ++kk) d::put_b_row_run(bp, k, kk, 0, b.data() + int64_t(kk) * n, n);
    d::zero_b_padding(bp, k, n);
    for (bool accumulate : {false, true}) {
      std::ostringstream what;
      what << "m " << m << " n " << n << " k " << k << (accumulate ? " accumulate" : "");
      Vec avx2 = c0;
      {
        const zs::cpu::ScopedCpuIsa forced(CpuIsa::kAvx2);
        d::gemm_panels(m, n, k, ap, bp, avx2.data(), ldc, accumulate);
      }
      for (CpuIsa isa : all_paths()) {
        if (!have_or_skip(isa)) continue;
        Vec c = c0;
        {
          const zs::cpu::ScopedCpuIsa forced(isa);
          d::gemm_panels(m, n, k, ap, bp, c.data(), ldc, accumulate);
        }
        // Naive double reference; |error| <= 2 (k + 1) eps sum|terms| bounds a float sum of k
        // products (+ the accumulated C). Columns n .. ldc must be untouched.
        int64_t bad = 0;
        std::ostringstream first;
        for (int i = 0; i < m; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            const size_t at = size_t(i * ldc + j);
            double want = c0[at], mag = std::fabs(want);
            if (j < n) {
              if (!accumulate) want = 0, mag = 0;
              for (int kk = 0; kk < k; ++kk) {
                const double term = double(a[size_t(i) * k + kk]) * b[size_t(kk) * n + j];
                want += term, mag += std::fabs(term);
              }
            }
            const double tol = j < n ? 2.0 * (k + 1) * kFloatEps * mag + 1e-30 : 0.0;
            if (!(std::fabs(c[at] - want) <= tol) && bad++ < 3)
              first << " [" << i << "," << j << "] got " << c[at] << " want " << want << " tol " << tol << ";";
          }
        const int64_t differs = first_bit_difference(c, avx2);
        INFO(zs::cpu::cpu_isa_name(isa) << " " << what.str() << ": " << bad << " out of tolerance" << first.str()
                                        << "; first bit difference from avx2 at " << differs);
        CHECK(bad == 0);
        CHECK(differs == -1);
      }
    }
  }
}

TEST_CASE("the convolutions give the AVX2 bits on every CPU path", "[cpu][isa][conv]") {
  // The blog's GEMM-path layers (batch 3: chunking with a partial chunk): forward,
  // backward-data and backward-weight, forced onto each path.
  std::mt19937 rng(32);
  for (const zs::ConvGeom& g : {zs::ConvGeom::same(3, 32, 28, 28, 64, 3, 2), zs::ConvGeom::same(3, 64, 14, 14, 128, 3, 2),
                                zs::ConvGeom::same(3, 5, 9, 11, 7, 3, 1)}) {
    const Vec x = random_vec(g.x_size(), rng), w = random_vec(g.w_size(), rng), dy = random_vec(g.y_size(), rng);
    const Vec b = random_vec(size_t(g.k), rng);
    auto run = [&](CpuIsa isa) {
      const zs::cpu::ScopedCpuIsa forced(isa);
      Vec y(g.y_size()), dx(g.x_size()), dw(g.w_size()), db(size_t(g.k));
      zs::cpu::conv2d_forward(g, y.data(), x.data(), w.data(), b.data(), zs::Act::LeakyRelu);
      zs::cpu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), nullptr, zs::Act::None);
      zs::cpu::conv2d_backward_weight(g, dw.data(), db.data(), x.data(), dy.data());
      return std::vector<Vec>{y, dx, dw, db};
    };
    const std::vector<Vec> avx2 = run(CpuIsa::kAvx2);
    for (CpuIsa isa : all_paths()) {
      if (!have_or_skip(isa)) continue;
      const std::vector<Vec> got = run(isa);
      const char* names[] = {"y", "dx", "dw", "db"};
      for (size_t o = 0; o < got.size(); ++o) {
        INFO(zs::cpu::cpu_isa_name(isa) << " " << names[o] << " of conv n " << g.n << " c " << g.c << " k " << g.k);
        CHECK(first_bit_difference(got[o], avx2[o]) == -1);
      }
    }
  }
}

TEST_CASE("the element-wise ops give the AVX2 bits on every CPU path", "[cpu][isa][elementwise]") {
  // Lengths that end mid-vector for both widths (8 and 16 floats), and a parallel-sized one.
  std::mt19937 rng(33);
  for (int64_t count : {int64_t(1), int64_t(15), int64_t(17), int64_t(100), int64_t(40000)}) {
    Vec x = random_vec(size_t(count), rng), dy = random_vec(size_t(count), rng);
    for (auto& v : x) v *= 30.f;  // sigmoid's saturated ranges and the exp's reduction both covered
    // Probabilities for the BCE: some beyond the clamp at each end.
    Vec p = random_vec(size_t(count), rng), t = random_vec(size_t(count), rng);
    for (size_t i = 0; i < p.size(); ++i) p[i] = i % 50 == 0 ? (i % 100 == 0 ? 0.f : 1.f) : 0.5f + 0.5f * p[i];
    for (auto& v : t) v = 0.5f + 0.5f * v;
    const int dim = count % 5 == 0 ? 5 : 1;  // BCE samples of 5 or 1 values
    const int n = int(count / dim);
    auto run = [&](CpuIsa isa) {
      const zs::cpu::ScopedCpuIsa forced(isa);
      std::vector<Vec> out;
      for (zs::Act act : {zs::Act::LeakyRelu, zs::Act::Sigmoid, zs::Act::LeakyReluSigmoid}) {
        Vec y(x.size()), dx(x.size());
        zs::cpu::activation_forward(act, y.data(), x.data(), count);
        zs::cpu::activation_backward(act, dx.data(), dy.data(), y.data(), count);
        out.push_back(y), out.push_back(dx);
      }
      std::mt19937 grad_rng(7);
      Vec param = x, m = dy, v(x.size()), grad = random_vec(x.size(), grad_rng);
      for (size_t i = 0; i < v.size(); ++i) v[i] = std::fabs(dy[i]) * 0.01f;
      for (int64_t step = 1; step <= 3; ++step)
        zs::cpu::adam_step(param.data(), m.data(), v.data(), grad.data(), count, zs::AdamHyper{}, step);
      out.push_back(param), out.push_back(m), out.push_back(v);
      Vec loss(static_cast<size_t>(n)), dpred(x.size());
      zs::cpu::bce_loss(loss.data(), dpred.data(), p.data(), t.data(), n, dim);
      out.push_back(dpred), out.push_back(loss);
      return out;
    };
    const std::vector<Vec> avx2 = run(CpuIsa::kAvx2);
    for (CpuIsa isa : all_paths()) {
      if (!have_or_skip(isa)) continue;
      const std::vector<Vec> got = run(isa);
      const char* names[] = {"leaky y",    "leaky dx", "sigmoid y", "sigmoid dx", "leaky+sigmoid y", "leaky+sigmoid dx",
                             "adam param", "adam m",   "adam v",    "bce dpred",  "bce loss"};
      for (size_t o = 0; o + 1 < got.size(); ++o) {
        INFO(zs::cpu::cpu_isa_name(isa) << " " << names[o] << ", count " << count);
        CHECK(first_bit_difference(got[o], avx2[o]) == -1);
      }
      // The loss: its terms (all <= 0, so |sum| = sum |terms|) may each differ by the few ulp of
      // an FMA contracted differently (elementwise_impl.h), and the double sum runs in another
      // order: with 4 ulp per term and the final rounding to float, |difference| <= 5 eps |loss|.
      const Vec& loss = got.back();
      for (size_t i = 0; i < loss.size(); ++i) {
        INFO(zs::cpu::cpu_isa_name(isa) << " bce loss of sample " << i << ", count " << count);
        CHECK(std::fabs(loss[i] - avx2.back()[i]) <= 5 * kFloatEps * std::fabs(avx2.back()[i]));
      }
    }
  }
}

TEST_CASE("KMeans assignment: every CPU path matches a naive argmin and the AVX2 bits", "[cpu][isa][kmeans]") {
  // 300 points (2 full tiles of 128 and a partial one), d = 37 (no whole 8-float rows), 3 groups
  // of k = 7 (21 centres: a partial B panel on both paths).
  std::mt19937 rng(34);
  const int64_t n = 300;
  const int d = 37, k = 7, groups = 3;
  const Vec x = random_vec(size_t(n) * d, rng), c = random_vec(size_t(groups) * k * d, rng);
  Vec x_sq(static_cast<size_t>(n)), c_sq(static_cast<size_t>(groups) * k);
  zs::cpu::row_sqnorms(x_sq.data(), x.data(), n, d);
  zs::cpu::row_sqnorms(c_sq.data(), c.data(), int64_t(groups) * k, d);
  auto run = [&](CpuIsa isa, std::vector<int32_t>& labels, Vec& dist, Vec& sums) {
    const zs::cpu::ScopedCpuIsa forced(isa);
    std::vector<int64_t> counts(size_t(groups) * k);
    labels.assign(size_t(n) * groups, -1), dist.assign(size_t(n) * groups, -1.f), sums.assign(size_t(groups) * k * d, 0);
    zs::cpu::kmeans_lloyd_pass(labels.data(), dist.data(), sums.data(), counts.data(), x.data(), x_sq.data(), c.data(),
                               c_sq.data(), n, d, k, groups);
  };
  std::vector<int32_t> labels2;
  Vec dist2, sums2;
  run(CpuIsa::kAvx2, labels2, dist2, sums2);
  for (CpuIsa isa : all_paths()) {
    if (!have_or_skip(isa)) continue;
    std::vector<int32_t> labels;
    Vec dist, sums;
    run(isa, labels, dist, sums);
    INFO(zs::cpu::cpu_isa_name(isa));
    CHECK(labels == labels2);
    CHECK(first_bit_difference(dist, dist2) == -1);
    CHECK(first_bit_difference(sums, sums2) == -1);
    // Naive double distances: the chosen centre is within the float error of the expansion
    // (||x||^2 + ||c||^2 + 2 |x.c| magnitudes, d + 3 roundings) of the true nearest one.
    int64_t bad = 0;
    for (int g = 0; g < groups; ++g)
      for (int64_t i = 0; i < n; ++i) {
        double best = 1e300, mag = 0;
        std::vector<double> dd(k);
        for (int j = 0; j < k; ++j) {
          double s = 0, m = 0;
          for (int f = 0; f < d; ++f) {
            const double xv = x[size_t(i * d + f)], cv = c[(size_t(g) * k + j) * d + f];
            s += (xv - cv) * (xv - cv), m += xv * xv + cv * cv + 2 * std::fabs(xv * cv);
          }
          dd[size_t(j)] = s, best = std::min(best, s), mag = std::max(mag, m);
        }
        const double tol = 2.0 * (d + 3) * kFloatEps * mag;
        const int32_t got = labels[size_t(g) * n + size_t(i)];
        if (!(dd[size_t(got)] - best <= tol) || !(std::fabs(dist[size_t(g) * n + size_t(i)] - dd[size_t(got)]) <= tol))
          ++bad;
      }
    CHECK(bad == 0);
  }
}

namespace {

// Runs the convolution GEMMs in `p` while it lives (restores fp32).
struct ScopedPrecision {
  explicit ScopedPrecision(zs::cpu::ConvPrecision p) { zs::cpu::set_conv_precision(p); }
  ~ScopedPrecision() { zs::cpu::set_conv_precision(zs::cpu::ConvPrecision::kFp32); }
};

// The bf16 error bound relative to sum |terms|: each input rounded to bf16 (8 significant bits,
// unit roundoff u = 2^-8) makes a product off by at most (2u + u^2) of its magnitude; the products
// of two bf16 values are exact in fp32, and the fp32 sum of `terms` of them adds the usual
// 2 * terms * eps32 (the bound the fp32 tests use).
double bf16_rtol_of_magnitude(int64_t terms) {
  const double u = std::ldexp(1.0, -8);
  return 2 * u + u * u + 2.0 * double(terms) * kFloatEps;
}

bool have_bf16_or_skip() {
  if (zs::cpu::bf16_available()) return true;
  WARN("SKIPPED: this CPU lacks avx512_bf16 on the active path (" << zs::cpu::cpu_isa_summary() << ")");
  return false;
}

}  // namespace

TEST_CASE("bf16 gemm_panels: within the bf16 rounding bound of a double product", "[cpu][isa][bf16]") {
  namespace d = zs::cpu::detail;
  if (!zs::cpu::bf16_available()) {
    CHECK_THROWS_AS(zs::cpu::set_conv_precision(zs::cpu::ConvPrecision::kBf16), std::invalid_argument);
    have_bf16_or_skip();
    return;
  }
  std::mt19937 rng(33);
  // Odd k (a zero-padded last pair), k across the 192-pair blocks, every edge of the 12 x 32 tile.
  for (auto [m, n, k] : {std::tuple{1, 1, 1}, {5, 15, 7}, {12, 32, 385}, {13, 33, 20}, {32, 196, 288},
                         {64, 49, 577}, {100, 80, 31}, {7, 100, 2}}) {
    const int64_t ldc = n + 5;
    const Vec a = random_vec(size_t(m) * k, rng), b = random_vec(size_t(k) * n, rng);
    const Vec c0 = random_vec(size_t(m) * ldc, rng);
    Vec ap_store(size_t(d::a_panels_floats(m, k)) + 16), bp_store(size_t(d::b_panels_floats(k, n)) + 16);
    float* ap = aligned64(ap_store);
    float* bp = aligned64(bp_store);
    d::pack_a_panels(ap, m, k, 0, k, a.data(), k, 1);
    for (int kk = 0; kk < k; ++kk) d::put_b_row_run(bp, k, kk, 0, b.data() + int64_t(kk) * n, n);
    d::zero_b_padding(bp, k, n);
    for (bool accumulate : {false, true}) {
      Vec c = c0;
      {
        const ScopedPrecision bf16(zs::cpu::ConvPrecision::kBf16);
        d::gemm_panels(m, n, k, ap, bp, c.data(), ldc, accumulate);
      }
      int64_t bad = 0, beyond_fp32 = 0;
      std::ostringstream first;
      for (int i = 0; i < m; ++i)
        for (int64_t j = 0; j < ldc; ++j) {
          const size_t at = size_t(i * ldc + j);
          double want = c0[at], mag = std::fabs(want);
          if (j < n) {
            if (!accumulate) want = 0, mag = 0;
            for (int kk = 0; kk < k; ++kk) {
              const double term = double(a[size_t(i) * k + kk]) * b[size_t(kk) * n + j];
              want += term, mag += std::fabs(term);
            }
          }
          const double err = std::fabs(c[at] - want);
          const double tol = j < n ? bf16_rtol_of_magnitude(k + 1) * mag + 1e-30 : 0.0;
          if (err > 2.0 * (k + 1) * kFloatEps * mag) ++beyond_fp32;
          if (!(err <= tol) && bad++ < 3)
            first << " [" << i << "," << j << "] got " << c[at] << " want " << want << " tol " << tol << ";";
        }
      INFO("bf16 m " << m << " n " << n << " k " << k << (accumulate ? " accumulate" : "") << ": " << bad
                     << " out of tolerance" << first.str());
      CHECK(bad == 0);
      // The inputs really were rounded: some element is off by more than fp32 could be.
      if (int64_t(m) * n * k >= 1000) CHECK(beyond_fp32 > 0);
    }
  }
}

TEST_CASE("bf16 convolutions: within the bf16 rounding bound of the fp32 ones", "[cpu][isa][bf16][conv]") {
  // Reference: the fp32 ops (tested against naive loops in test_cpu_ops); the magnitudes sum|terms|
  // come from the same fp32 ops on |x|, |w|, |dy|.
  if (!have_bf16_or_skip()) return;
  std::mt19937 rng(34);
  auto abs_of = [](Vec v) {
    for (auto& x : v) x = std::fabs(x);
    return v;
  };
  for (const zs::ConvGeom& g : {zs::ConvGeom::same(3, 32, 28, 28, 64, 3, 2), zs::ConvGeom::same(2, 64, 14, 14, 128, 3, 2),
                                zs::ConvGeom::same(2, 5, 9, 11, 7, 3, 1)}) {
    const Vec x = random_vec(g.x_size(), rng), w = random_vec(g.w_size(), rng), dy = random_vec(g.y_size(), rng);
    auto run = [&](const Vec& xs, const Vec& ws, const Vec& dys) {
      Vec y(g.y_size()), dx(g.x_size()), dw(g.w_size());
      zs::cpu::conv2d_forward(g, y.data(), xs.data(), ws.data(), nullptr, zs::Act::None);
      zs::cpu::conv2d_backward_data(g, dx.data(), dys.data(), ws.data(), nullptr, zs::Act::None);
      zs::cpu::conv2d_backward_weight(g, dw.data(), nullptr, xs.data(), dys.data());
      return std::vector<Vec>{y, dx, dw};
    };
    const std::vector<Vec> fp32 = run(x, w, dy), magnitude = run(abs_of(x), abs_of(w), abs_of(dy));
    std::vector<Vec> bf16;
    {
      const ScopedPrecision p(zs::cpu::ConvPrecision::kBf16);
      bf16 = run(x, w, dy);
    }
    const int64_t terms[] = {int64_t(g.c) * g.r * g.s, int64_t(g.k) * g.r * g.s, int64_t(g.n) * g.p * g.q};
    const char* names[] = {"y", "dx", "dw"};
    for (size_t o = 0; o < bf16.size(); ++o) {
      // Both sides carry fp32 rounding: the bound's fp32 part counts twice.
      const double rtol = bf16_rtol_of_magnitude(2 * terms[o]);
      int64_t bad = 0;
      size_t worst = 0;
      double worst_ratio = 0;
      for (size_t i = 0; i < bf16[o].size(); ++i) {
        const double ratio = std::fabs(double(bf16[o][i]) - fp32[o][i]) / (rtol * magnitude[o][i] + 1e-30);
        if (!(ratio <= 1.0)) ++bad;
        if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
      }
      INFO("bf16 " << names[o] << " of conv n " << g.n << " c " << g.c << " k " << g.k << ": " << bad
                   << " out of tolerance, worst index " << worst << " at " << worst_ratio << " of the bound");
      CHECK(bad == 0);
      CHECK(worst_ratio > 0.0);  // bf16 changed the result
    }
  }
}
