// The VAE's CPU ops (kernels/cpu/vae.h) and their generator (kernels/philox.h):
//   Philox-4x32-10 against Random123's known answers; the Box-Muller mapping at its edges;
//   eps statistics (moments, tail probabilities, correlation) with bounds from the CLT; eps keyed
//   by (seed, step, element) and by nothing else; z = mu when not sampling; the KL closed form
//   against a Monte-Carlo estimate of E_q[log q(z) - log p(z)]; the fused loss against the
//   unfused composition (cpu::bce_loss summed, KL by a naive double loop); finite-difference
//   gradients in double for dpred, dmu, dlv and the reparameterization's backward; the clamps.
//
// Statistical bounds are 5 standard errors of the estimate (a false alarm has probability
// ~6e-7, and the draws are fixed, so a pass is reproducible). Float tolerances are multiples of
// u = 2^-24 counted from the roundings of each formula.
#include <catch2/catch.hpp>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/vae.h"
#include "kernels/philox.h"

namespace {

constexpr double kU = 0x1p-24;           // float unit roundoff
constexpr double kStdErrors = 5.0;       // statistical bounds: 5 standard errors
constexpr float kBceEpsilon = 1e-7f;

std::vector<float> random_floats(std::size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// mu_logvar rows [mu | log_var] with mu in [-mu_range, mu_range], log_var in [lv_lo, lv_hi].
std::vector<float> random_mu_logvar(int n, int zdim, uint32_t seed, float mu_range, float lv_lo, float lv_hi) {
  const std::vector<float> mu = random_floats(std::size_t(n) * zdim, seed, -mu_range, mu_range);
  const std::vector<float> lv = random_floats(std::size_t(n) * zdim, seed + 1, lv_lo, lv_hi);
  std::vector<float> out(std::size_t(n) * 2 * zdim);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < zdim; ++j) {
      out[std::size_t(i) * 2 * zdim + j] = mu[std::size_t(i) * zdim + j];
      out[std::size_t(i) * 2 * zdim + zdim + j] = lv[std::size_t(i) * zdim + j];
    }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Fails unless |got[i] - ref[i]| <= tol[i] everywhere; reports the worst index and the first few.
void require_within(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& tol,
                    const std::string& what) {
  REQUIRE(got.size() == ref.size());
  REQUIRE(tol.size() == ref.size());
  std::size_t bad = 0, worst = 0;
  double worst_ratio = 0;
  std::string first;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(double(got[i]) - ref[i]);
    if (std::isfinite(d) && d <= tol[i]) continue;
    const double ratio = std::isfinite(d) ? d / tol[i] : INFINITY;
    if (bad < 4) {
      char line[160];
      std::snprintf(line, sizeof line, " [%zu] got %.9g want %.12g (tol %.3g);", i, double(got[i]), ref[i], tol[i]);
      first += line;
    }
    ++bad;
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  INFO(what << ": " << bad << " of " << got.size() << " outside tolerance; worst index " << worst << " ("
            << worst_ratio << " x tol);" << first);
  CHECK(bad == 0);
}

// ---- double-precision references of the loss and the reparameterization ----

double clamp_lv(double lv) { return std::clamp(lv, double(zs::kLogVarMin), double(zs::kLogVarMax)); }

double bce_exact(double p, double t) {
  const double pc = std::clamp(p, double(kBceEpsilon), double(1.f - kBceEpsilon));
  return -(t * std::log(pc) + (1 - t) * std::log(1 - pc));
}

// kl_i = 0.5 sum_j (exp(lv) - 1 - lv + mu^2), and M_i = 0.5 sum_j (|expm1(lv)| + |lv| + mu^2), the
// magnitude its float evaluation rounds relative to (the terms cancel for lv near 0).
double kl_exact(const float* row, int zdim, double* magnitude = nullptr) {
  double kl = 0, mag = 0;
  for (int j = 0; j < zdim; ++j) {
    const double mu = row[j], lv = clamp_lv(row[zdim + j]);
    kl += std::expm1(lv) - lv + mu * mu;
    mag += std::fabs(std::expm1(lv)) + std::fabs(lv) + mu * mu;
  }
  if (magnitude) *magnitude = 0.5 * mag;
  return 0.5 * kl;
}

// The training objective: mean over the batch of recon_i + beta kl_i.
double objective(const std::vector<double>& pred, const std::vector<float>& target, const std::vector<double>& ml,
                 int n, int dim, int zdim, double beta) {
  double total = 0;
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < dim; ++k) total += bce_exact(pred[std::size_t(i) * dim + k], target[std::size_t(i) * dim + k]);
    for (int j = 0; j < zdim; ++j) {
      const double mu = ml[std::size_t(i) * 2 * zdim + j], lv = clamp_lv(ml[std::size_t(i) * 2 * zdim + zdim + j]);
      total += beta * 0.5 * (std::expm1(lv) - lv + mu * mu);
    }
  }
  return total / n;
}

// Central difference of f at x[k] with step h, and an error bound for it: the truncation error
// is estimated by Richardson (|D(h) - D(h/2)|, three times the error of D(h/2) for a smooth f)
// and the cancellation error by 4 ulp of f over h.
template <class F>
double central_difference(F&& f, std::vector<double>& x, std::size_t k, double h, double& error_bound) {
  const double x0 = x[k];
  auto diff = [&](double step) {
    x[k] = x0 + step;
    const double up = f(x);
    x[k] = x0 - step;
    const double down = f(x);
    x[k] = x0;
    return std::pair{(up - down) / (2 * step), std::max(std::fabs(up), std::fabs(down))};
  };
  const auto [d_h, f_h] = diff(h);
  const auto [d_h2, f_h2] = diff(h / 2);
  error_bound = std::fabs(d_h - d_h2) + 4 * 0x1p-52 * f_h2 / h;
  (void)f_h;
  return d_h2;
}

// Moments of a sample.
struct SampleStats {
  double mean = 0, variance = 0, fourth = 0, within1 = 0, within2 = 0, lag1 = 0, max_abs = 0;
};
SampleStats sample_stats(const std::vector<float>& e) {
  SampleStats s;
  const double n = double(e.size());
  for (float x : e) s.mean += x;
  s.mean /= n;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const double x = e[i], c = x - s.mean;
    s.variance += c * c;
    s.fourth += x * x * x * x;
    s.within1 += std::fabs(x) < 1;
    s.within2 += std::fabs(x) < 2;
    s.max_abs = std::max(s.max_abs, std::fabs(x));
    if (i + 1 < e.size()) s.lag1 += x * double(e[i + 1]);
  }
  s.variance /= n - 1;
  s.fourth /= n;
  s.within1 /= n;
  s.within2 /= n;
  s.lag1 /= n - 1;
  return s;
}

// Standard normal: P(|x| < 1), P(|x| < 2); E x^4 = 3, Var x^4 = 105 - 9; Var of the sample
// variance ~ 2/N; the product of two independent draws has variance 1.
void check_standard_normal(const std::vector<float>& e, const std::string& what) {
  const SampleStats s = sample_stats(e);
  const double n = double(e.size());
  const double p1 = 0.682689492137086, p2 = 0.954499736103642;
  INFO(what << ": N " << n << ", mean " << s.mean << ", variance " << s.variance << ", E x^4 " << s.fourth
            << ", P(|x|<1) " << s.within1 << ", P(|x|<2) " << s.within2 << ", lag-1 correlation " << s.lag1
            << ", max |x| " << s.max_abs);
  CHECK(std::fabs(s.mean) <= kStdErrors / std::sqrt(n));
  CHECK(std::fabs(s.variance - 1) <= kStdErrors * std::sqrt(2 / n));
  CHECK(std::fabs(s.fourth - 3) <= kStdErrors * std::sqrt(96 / n));
  CHECK(std::fabs(s.within1 - p1) <= kStdErrors * std::sqrt(p1 * (1 - p1) / n));
  CHECK(std::fabs(s.within2 - p2) <= kStdErrors * std::sqrt(p2 * (1 - p2) / n));
  CHECK(std::fabs(s.lag1) <= kStdErrors / std::sqrt(n));
  CHECK(s.max_abs <= std::sqrt(-2 * std::log(0x1p-24)) + 1e-5);   // the mapping's bound
}

std::vector<float> draw_eps(int n, int zdim, uint64_t seed, int64_t step) {
  const std::vector<float> ml(std::size_t(n) * 2 * zdim, 0.f);
  std::vector<float> z(std::size_t(n) * zdim), eps(z.size());
  zs::cpu::vae_reparam_forward(z.data(), eps.data(), ml.data(), n, zdim, seed, step, true, 0);
  return eps;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// the generator

TEST_CASE("philox: Philox-4x32-10 reproduces Random123's known answers", "[vae][philox]") {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const zs::PhiloxWords r = zs::philox4x32_10(k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3], k.key[0], k.key[1]);
    for (int w = 0; w < 4; ++w) {
      INFO("counter " << std::hex << k.ctr[0] << " key " << k.key[0] << " word " << w);
      CHECK(r.w[w] == k.out[w]);
    }
  }
  // The VAE's keying: counter {element lo, element hi, step lo, step hi}, key {seed lo, seed hi}.
  const uint64_t seed = 0x299f31d0a4093822ull, element = 0x85a308d3243f6a88ull;
  const int64_t step = 0x0370734413198a2ell;
  const zs::PhiloxWords r = zs::philox_vae_words(seed, step, element);
  CHECK(r.w[0] == 0xd16cfe09u);
  CHECK(r.w[1] == 0x94fdccebu);
  CHECK(r.w[2] == 0x5001e420u);
  CHECK(r.w[3] == 0x24126ea1u);
}

TEST_CASE("philox: the Box-Muller mapping at its edges", "[vae][philox]") {
  // w0 = 0: u1 = 2^-24, the largest radius sqrt(48 ln 2); w1 = 0: x = 2^-23, cos(pi x) rounds to 1.
  const float r_max = std::sqrt(-2.f * std::log(0x1p-24f));
  CHECK(zs::philox_box_muller(0u, 0u) == r_max);
  CHECK(std::fabs(r_max - std::sqrt(48 * std::log(2.0))) < 1e-5);
  // The low 8 bits of w0 and the low 9 of w1 are ignored.
  CHECK(zs::philox_box_muller(0xffu, 0x1ffu) == r_max);
  // w0 all ones: u1 = 1, radius 0 (never log(0), never NaN).
  CHECK(zs::philox_box_muller(0xffffffffu, 0x12345678u) == 0.f);
  // w1 = 2^31: x = 1 + 2^-23, cos(pi x) rounds to -1.
  CHECK(zs::philox_box_muller(0u, 0x80000000u) == -r_max);
  // w1 = 2^30: x = 1/2 + 2^-23, next to the cosine's zero but never on it: -sin(pi 2^-23) r_max.
  const double near_zero = -std::sin(3.14159265358979323846 * 0x1p-23) * r_max;
  CHECK(std::fabs(zs::philox_box_muller(0u, 0x40000000u) - near_zero) <= 4 * kU * std::fabs(near_zero));
  // Symmetric cells: the words of x and of 2 - x give the same draw (up to the rounding of cos).
  const float e_x = zs::philox_box_muller(0x1234u << 8, 0x00abcdeu << 9);
  const float e_mirror = zs::philox_box_muller(0x1234u << 8, (0x7fffffu - 0x00abcdeu) << 9);
  CHECK(std::fabs(e_x - e_mirror) <= 2 * kU * std::fabs(e_x));
  // Every mapped value is finite and nonzero but for u1 = 1.
  for (uint32_t w0 : {0u, 1u, 0xffu, 0x100u, 0x7fffffffu, 0xfffffeffu})   // u1 < 1
    for (uint32_t w1 : {0u, 0x1ffu, 0x3fffffffu, 0x40000000u, 0xbfffffffu, 0xc0000000u, 0xffffffffu}) {
      const float e = zs::philox_box_muller(w0, w1);
      CHECK(std::isfinite(e));
      CHECK(e != 0.f);
    }
}

TEST_CASE("vae eps: standard normal statistics over 100k draws (elements, steps and seeds)", "[vae][philox]") {
  constexpr int kDraws = 100000;
  // Along elements: one call, 25000 x 4 latents.
  check_standard_normal(draw_eps(kDraws / 4, 4, 42, 7), "elements");
  // Along steps and along seeds at a fixed element: the other two keys give fresh draws too.
  std::vector<float> by_step(kDraws), by_seed(kDraws);
  for (int s = 0; s < kDraws; ++s) {
    by_step[std::size_t(s)] = zs::philox_vae_normal(42, s, 3);
    by_seed[std::size_t(s)] = zs::philox_vae_normal(uint64_t(s), 7, 3);
  }
  check_standard_normal(by_step, "steps");
  check_standard_normal(by_seed, "seeds");
}

TEST_CASE("vae eps: keyed by (seed, step, element) and by nothing else", "[vae][philox]") {
  const int n = 5, zdim = 7;
  const uint64_t seed = 1234;
  const int64_t step = 99;
  const std::vector<float> base = draw_eps(n, zdim, seed, step);
  // Repeating gives the same bits; each element is philox_vae_normal of its flat index.
  CHECK(same_bits(draw_eps(n, zdim, seed, step), base));
  for (int e = 0; e < n * zdim; ++e) CHECK(base[std::size_t(e)] == zs::philox_vae_normal(seed, step, uint64_t(e)));
  // The shape does not matter, only the flat element index i*zdim + j.
  CHECK(same_bits(draw_eps(7, 5, seed, step), base));
  // Changing any key (including its high 32 bits) changes every draw.
  auto all_differ = [&](const std::vector<float>& other) {
    for (std::size_t e = 0; e < base.size(); ++e)
      if (other[e] == base[e]) return false;
    return true;
  };
  CHECK(all_differ(draw_eps(n, zdim, seed + 1, step)));
  CHECK(all_differ(draw_eps(n, zdim, seed + (uint64_t(1) << 32), step)));
  CHECK(all_differ(draw_eps(n, zdim, seed, step + 1)));
  CHECK(all_differ(draw_eps(n, zdim, seed, step + (int64_t(1) << 32))));
  CHECK(all_differ(draw_eps(n, zdim, seed, -step)));
  // Neighbouring elements differ; so do elements 2^32 apart (the counter's high word).
  for (std::size_t e = 0; e + 1 < base.size(); ++e) CHECK(base[e] != base[e + 1]);
  CHECK(zs::philox_vae_normal(seed, step, 3) != zs::philox_vae_normal(seed, step, 3 + (uint64_t(1) << 32)));
}

// ---------------------------------------------------------------------------------------------
// reparameterization

TEST_CASE("vae reparam: z = mu + exp(0.5 lv) eps, clamped lv; z = mu and eps = 0 when not sampling",
          "[vae][reparam]") {
  const int n = 3, zdim = 6;
  std::vector<float> ml = random_mu_logvar(n, zdim, 5, 3.f, -4.f, 4.f);
  // Clamp edges in row 1: far below, far above, exactly at each bound.
  const float edges[] = {-100.f, 100.f, zs::kLogVarMin, zs::kLogVarMax, -31.f, 21.f};
  for (int j = 0; j < zdim; ++j) ml[std::size_t(1) * 2 * zdim + zdim + j] = edges[j];
  std::vector<float> z(std::size_t(n) * zdim, NAN), eps(z.size(), NAN);
  zs::cpu::vae_reparam_forward(z.data(), eps.data(), ml.data(), n, zdim, 77, 5, true, 0);
  std::vector<double> ref(z.size()), tol(z.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < zdim; ++j) {
      const std::size_t e = std::size_t(i) * zdim + j;
      CHECK(eps[e] == zs::philox_vae_normal(77, 5, e));
      const double mu = ml[std::size_t(i) * 2 * zdim + j], lv = clamp_lv(ml[std::size_t(i) * 2 * zdim + zdim + j]);
      const double scaled = std::exp(0.5 * lv) * eps[e];
      ref[e] = mu + scaled;
      // float exp of a float 0.5 lv (a few ulp: 4u) then one fused multiply-add (1u).
      tol[e] = 4 * kU * std::fabs(scaled) + kU * (std::fabs(mu) + std::fabs(scaled));
    }
  require_within(z, ref, tol, "z");

  std::vector<float> z0(z.size(), NAN), eps0(z.size(), NAN);
  zs::cpu::vae_reparam_forward(z0.data(), eps0.data(), ml.data(), n, zdim, 77, 5, false, 0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < zdim; ++j) {
      CHECK(z0[std::size_t(i) * zdim + j] == ml[std::size_t(i) * 2 * zdim + j]);
      CHECK(eps0[std::size_t(i) * zdim + j] == 0.f);
    }
}

TEST_CASE("vae reparam backward: adds dz to dmu and dz eps 0.5 exp(0.5 lv) to dlv (finite differences)",
          "[vae][reparam][gradient]") {
  const int n = 3, zdim = 5;
  std::vector<float> ml = random_mu_logvar(n, zdim, 11, 2.f, -3.f, 3.f);
  ml[std::size_t(2) * 2 * zdim + zdim + 1] = 40.f;    // clamped above: no gradient to lv
  ml[std::size_t(0) * 2 * zdim + zdim + 3] = -45.f;   // clamped below
  std::vector<float> z(std::size_t(n) * zdim), eps(z.size());
  zs::cpu::vae_reparam_forward(z.data(), eps.data(), ml.data(), n, zdim, 3, 1, true, 0);
  const std::vector<float> dz = random_floats(z.size(), 12, -1.f, 1.f);

  // J(mu_logvar) = sum dz * z(mu_logvar), eps held fixed; its gradient is what backward adds.
  auto J = [&](const std::vector<double>& x) {
    double total = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < zdim; ++j) {
        const std::size_t e = std::size_t(i) * zdim + j;
        const double mu = x[std::size_t(i) * 2 * zdim + j], lv = clamp_lv(x[std::size_t(i) * 2 * zdim + zdim + j]);
        total += dz[e] * (mu + std::exp(0.5 * lv) * eps[e]);
      }
    return total;
  };
  std::vector<float> grad(ml.size(), 0.f);
  zs::cpu::vae_reparam_backward(grad.data(), dz.data(), eps.data(), ml.data(), n, zdim);
  std::vector<double> x(ml.begin(), ml.end()), ref(ml.size()), tol(ml.size());
  for (std::size_t k = 0; k < x.size(); ++k) {
    double fd_error = 0;
    ref[k] = central_difference(J, x, k, 1e-3, fd_error);
    // The float gradient: product dz eps (1u), exp (4u), fma (1u): 6u of its value.
    tol[k] = fd_error + 6 * kU * std::fabs(ref[k]) + 1e-12;
  }
  require_within(grad, ref, tol, "reparam backward vs finite differences");
  CHECK(grad[std::size_t(2) * 2 * zdim + zdim + 1] == 0.f);
  CHECK(grad[std::size_t(0) * 2 * zdim + zdim + 3] == 0.f);

  // It accumulates: starting from d0 it gives d0 + the gradient (one more rounding).
  const std::vector<float> d0 = random_floats(ml.size(), 13, -1.f, 1.f);
  std::vector<float> acc = d0;
  zs::cpu::vae_reparam_backward(acc.data(), dz.data(), eps.data(), ml.data(), n, zdim);
  std::vector<double> sum(ml.size()), sum_tol(ml.size());
  for (std::size_t k = 0; k < ml.size(); ++k) {
    sum[k] = double(d0[k]) + grad[k];
    sum_tol[k] = 2 * kU * (std::fabs(d0[k]) + std::fabs(grad[k]));
  }
  require_within(acc, sum, sum_tol, "reparam backward accumulates");
}

// ---------------------------------------------------------------------------------------------
// the loss

TEST_CASE("vae loss: the KL closed form equals a Monte-Carlo estimate of E_q[log q(z) - log p(z)]", "[vae][kl]") {
  // q = N(mu, diag(exp(lv))), p = N(0, I). Per draw, with z from the reparameterization op:
  //   log q(z) - log p(z) = sum_j (-0.5 lv_j - 0.5 (z_j - mu_j)^2 / exp(lv_j) + 0.5 z_j^2).
  const int zdim = 3, draws = 200000;
  const float row[2 * zdim] = {0.5f, -1.2f, 0.f, -0.5f, 0.8f, 0.f};   // [mu | log_var]
  std::vector<float> ml(std::size_t(draws) * 2 * zdim);
  for (int i = 0; i < draws; ++i) std::copy(row, row + 2 * zdim, ml.begin() + std::ptrdiff_t(i) * 2 * zdim);
  std::vector<float> z(std::size_t(draws) * zdim), eps(z.size());
  zs::cpu::vae_reparam_forward(z.data(), eps.data(), ml.data(), draws, zdim, 2024, 0, true, 0);
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < draws; ++i) {
    double log_ratio = 0;
    for (int j = 0; j < zdim; ++j) {
      const double zj = z[std::size_t(i) * zdim + j], mu = row[j], lv = row[zdim + j];
      log_ratio += -0.5 * lv - 0.5 * (zj - mu) * (zj - mu) / std::exp(lv) + 0.5 * zj * zj;
    }
    sum += log_ratio;
    sum_sq += log_ratio * log_ratio;
  }
  const double mean = sum / draws, std_dev = std::sqrt((sum_sq - draws * mean * mean) / (draws - 1));
  const double bound = kStdErrors * std_dev / std::sqrt(double(draws));

  // The op's KL for one such row.
  const std::vector<float> pred(4, 0.5f), target(4, 0.5f);
  std::vector<float> losses(3);
  zs::cpu::vae_loss(losses.data(), nullptr, nullptr, pred.data(), target.data(), row, 1, 4, zdim, 1.f);
  INFO("closed form " << losses[2] << ", Monte-Carlo " << mean << " +- " << bound << " (5 standard errors)");
  CHECK(std::fabs(double(losses[2]) - mean) <= bound);
  double magnitude = 0;
  const double kl = kl_exact(row, zdim, &magnitude);
  CHECK(std::fabs(double(losses[2]) - kl) <= 4 * kU * magnitude);
}

TEST_CASE("vae loss: the fused op equals the unfused composition (BCE summed, KL by a naive loop)", "[vae][loss]") {
  struct Case {
    int n, dim, zdim;
    float beta;
  };
  for (const Case c : {Case{1, 1, 1, 1.f}, Case{3, 784, 2, 1.f}, Case{3, 784, 16, 0.5f}, Case{2, 37, 300, 2.f},
                       Case{40, 784, 16, 1.f}}) {
    INFO("n " << c.n << " dim " << c.dim << " zdim " << c.zdim << " beta " << c.beta);
    const uint32_t seed = uint32_t(c.n * 1000 + c.zdim);
    std::vector<float> pred = random_floats(std::size_t(c.n) * c.dim, seed, 0.f, 1.f);
    std::vector<float> target = random_floats(pred.size(), seed + 1, 0.f, 1.f);
    const float specials[] = {0.f, 1.f, 1e-8f, 1e-7f, 1.f - 1e-8f, 0.9999999f};
    for (std::size_t k = 0; k < pred.size(); k += 5) pred[k] = specials[(k / 5) % 6];
    for (std::size_t k = 2; k < target.size(); k += 7) target[k] = float((k / 7) % 2);
    std::vector<float> ml = random_mu_logvar(c.n, c.zdim, seed + 2, 3.f, -5.f, 5.f);
    ml[std::size_t(c.zdim)] = 60.f;   // clamped log_var in sample 0

    std::vector<float> losses(std::size_t(3) * c.n, NAN), dpred(pred.size(), NAN), dml(ml.size(), NAN);
    zs::cpu::vae_loss(losses.data(), dpred.data(), dml.data(), pred.data(), target.data(), ml.data(), c.n, c.dim,
                      c.zdim, c.beta);

    // Unfused: the BCE op (mean over pixels; gradient / (n dim)) times dim.
    std::vector<float> bce(std::size_t(c.n)), bce_grad(pred.size());
    zs::cpu::bce_loss(bce.data(), bce_grad.data(), pred.data(), target.data(), c.n, c.dim);
    std::vector<double> recon_ref(std::size_t(c.n)), recon_tol(std::size_t(c.n));
    std::vector<double> recon_exact(std::size_t(c.n)), recon_exact_tol(std::size_t(c.n));
    std::vector<double> kl_ref(std::size_t(c.n)), kl_tol(std::size_t(c.n));
    std::vector<double> total_ref(std::size_t(c.n)), total_tol(std::size_t(c.n));
    for (int i = 0; i < c.n; ++i) {
      // bce_loss's float terms (3 roundings) and its / dim and float (2), and ours (2): 8u.
      recon_ref[std::size_t(i)] = double(bce[std::size_t(i)]) * c.dim;
      recon_tol[std::size_t(i)] = 8 * kU * recon_ref[std::size_t(i)];
      // Against double logs: the twin's few-ulp log (8u) and a few roundings: 12u (terms >= 0).
      double r = 0;
      for (int k = 0; k < c.dim; ++k)
        r += bce_exact(pred[std::size_t(i) * c.dim + k], target[std::size_t(i) * c.dim + k]);
      recon_exact[std::size_t(i)] = r;
      recon_exact_tol[std::size_t(i)] = 12 * kU * r;
      double mag = 0;
      kl_ref[std::size_t(i)] = kl_exact(&ml[std::size_t(i) * 2 * c.zdim], c.zdim, &mag);
      // expm1f (1 ulp: 2u) per term, the double sum, the float result (1u): 4u of the magnitude.
      kl_tol[std::size_t(i)] = 4 * kU * std::max(mag, kl_ref[std::size_t(i)]);
      // total = float(recon + beta kl), from the float recon and kl: one more rounding.
      total_ref[std::size_t(i)] = double(losses[std::size_t(c.n) + i]) + double(c.beta) * losses[2 * std::size_t(c.n) + i];
      total_tol[std::size_t(i)] = kU * total_ref[std::size_t(i)];
    }
    const std::vector<float> recon(losses.begin() + c.n, losses.begin() + 2 * c.n);
    const std::vector<float> kl(losses.begin() + 2 * c.n, losses.end()), total(losses.begin(), losses.begin() + c.n);
    require_within(recon, recon_ref, recon_tol, "recon vs bce_loss * dim");
    require_within(recon, recon_exact, recon_exact_tol, "recon vs a double loop");
    require_within(kl, kl_ref, kl_tol, "kl vs a double loop");
    require_within(total, total_ref, total_tol, "total = recon + beta kl");

    // dpred: bce_loss's gradient times dim (both scale the same float quotient once: 2u each).
    std::vector<double> dpred_ref(pred.size()), dpred_tol(pred.size());
    for (std::size_t k = 0; k < pred.size(); ++k) {
      dpred_ref[k] = double(bce_grad[k]) * c.dim;
      dpred_tol[k] = 4 * kU * std::fabs(dpred_ref[k]);
    }
    require_within(dpred, dpred_ref, dpred_tol, "dpred vs bce_loss's gradient * dim");

    // d_mu_logvar: beta / n times (mu, 0.5 expm1(lv)), zero where lv is clamped.
    std::vector<double> dml_ref(ml.size()), dml_tol(ml.size());
    for (int i = 0; i < c.n; ++i)
      for (int j = 0; j < c.zdim; ++j) {
        const std::size_t mu_at = std::size_t(i) * 2 * c.zdim + j, lv_at = mu_at + c.zdim;
        const double lv = ml[lv_at];
        const bool clamped = lv < zs::kLogVarMin || lv > zs::kLogVarMax;
        dml_ref[mu_at] = double(c.beta) / c.n * ml[mu_at];
        dml_ref[lv_at] = clamped ? 0.0 : double(c.beta) / c.n * 0.5 * std::expm1(lv);
        dml_tol[mu_at] = 2 * kU * std::fabs(dml_ref[mu_at]);
        dml_tol[lv_at] = 5 * kU * std::fabs(dml_ref[lv_at]);
      }
    require_within(dml, dml_ref, dml_tol, "d_mu_logvar");
    CHECK(dml[std::size_t(c.zdim)] == 0.f);

    // Null gradients: the same losses, nothing else touched.
    std::vector<float> losses_only(losses.size(), NAN);
    zs::cpu::vae_loss(losses_only.data(), nullptr, nullptr, pred.data(), target.data(), ml.data(), c.n, c.dim, c.zdim,
                      c.beta);
    CHECK(same_bits(losses_only, losses));
  }
}

TEST_CASE("vae loss: gradients of the batch-mean objective match finite differences in double",
          "[vae][loss][gradient]") {
  const int n = 3, dim = 11, zdim = 4;
  const double beta = 0.7;
  // Predictions away from the clamp (its kink would break the difference quotient).
  const std::vector<float> pred = random_floats(std::size_t(n) * dim, 21, 0.05f, 0.95f);
  std::vector<float> target = random_floats(pred.size(), 22, 0.f, 1.f);
  target[0] = 0.f;
  target[1] = 1.f;
  const std::vector<float> ml = random_mu_logvar(n, zdim, 23, 2.f, -2.f, 2.f);
  std::vector<float> losses(std::size_t(3) * n), dpred(pred.size()), dml(ml.size());
  zs::cpu::vae_loss(losses.data(), dpred.data(), dml.data(), pred.data(), target.data(), ml.data(), n, dim, zdim,
                    float(beta));

  const std::vector<double> ml_d(ml.begin(), ml.end());
  std::vector<double> pred_d(pred.begin(), pred.end());
  auto by_pred = [&](const std::vector<double>& p) { return objective(p, target, ml_d, n, dim, zdim, beta); };
  std::vector<double> ref(pred.size()), tol(pred.size());
  for (std::size_t k = 0; k < pred.size(); ++k) {
    double fd_error = 0;
    ref[k] = central_difference(by_pred, pred_d, k, 1e-4, fd_error);
    // (p - t) / (p (1 - p)) / n in float: 5 roundings.
    tol[k] = fd_error + 5 * kU * std::fabs(ref[k]) + 1e-12;
  }
  require_within(dpred, ref, tol, "dpred vs finite differences");

  std::vector<double> x = ml_d;
  auto by_latent = [&](const std::vector<double>& m) { return objective(pred_d, target, m, n, dim, zdim, beta); };
  std::vector<double> ref_l(ml.size()), tol_l(ml.size());
  for (std::size_t k = 0; k < ml.size(); ++k) {
    double fd_error = 0;
    ref_l[k] = central_difference(by_latent, x, k, 1e-3, fd_error);
    // mu * (beta / n): 2 roundings; 0.5 expm1(lv) (beta / n): 4.
    tol_l[k] = fd_error + 5 * kU * std::fabs(ref_l[k]) + 1e-12;
  }
  require_within(dml, ref_l, tol_l, "d(mu, log_var) vs finite differences");
}

TEST_CASE("vae loss: clamps of p and log_var, beta 0, argument checks", "[vae][loss]") {
  const int dim = 6, zdim = 3;
  // p at and beyond both BCE clamp bounds, with targets 0 and 1.
  const std::vector<float> pred = {0.f, 1.f, 1e-9f, 1.f - 1e-9f, 1e-7f, 0.5f};
  const std::vector<float> target = {1.f, 0.f, 0.f, 1.f, 1.f, 0.5f};
  // log_var beyond both bounds and inside.
  const std::vector<float> ml = {0.5f, -1.f, 2.f, 50.f, -50.f, 0.25f};
  std::vector<float> losses(3), dpred(dim, NAN), dml(ml.size(), NAN);
  zs::cpu::vae_loss(losses.data(), dpred.data(), dml.data(), pred.data(), target.data(), ml.data(), 1, dim, zdim, 1.f);
  const double log_eps = std::log(double(kBceEpsilon));
  // p = 0 with t = 1 and p = 1 with t = 0 cost -log(1e-7) each (clamped), p = 1e-9 with t = 0 and
  // p = 1 - 1e-9 with t = 1 cost ~-log(1 - 1e-7); p = 1e-7 is at the bound (not clamped).
  const double recon = bce_exact(0, 1) + bce_exact(1, 0) + bce_exact(1e-9, 0) + bce_exact(1 - 1e-9, 1) +
                       bce_exact(1e-7f, 1) + bce_exact(0.5, 0.5);
  CHECK(std::fabs(bce_exact(0, 1) + log_eps) < 1e-6);
  CHECK(std::fabs(losses[1] - recon) <= 12 * kU * recon);
  for (int k = 0; k < 4; ++k) CHECK(dpred[std::size_t(k)] == 0.f);   // clamped: no gradient
  CHECK(dpred[4] != 0.f);                                             // at the bound: a gradient
  CHECK(dpred[5] == 0.f);                                             // p = t
  const double kl = 0.5 * ((std::expm1(20.0) - 20 + 0.25) + (std::expm1(-30.0) + 30 + 1) + (std::expm1(0.25) - 0.25 + 4));
  CHECK(std::fabs(losses[2] - kl) <= 4 * kU * kl);
  CHECK(dml[3] == 0.f);   // lv = 50 clamped
  CHECK(dml[4] == 0.f);   // lv = -50 clamped
  CHECK(dml[0] == 0.5f);  // mu * beta / n
  const double dlv_ref = 0.5 * std::expm1(0.25);   // expm1f (2u) and two exact-or-rounded products
  CHECK(std::fabs(dml[5] - dlv_ref) <= 4 * kU * dlv_ref);

  // beta = 0: total = recon, no gradient to the latents.
  std::vector<float> losses0(3), dml0(ml.size(), NAN);
  zs::cpu::vae_loss(losses0.data(), nullptr, dml0.data(), pred.data(), target.data(), ml.data(), 1, dim, zdim, 0.f);
  CHECK(losses0[0] == losses0[1]);
  for (float g : dml0) CHECK(g == 0.f);

  float* no = nullptr;
  CHECK_THROWS_AS(zs::cpu::vae_loss(losses.data(), nullptr, nullptr, pred.data(), target.data(), ml.data(), 0, dim,
                                    zdim, 1.f),
                  std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::vae_loss(losses.data(), nullptr, nullptr, pred.data(), target.data(), ml.data(), 1, dim,
                                    zdim, -1.f),
                  std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::vae_loss(losses.data(), nullptr, nullptr, pred.data(), target.data(), ml.data(), 1, dim,
                                    zdim, NAN),
                  std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::vae_loss(losses.data(), nullptr, nullptr, no, target.data(), ml.data(), 1, dim, zdim, 1.f),
                  std::invalid_argument);
  std::vector<float> z(3), eps(3);
  CHECK_THROWS_AS(zs::cpu::vae_reparam_forward(z.data(), eps.data(), ml.data(), 1, 0, 1, 1, true, 0),
                  std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::vae_reparam_forward(z.data(), no, ml.data(), 1, zdim, 1, 1, true, 0), std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::vae_reparam_forward(z.data(), eps.data(), ml.data(), 1, zdim, 1, 1, true, -1),
                  std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::vae_reparam_backward(dml.data(), no, eps.data(), ml.data(), 1, zdim),
                  std::invalid_argument);
}

TEST_CASE("vae ops: results do not depend on the OpenMP thread count", "[vae]") {
  const int n = 64, dim = 784, zdim = 300;   // above the parallel thresholds
  const std::vector<float> pred = random_floats(std::size_t(n) * dim, 31, 0.f, 1.f);
  const std::vector<float> target = random_floats(pred.size(), 32, 0.f, 1.f);
  const std::vector<float> ml = random_mu_logvar(n, zdim, 33, 2.f, -3.f, 3.f);
  auto run = [&](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    std::vector<float> losses(std::size_t(3) * n), dpred(pred.size()), dml(ml.size()), z(std::size_t(n) * zdim),
        eps(z.size());
    zs::cpu::vae_loss(losses.data(), dpred.data(), dml.data(), pred.data(), target.data(), ml.data(), n, dim, zdim, 1.f);
    zs::cpu::vae_reparam_forward(z.data(), eps.data(), ml.data(), n, zdim, 5, 6, true, 0);
    zs::cpu::vae_reparam_backward(dml.data(), z.data(), eps.data(), ml.data(), n, zdim);
    omp_set_num_threads(saved);
    return std::vector<std::vector<float>>{losses, dpred, dml, z, eps};
  };
  const auto one = run(1), several = run(4);
  for (std::size_t o = 0; o < one.size(); ++o) {
    INFO("output " << o);
    CHECK(same_bits(one[o], several[o]));
  }
}
