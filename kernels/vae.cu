// The VAE's ops on the device (API and semantics: vae.cuh; formulas: kernels/cpu/vae.h).
//
// Kernel versions (public entries take `version` where there is more than one):
//   vae_reparam_forward_kernel1   one thread per latent element: Philox, Box-Muller, fma. The
//                                 step comes from the argument or from device memory; the
//                                 Philox element is offset by the call's first row.
//   vae_reparam_backward_kernel1  one thread per latent element, adds into d_mu_logvar.
//   vae_loss version 1            the unfused composition, four launches:
//     vae_loss_kernel1_recon        one block per sample sums the BCE terms (reads pred, target)
//     vae_loss_kernel1_dpred        one thread per pixel writes dpred (reads pred, target AGAIN)
//     vae_loss_kernel1_kl           one thread per sample: kl, and total from the stored recon
//     vae_loss_kernel1_dlatent      one thread per latent element writes d_mu_logvar
//   vae_loss_kernel2              fused, one block of kVaeLossBlock threads per sample: thread t
//                                 takes pixels t, t + kVaeLossBlock, ... (coalesced), writes
//                                 their dpred in the same pass, then latent elements the same
//                                 way; the two double partial sums go through one fixed tree
//                                 (warp shuffles, then warp 0). Shipped.
// All per-element formulas are shared by the versions (the device functions below), so the
// versions differ only in the order of the double sums. Latent work is tiny (n x zdim, a few
// thousand elements per step): one version of the reparameterization is enough.
#include "kernels/common.cuh"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/block_sum.cuh"
#include "kernels/philox.h"
#include "kernels/vae.cuh"

namespace zs::ZS_KNS {
namespace {

constexpr int kElementBlock = 256;   // element-wise kernels: threads per block
constexpr int kVaeLossBlock = 256;   // fused loss and the BCE sum of version 1: threads per sample
constexpr int kWarps = kVaeLossBlock / 32;
constexpr int kSamplesPerBlock = 128;   // vae_loss_kernel1_kl: one thread per sample
constexpr float kBceEpsilon = 1e-7f;    // Keras backend.epsilon()
constexpr int64_t kMaxGridX = 0x7fffffff;
static_assert(kWarps <= 32, "the second reduction stage is one warp");

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(op) + ": " + what);
}

unsigned element_grid(int64_t count, const char* op) {
  const int64_t blocks = (count + kElementBlock - 1) / kElementBlock;
  require(blocks <= kMaxGridX, op, "too many elements for one launch");
  return unsigned(blocks);
}

}  // namespace

// ---- per-element formulas (the twin's, kernels/cpu/vae.cpp) ----

static __device__ __forceinline__ bool log_var_clamped(float lv) { return lv < kLogVarMin || lv > kLogVarMax; }
static __device__ __forceinline__ float clamp_log_var(float lv) {   // std::clamp's semantics, NaN included
  return lv < kLogVarMin ? kLogVarMin : (lv > kLogVarMax ? kLogVarMax : lv);
}

// The BCE term -(t log p + (1 - t) log(1 - p)) of one pixel, products exact in double.
static __device__ __forceinline__ double bce_term(float p, float t) {
  const float pc = p < kBceEpsilon ? kBceEpsilon : (p > 1.f - kBceEpsilon ? 1.f - kBceEpsilon : p);
  return -(double(t) * double(logf(pc)) + double(1.f - t) * double(logf(1.f - pc)));
}

// d(recon_i)/dp / n; 0 where the clamp is active (elsewhere the clamped p is p itself).
static __device__ __forceinline__ float bce_grad(float p, float t, float pred_scale) {
  if (p < kBceEpsilon || p > 1.f - kBceEpsilon) return 0.f;
  return (p - t) / (p * (1.f - p)) * pred_scale;
}

// 2 x one latent element's KL term: expm1(lv) - lv + mu^2 (clamped lv; products exact in double).
static __device__ __forceinline__ double kl_term2(float mu, float lv) {
  const float lvc = clamp_log_var(lv);
  return double(expm1f(lvc)) - double(lvc) + double(mu) * double(mu);
}

// beta/n times d(kl)/d(mu) and d(kl)/d(lv).
static __device__ __forceinline__ void kl_grads(float mu, float lv, float latent_scale, float& dmu, float& dlv) {
  dmu = mu * latent_scale;
  dlv = log_var_clamped(lv) ? 0.f : 0.5f * expm1f(clamp_log_var(lv)) * latent_scale;
}

// total from the float recon and kl: the product of two floats is exact in double, so a fused
// multiply-add gives the same bits as separate operations.
static __device__ __forceinline__ float total_of(float recon, float kl, float beta) {
  return float(double(recon) + double(beta) * double(kl));
}

// ---- reparameterization ----

static __global__ void __launch_bounds__(kElementBlock)
    vae_reparam_forward_kernel1(float* __restrict__ z, float* __restrict__ eps, const float* __restrict__ mu_logvar,
                                int zdim, int64_t count, uint64_t seed, int64_t host_step,
                                const int64_t* __restrict__ step_on_device, bool sample, uint64_t first_element) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= count) return;
  const int64_t i = e / zdim, j = e - i * zdim;
  const float mu = mu_logvar[i * 2 * zdim + j];
  if (!sample) {
    eps[e] = 0.f;
    z[e] = mu;
    return;
  }
  const int64_t step = step_on_device ? *step_on_device : host_step;
  const float ep = philox_vae_normal(seed, step, first_element + uint64_t(e));
  const float lv = clamp_log_var(mu_logvar[i * 2 * zdim + zdim + j]);
  eps[e] = ep;
  z[e] = fmaf(expf(0.5f * lv), ep, mu);
}

static __global__ void __launch_bounds__(kElementBlock)
    vae_reparam_backward_kernel1(float* __restrict__ d_mu_logvar, const float* __restrict__ dz,
                                 const float* __restrict__ eps, const float* __restrict__ mu_logvar, int zdim,
                                 int64_t count) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= count) return;
  const int64_t i = e / zdim, j = e - i * zdim;
  const int64_t mu_at = i * 2 * zdim + j, lv_at = mu_at + zdim;
  const float g = dz[e];
  d_mu_logvar[mu_at] += g;
  const float lv = mu_logvar[lv_at];
  if (log_var_clamped(lv)) return;
  d_mu_logvar[lv_at] = fmaf(g * eps[e], 0.5f * expf(0.5f * lv), d_mu_logvar[lv_at]);
}

static __global__ void __launch_bounds__(kElementBlock)
    vae_philox_words_kernel(uint32_t* __restrict__ words, int64_t count, uint64_t seed, int64_t step) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= count) return;
  const PhiloxWords r = philox_vae_words(seed, step, uint64_t(e));
  for (int w = 0; w < 4; ++w) words[4 * e + w] = r.w[w];
}

// ---- the loss, shared pieces ----


// ---- version 1: the unfused composition ----

// losses[n + i] = recon_i. One block per sample.
static __global__ void __launch_bounds__(kVaeLossBlock)
    vae_loss_kernel1_recon(float* __restrict__ losses, const float* __restrict__ pred,
                           const float* __restrict__ target, int n, int dim) {
  STATIC_SHARED(double, warp_sums, [kWarps]);
  const int64_t row = int64_t(blockIdx.x) * dim;
  double recon = 0.0;
  for (int k = threadIdx.x; k < dim; k += kVaeLossBlock) recon += bce_term(pred[row + k], target[row + k]);
  recon = block_sum<kWarps>(recon, warp_sums);
  if (threadIdx.x == 0) losses[n + blockIdx.x] = float(recon);
}

static __global__ void __launch_bounds__(kElementBlock)
    vae_loss_kernel1_dpred(float* __restrict__ dpred, const float* __restrict__ pred, const float* __restrict__ target,
                           int64_t count, float pred_scale) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e < count) dpred[e] = bce_grad(pred[e], target[e], pred_scale);
}

// losses[2n + i] = kl_i and losses[i] = total_i (reads recon_i from losses[n + i]).
static __global__ void __launch_bounds__(kSamplesPerBlock)
    vae_loss_kernel1_kl(float* __restrict__ losses, const float* __restrict__ mu_logvar, int n, int zdim, float beta) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float* mu = mu_logvar + i * 2 * zdim;
  double kl2 = 0.0;
  for (int j = 0; j < zdim; ++j) kl2 += kl_term2(mu[j], mu[zdim + j]);
  const float kl = float(0.5 * kl2);
  losses[2 * int64_t(n) + i] = kl;
  losses[i] = total_of(losses[n + i], kl, beta);
}

static __global__ void __launch_bounds__(kElementBlock)
    vae_loss_kernel1_dlatent(float* __restrict__ d_mu_logvar, const float* __restrict__ mu_logvar, int zdim,
                             int64_t count, float latent_scale) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= count) return;
  const int64_t i = e / zdim, j = e - i * zdim;
  const int64_t mu_at = i * 2 * zdim + j, lv_at = mu_at + zdim;
  kl_grads(mu_logvar[mu_at], mu_logvar[lv_at], latent_scale, d_mu_logvar[mu_at], d_mu_logvar[lv_at]);
}

// ---- version 2: fused, one block per sample ----

static __global__ void __launch_bounds__(kVaeLossBlock)
    vae_loss_kernel2(float* __restrict__ losses, float* __restrict__ dpred, float* __restrict__ d_mu_logvar,
                     const float* __restrict__ pred, const float* __restrict__ target,
                     const float* __restrict__ mu_logvar, int n, int dim, int zdim, float beta, float pred_scale,
                     float latent_scale) {
  STATIC_SHARED(double, warp_sums, [2][kWarps]);
  const int i = blockIdx.x;
  const int64_t row = int64_t(i) * dim;
  double recon = 0.0;
  for (int k = threadIdx.x; k < dim; k += kVaeLossBlock) {
    const float p = pred[row + k], t = target[row + k];
    recon += bce_term(p, t);
    if (dpred) dpred[row + k] = bce_grad(p, t, pred_scale);
  }
  const int64_t latent_row = int64_t(i) * 2 * zdim;
  double kl2 = 0.0;
  for (int j = threadIdx.x; j < zdim; j += kVaeLossBlock) {
    const float mu = mu_logvar[latent_row + j], lv = mu_logvar[latent_row + zdim + j];
    kl2 += kl_term2(mu, lv);
    if (d_mu_logvar) kl_grads(mu, lv, latent_scale, d_mu_logvar[latent_row + j], d_mu_logvar[latent_row + zdim + j]);
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  recon = warp_sum(recon);
  kl2 = warp_sum(kl2);
  if (lane == 0) {
    warp_sums[0][warp] = recon;
    warp_sums[1][warp] = kl2;
  }
  __syncthreads();
  if (warp == 0) {
    recon = warp_sum(lane < kWarps ? warp_sums[0][lane] : 0.0);
    kl2 = warp_sum(lane < kWarps ? warp_sums[1][lane] : 0.0);
    if (lane == 0) {
      const float recon_f = float(recon), kl_f = float(0.5 * kl2);
      losses[i] = total_of(recon_f, kl_f, beta);
      losses[n + i] = recon_f;
      losses[2 * int64_t(n) + i] = kl_f;
    }
  }
}

// ---- launchers: raw pointers, sizes, stream; arguments already checked ----

static void launch_reparam_forward(float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed,
                                   int64_t host_step, const int64_t* step_on_device, bool sample, int64_t first_row,
                                   cudaStream_t stream) {
  const int64_t count = int64_t(n) * zdim;
  // Element e of this call is element first_row * zdim + e of the whole batch (the twin's key).
  const uint64_t first_element = uint64_t(first_row) * uint64_t(zdim);
  LAUNCH(vae_reparam_forward_kernel1, element_grid(count, "vae_reparam_forward"), kElementBlock, 0, stream)(
      z, eps, mu_logvar, zdim, count, seed, host_step, step_on_device, sample, first_element);
  KERNEL_CHECK();
}

static void launch_vae_loss(int version, float* losses, float* dpred, float* d_mu_logvar, const float* pred,
                            const float* target, const float* mu_logvar, int n, int dim, int zdim, float beta,
                            cudaStream_t stream) {
  const float pred_scale = 1.f / float(n);     // the twin's expressions
  const float latent_scale = beta / float(n);
  if (version == 1) {
    LAUNCH(vae_loss_kernel1_recon, unsigned(n), kVaeLossBlock, 0, stream)(losses, pred, target, n, dim);
    KERNEL_CHECK();
    if (dpred) {
      const int64_t count = int64_t(n) * dim;
      LAUNCH(vae_loss_kernel1_dpred, element_grid(count, "vae_loss"), kElementBlock, 0, stream)(
          dpred, pred, target, count, pred_scale);
      KERNEL_CHECK();
    }
    const unsigned sample_blocks = unsigned((n + kSamplesPerBlock - 1) / kSamplesPerBlock);
    LAUNCH(vae_loss_kernel1_kl, sample_blocks, kSamplesPerBlock, 0, stream)(losses, mu_logvar, n, zdim, beta);
    KERNEL_CHECK();
    if (d_mu_logvar) {
      const int64_t count = int64_t(n) * zdim;
      LAUNCH(vae_loss_kernel1_dlatent, element_grid(count, "vae_loss"), kElementBlock, 0, stream)(
          d_mu_logvar, mu_logvar, zdim, count, latent_scale);
      KERNEL_CHECK();
    }
  } else {
    LAUNCH(vae_loss_kernel2, unsigned(n), kVaeLossBlock, 0, stream)(losses, dpred, d_mu_logvar, pred, target,
                                                                     mu_logvar, n, dim, zdim, beta, pred_scale,
                                                                     latent_scale);
    KERNEL_CHECK();
  }
}

// ---- public entries: argument checks ----

static void check_latent_args(const char* op, int n, int zdim) {
  require(n >= 1 && zdim >= 1, op,
          "n and zdim must be >= 1 (got " + std::to_string(n) + ", " + std::to_string(zdim) + ")");
}

void vae_reparam_forward(float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed, int64_t step,
                         bool sample, int64_t first_row, cudaStream_t stream) {
  check_latent_args("vae_reparam_forward", n, zdim);
  require(z && eps && mu_logvar, "vae_reparam_forward", "z, eps and mu_logvar must not be null");
  require(first_row >= 0, "vae_reparam_forward", "first_row must be >= 0");
  launch_reparam_forward(z, eps, mu_logvar, n, zdim, seed, step, nullptr, sample, first_row, stream);
}

void vae_reparam_forward_device(float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed,
                                const int64_t* step_on_device, bool sample, int64_t first_row,
                                cudaStream_t stream) {
  check_latent_args("vae_reparam_forward_device", n, zdim);
  require(z && eps && mu_logvar, "vae_reparam_forward_device", "z, eps and mu_logvar must not be null");
  require(step_on_device != nullptr, "vae_reparam_forward_device", "step_on_device must not be null");
  require(first_row >= 0, "vae_reparam_forward_device", "first_row must be >= 0");
  launch_reparam_forward(z, eps, mu_logvar, n, zdim, seed, 0, step_on_device, sample, first_row, stream);
}

void vae_reparam_backward(float* d_mu_logvar, const float* dz, const float* eps, const float* mu_logvar, int n,
                          int zdim, cudaStream_t stream) {
  check_latent_args("vae_reparam_backward", n, zdim);
  require(d_mu_logvar && dz && eps && mu_logvar, "vae_reparam_backward",
          "d_mu_logvar, dz, eps and mu_logvar must not be null");
  const int64_t count = int64_t(n) * zdim;
  LAUNCH(vae_reparam_backward_kernel1, element_grid(count, "vae_reparam_backward"), kElementBlock, 0, stream)(
      d_mu_logvar, dz, eps, mu_logvar, zdim, count);
  KERNEL_CHECK();
}

void vae_loss(float* losses, float* dpred, float* d_mu_logvar, const float* pred, const float* target,
              const float* mu_logvar, int n, int dim, int zdim, float beta, cudaStream_t stream, int version) {
  require(version >= 1 && version <= kVaeLossKernelVersions, "vae_loss",
          "kernel version " + std::to_string(version) + " does not exist");
  require(n >= 1 && dim >= 1 && zdim >= 1, "vae_loss",
          "n, dim and zdim must be >= 1 (got " + std::to_string(n) + ", " + std::to_string(dim) + ", " +
              std::to_string(zdim) + ")");
  require(losses && pred && target && mu_logvar, "vae_loss", "losses, pred, target and mu_logvar must not be null");
  require(std::isfinite(beta) && beta >= 0.f, "vae_loss",
          "beta must be finite and >= 0 (got " + std::to_string(beta) + ")");
  launch_vae_loss(version, losses, dpred, d_mu_logvar, pred, target, mu_logvar, n, dim, zdim, beta, stream);
}

void vae_philox_words(uint32_t* words, int64_t count, uint64_t seed, int64_t step, cudaStream_t stream) {
  require(count >= 0, "vae_philox_words", "count must be >= 0");
  require(count == 0 || words, "vae_philox_words", "words must not be null");
  if (count == 0) return;
  LAUNCH(vae_philox_words_kernel, element_grid(count, "vae_philox_words"), kElementBlock, 0, stream)(words, count,
                                                                                                     seed, step);
  KERNEL_CHECK();
}

}  // namespace zs::ZS_KNS
