// The VAE's ops on the device: reparameterization forward and backward, and the fused BCE + KL
// loss. Semantics, layouts and formulas are the CPU twin's (kernels/cpu/vae.h), in short:
//   mu_logvar, d_mu_logvar: [n][2*zdim], row i = [mu_i | log_var_i]; z, eps, dz: [n][zdim];
//   pred, target, dpred: [n][dim]; losses: [3][n] = {total, recon, kl}.
//   log_var is clamped to [kLogVarMin, kLogVarMax] wherever it is used (zero gradient there).
//   vae_reparam_forward   z = fma(exp(0.5 lv), eps, mu), eps by Philox-4x32-10 keyed by
//                         (seed, step, (first_row + i)*zdim + j) (kernels/philox.h): the n rows
//                         are rows [first_row, first_row + n) of a larger batch (first_row >= 0);
//                         sample == false: z = mu, eps = 0. z and eps are overwritten.
//   vae_reparam_backward  ADDS: dmu += dz; dlv += dz eps 0.5 exp(0.5 lv).
//   vae_loss              per sample recon (BCE summed over dim), kl, total = recon + beta kl;
//                         dpred and d_mu_logvar are OVERWRITTEN with the gradients of the batch
//                         mean of total (either may be null: losses only).
// Differences from the twin: device expf / expm1f / logf / cosf are not glibc's (a few ulp), and
// the per-sample sums are added in another (fixed) order; the raw Philox words are identical.
// The emulator build calls glibc like the twin, so there eps, z and every gradient are the twin's
// exact bits, and the losses differ only by the order of the double sums and the twin's log.
// Every kernel is deterministic: same bits on every run and in every emulator thread order.
// Launches are asynchronous on `stream`; bad arguments throw std::invalid_argument, launch
// errors std::runtime_error.
#pragma once
#include <cstdint>

#include "kernels/common.cuh"
#include "kernels/shapes.h"

namespace zs::ZS_KNS {

// Kernel versions of vae_loss (see vae.cu): 1 = the unfused composition (four kernels: BCE sum,
// BCE gradient, KL + total, KL gradient; pred and target read twice), 2 = fused, one block per
// sample, one pass over the data (shipped). The reparameterization kernels have one version each.
inline constexpr int kVaeLossKernelVersions = 2;
inline constexpr int kVaeLossShippedVersion = 2;

void vae_reparam_forward(float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed, int64_t step,
                         bool sample, int64_t first_row, cudaStream_t stream);

// The same, with the step READ FROM DEVICE MEMORY (one int64_t) when the kernel runs, so a CUDA
// graph captured once draws fresh eps at every replay once the step there advances (the runtime
// keeps that counter, e.g. with adam_advance_step).
void vae_reparam_forward_device(float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed,
                                const int64_t* step_on_device, bool sample, int64_t first_row,
                                cudaStream_t stream);

void vae_reparam_backward(float* d_mu_logvar, const float* dz, const float* eps, const float* mu_logvar, int n,
                          int zdim, cudaStream_t stream);

void vae_loss(float* losses, float* dpred, float* d_mu_logvar, const float* pred, const float* target,
              const float* mu_logvar, int n, int dim, int zdim, float beta, cudaStream_t stream,
              int version = kVaeLossShippedVersion);

// The raw generator on the device, for tests: words[4*e + w] = word w of Philox-4x32-10 for
// (seed, step, element e), e in [0, count). Overwritten.
void vae_philox_words(uint32_t* words, int64_t count, uint64_t seed, int64_t step, cudaStream_t stream);

}  // namespace zs::ZS_KNS
