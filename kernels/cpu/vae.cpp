// The VAE's ops on the CPU (API and semantics: vae.h).
// Samples are split over OpenMP threads; each sample's sums run in a fixed order and accumulate in
// double, so the results do not depend on the thread count. Every per-element formula is plain
// float arithmetic (or an exact product in double) with the multiply-adds the header names written
// as explicit fma calls, so a compiler's FMA contraction cannot change the bits: the emulator's
// build of kernels/vae.cu, calling the same libm, reproduces eps, z and every gradient exactly.
// The BCE logs are the vectorizable log_positive of simd_math_impl.h (a few ulp from logf).
#include "kernels/cpu/vae.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/simd_math_impl.h"
#include "kernels/philox.h"

namespace zs::cpu {

using namespace detail;

namespace {

constexpr float kBceEpsilon = 1e-7f;   // Keras backend.epsilon()
constexpr int64_t kParallelMinElements = 1 << 14;

void check_latent_args(const char* op, int n, int zdim) {
  require(n >= 1 && zdim >= 1, op, "n and zdim must be >= 1");
}

bool log_var_clamped(float lv) { return lv < kLogVarMin || lv > kLogVarMax; }
float clamp_log_var(float lv) { return std::clamp(lv, kLogVarMin, kLogVarMax); }

}  // namespace

void vae_reparam_forward(float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed, int64_t step,
                         bool sample, int64_t first_row) {
  check_latent_args("vae_reparam_forward", n, zdim);
  require(z && eps && mu_logvar, "vae_reparam_forward", "z, eps and mu_logvar must not be null");
  require(first_row >= 0, "vae_reparam_forward", "first_row must be >= 0");
#pragma omp parallel for schedule(static) if (int64_t(n) * zdim >= kParallelMinElements)
  for (int i = 0; i < n; ++i) {
    const float* mu = mu_logvar + int64_t(i) * 2 * zdim;
    const float* lv = mu + zdim;
    float* zi = z + int64_t(i) * zdim;
    float* ei = eps + int64_t(i) * zdim;
    for (int j = 0; j < zdim; ++j) {
      if (!sample) {
        ei[j] = 0.f;
        zi[j] = mu[j];
        continue;
      }
      const float e = philox_vae_normal(seed, step, uint64_t(first_row + i) * uint64_t(zdim) + uint64_t(j));
      ei[j] = e;
      zi[j] = std::fma(std::exp(0.5f * clamp_log_var(lv[j])), e, mu[j]);
    }
  }
}

void vae_reparam_backward(float* d_mu_logvar, const float* dz, const float* eps, const float* mu_logvar, int n,
                          int zdim) {
  check_latent_args("vae_reparam_backward", n, zdim);
  require(d_mu_logvar && dz && eps && mu_logvar, "vae_reparam_backward",
          "d_mu_logvar, dz, eps and mu_logvar must not be null");
#pragma omp parallel for schedule(static) if (int64_t(n) * zdim >= kParallelMinElements)
  for (int i = 0; i < n; ++i) {
    const float* lv = mu_logvar + int64_t(i) * 2 * zdim + zdim;
    float* dmu = d_mu_logvar + int64_t(i) * 2 * zdim;
    float* dlv = dmu + zdim;
    const float* dzi = dz + int64_t(i) * zdim;
    const float* ei = eps + int64_t(i) * zdim;
    for (int j = 0; j < zdim; ++j) {
      dmu[j] += dzi[j];
      if (log_var_clamped(lv[j])) continue;
      const float half_sigma = 0.5f * std::exp(0.5f * lv[j]);
      dlv[j] = std::fma(dzi[j] * ei[j], half_sigma, dlv[j]);
    }
  }
}

void vae_loss(float* losses, float* dpred, float* d_mu_logvar, const float* pred, const float* target,
              const float* mu_logvar, int n, int dim, int zdim, float beta) {
  require(n >= 1 && dim >= 1 && zdim >= 1, "vae_loss", "n, dim and zdim must be >= 1");
  require(losses && pred && target && mu_logvar, "vae_loss", "losses, pred, target and mu_logvar must not be null");
  if (!(std::isfinite(beta) && beta >= 0.f))
    fail_argument("vae_loss", "beta must be finite and >= 0 (got " + std::to_string(beta) + ")");
  const float lo = kBceEpsilon, hi = 1.f - kBceEpsilon;
  const float pred_scale = 1.f / float(n);
  const float latent_scale = beta / float(n);
#pragma omp parallel for schedule(static) if (int64_t(n) * dim >= kParallelMinElements)
  for (int i = 0; i < n; ++i) {
    const float* p = pred + int64_t(i) * dim;
    const float* t = target + int64_t(i) * dim;
    double recon = 0.0;
#pragma omp simd reduction(+ : recon)
    for (int k = 0; k < dim; ++k) {
      const float pc = std::clamp(p[k], lo, hi);
      recon -= double(t[k]) * double(log_positive(pc)) + double(1.f - t[k]) * double(log_positive(1.f - pc));
    }
    if (dpred) {
      float* d = dpred + int64_t(i) * dim;
#pragma omp simd
      for (int k = 0; k < dim; ++k) {
        const float pc = std::clamp(p[k], lo, hi);
        const bool clamped = p[k] < lo || p[k] > hi;
        d[k] = clamped ? 0.f : (pc - t[k]) / (pc * (1.f - pc)) * pred_scale;
      }
    }

    const float* mu = mu_logvar + int64_t(i) * 2 * zdim;
    const float* lv = mu + zdim;
    double kl_sum = 0.0;
    for (int j = 0; j < zdim; ++j) {
      const float lvc = clamp_log_var(lv[j]);
      const float em1 = std::expm1(lvc);
      kl_sum += double(em1) - double(lvc) + double(mu[j]) * double(mu[j]);
      if (d_mu_logvar) {
        float* dmu = d_mu_logvar + int64_t(i) * 2 * zdim;
        dmu[j] = mu[j] * latent_scale;
        dmu[zdim + j] = log_var_clamped(lv[j]) ? 0.f : 0.5f * em1 * latent_scale;
      }
    }
    const float recon_f = float(recon), kl_f = float(0.5 * kl_sum);
    losses[i] = float(double(recon_f) + double(beta) * double(kl_f));
    losses[n + i] = recon_f;
    losses[2 * int64_t(n) + i] = kl_f;
  }
}

}  // namespace zs::cpu
