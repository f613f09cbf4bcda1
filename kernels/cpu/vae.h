// The VAE's ops on the CPU: reparameterization (forward and backward) and the fused BCE + KL
// loss. The CPU twin of kernels/vae.cuh (same signatures minus the stream and the version) and
// its test oracle. Threading and argument errors as in kernels/cpu/ops.h.
//
// Layout: the encoder's mu and log_var heads are ONE dense layer of width 2*zdim, so they arrive
// as one row-major buffer mu_logvar[n][2*zdim], row i = [mu_i (zdim) | log_var_i (zdim)], and
// their gradient d_mu_logvar has the same layout. z, eps, dz: [n][zdim]. pred, target, dpred:
// [n][dim]. losses: [3][n] = {total, recon, kl} per sample.
//
// log_var is clamped to [kLogVarMin, kLogVarMax] (kernels/shapes.h) wherever it is used; the
// gradient with respect to log_var is 0 where the clamp is active (lv < min or lv > max).
// Float32 throughout; sums over pixels and latent dimensions accumulate in double.
#pragma once
#include <cstdint>

#include "kernels/shapes.h"

namespace zs::cpu {

// z = mu + exp(0.5 * lv) * eps with eps[i][j] ~ N(0, 1) drawn by Philox-4x32-10 keyed by
// (seed, step, element (first_row + i)*zdim + j) (kernels/philox.h); the scale-and-add is one fused
// multiply-add (fma(exp(0.5 lv), eps, mu)), as on every backend. first_row >= 0: the n rows are rows
// [first_row, first_row + n) of a larger batch (a data-parallel rank's slice) and draw that batch's
// noise, so the call equals rows [first_row, first_row + n) of the whole batch's call.
// sample == false: z = mu and eps = 0 (the deterministic encoder used for plots). z and eps are
// overwritten.
void vae_reparam_forward(float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed, int64_t step,
                         bool sample, int64_t first_row);

// ADDS the gradient that flows through z to d_mu_logvar (which already holds the KL part):
//   dmu += dz;   dlv += dz * eps * 0.5 * exp(0.5 * lv)   (nothing where lv is clamped),
// the latter as fma(dz * eps, 0.5 * exp(0.5 lv), dlv).
void vae_reparam_backward(float* d_mu_logvar, const float* dz, const float* eps, const float* mu_logvar, int n,
                          int zdim);

// The fused VAE loss, per sample i:
//   recon_i = sum over the dim pixels of -(t log p + (1 - t) log(1 - p)), p clamped to
//             [1e-7, 1 - 1e-7] (Keras BCE, summed instead of averaged over the pixels)
//   kl_i    = -0.5 * sum_j (1 + lv - mu^2 - exp(lv)) = 0.5 * sum_j (expm1(lv) - lv + mu^2)
//   total_i = recon_i + beta * kl_i, evaluated as float(double(recon_i) + double(beta) * double(kl_i))
//             from the float recon_i and kl_i (exact product: the same bits whether or not a
//             compiler fuses it)
// losses[0*n + i] = total_i, losses[1*n + i] = recon_i, losses[2*n + i] = kl_i.
// The training objective is the batch MEAN of total, so (both OVERWRITTEN; either may be null
// when only the losses are wanted):
//   dpred[i][k]      = (p - t) / (p (1 - p)) * (1 / n)     (0 where p is clamped)
//   d_mu_logvar, mu  = mu * (beta / n)
//   d_mu_logvar, lv  = 0.5 * expm1(lv) * (beta / n)        (0 where lv is clamped)
// beta must be finite and >= 0.
void vae_loss(float* losses, float* dpred, float* d_mu_logvar, const float* pred, const float* target,
              const float* mu_logvar, int n, int dim, int zdim, float beta);

}  // namespace zs::cpu
