// BCE and MSE losses with their gradients on the device (API and semantics: loss.cuh).
//
// Kernel versions (the public entries take `version`; tests and benchmarks run every one):
//   loss_kernel1  naive port of the CPU twin: one thread per sample walks its dim elements in
//                 order (the twin sums in its vectorized order; the difference is in double).
//   loss_kernel2  one block of kLossBlock threads per sample: thread t takes elements t,
//                 t + kLossBlock, ... (coalesced), then warp shuffles and a second warp add the
//                 partial sums in a fixed tree. Shipped.
// Both write the gradient in the same pass that reads pred and target (one read of each).
// Per-element terms are computed in float with the twin's formula (t log p + (1 - t) log(1 - p)
// of the clamped p; the twin's log is its own few-ulp polynomial, this one CUDA's logf) and summed
// in double, as the twin does.
#include "kernels/common.cuh"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/block_sum.cuh"
#include "kernels/loss.cuh"

namespace zs::ZS_KNS {
namespace {

constexpr int kLossBlock = 256;          // kernel2: threads per sample
constexpr int kWarps = kLossBlock / 32;
constexpr int kNaiveBlock = 128;         // kernel1: samples per block
constexpr float kBceEpsilon = 1e-7f;     // Keras backend.epsilon()

enum class LossKind : int { Bce, Mse };

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(op) + ": " + what);
}

}  // namespace

// Element j's contribution to the per-sample SUM (divided by dim at the end), and its gradient.
static __device__ __forceinline__ double loss_term(LossKind kind, float p, float t, float grad_scale, float& grad) {
  if (kind == LossKind::Bce) {
    const float lo = kBceEpsilon, hi = 1.f - kBceEpsilon;
    const float pc = p < lo ? lo : (p > hi ? hi : p);   // std::clamp's semantics, NaN included
    const bool clamped = p < lo || p > hi;
    grad = clamped ? 0.f : (pc - t) / (pc * (1.f - pc)) * grad_scale;
    return -double(t * logf(pc) + (1.f - t) * logf(1.f - pc));   // negating is exact
  }
  grad = (p - t) * grad_scale;
  const double diff = double(p) - double(t);
  return diff * diff;
}

// ---- version 1: one thread per sample ----

static __global__ void loss_kernel1(float* loss, float* dpred, const float* __restrict__ pred,
                                    const float* __restrict__ target, int n, int dim, float grad_scale,
                                    LossKind kind) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t row = i * dim;
  double total = 0.0;
  for (int j = 0; j < dim; ++j) {
    float grad;
    total += loss_term(kind, pred[row + j], target[row + j], grad_scale, grad);
    if (dpred) dpred[row + j] = grad;
  }
  loss[i] = float(total / dim);
}

// ---- version 2: one block per sample, fixed reduction tree ----

static __global__ void __launch_bounds__(kLossBlock)
    loss_kernel2(float* loss, float* dpred, const float* __restrict__ pred, const float* __restrict__ target,
                 int dim, float grad_scale, LossKind kind) {
  STATIC_SHARED(double, warp_sums, [kWarps]);
  const int64_t row = int64_t(blockIdx.x) * dim;
  double total = 0.0;
  for (int j = threadIdx.x; j < dim; j += kLossBlock) {
    float grad;
    total += loss_term(kind, pred[row + j], target[row + j], grad_scale, grad);
    if (dpred) dpred[row + j] = grad;
  }
  total = block_sum<kWarps>(total, warp_sums);
  if (threadIdx.x == 0) loss[blockIdx.x] = float(total / dim);
}

// ---- running sums of per-sample loss terms: one block per term ----

static __global__ void __launch_bounds__(kLossBlock)
    sum_loss_terms_kernel(double* sums, const float* __restrict__ terms, int n) {
  STATIC_SHARED(double, warp_sums, [kWarps]);
  const float* row = terms + int64_t(blockIdx.x) * n;
  double total = 0.0;
  for (int i = threadIdx.x; i < n; i += kLossBlock) total += double(row[i]);
  total = block_sum<kWarps>(total, warp_sums);
  if (threadIdx.x == 0) sums[blockIdx.x] += total;
}

void sum_loss_terms(double* sums, const float* terms, int n, int n_terms, cudaStream_t stream) {
  require(sums && terms, "sum_loss_terms", "sums and terms must not be null");
  require(n >= 1 && n_terms >= 1, "sum_loss_terms",
          "n and n_terms must be >= 1 (got " + std::to_string(n) + ", " + std::to_string(n_terms) + ")");
  LAUNCH(sum_loss_terms_kernel, unsigned(n_terms), kLossBlock, 0, stream)(sums, terms, n);
  KERNEL_CHECK();
}

// ---- launcher and public entries ----

static void launch_loss(int version, LossKind kind, float* loss, float* dpred, const float* pred,
                        const float* target, int n, int dim, float grad_scale, cudaStream_t stream) {
  if (version == 1) {
    const unsigned blocks = unsigned((n + kNaiveBlock - 1) / kNaiveBlock);
    LAUNCH(loss_kernel1, blocks, kNaiveBlock, 0, stream)(loss, dpred, pred, target, n, dim, grad_scale, kind);
  } else {
    LAUNCH(loss_kernel2, unsigned(n), kLossBlock, 0, stream)(loss, dpred, pred, target, dim, grad_scale, kind);
  }
  KERNEL_CHECK();
}

static void check_loss_args(const char* op, const float* loss, const float* pred, const float* target, int n,
                            int dim, int version) {
  require(version >= 1 && version <= kLossKernelVersions, op,
          "kernel version " + std::to_string(version) + " does not exist");
  require(loss && pred && target, op, "loss, pred and target must not be null");
  require(n >= 1 && dim >= 1, op,
          "n and dim must be >= 1 (got " + std::to_string(n) + ", " + std::to_string(dim) + ")");
}

void bce_loss(float* loss, float* dpred, const float* pred, const float* target, int n, int dim,
              cudaStream_t stream, int version) {
  check_loss_args("bce_loss", loss, pred, target, n, dim, version);
  const float grad_scale = 1.f / (float(n) * float(dim));   // the twin's expression
  launch_loss(version, LossKind::Bce, loss, dpred, pred, target, n, dim, grad_scale, stream);
}

void mse_loss(float* loss, float* dpred, const float* pred, const float* target, int n, int dim,
              cudaStream_t stream, int version) {
  check_loss_args("mse_loss", loss, pred, target, n, dim, version);
  const float grad_scale = 2.f / (float(n) * float(dim));
  launch_loss(version, LossKind::Mse, loss, dpred, pred, target, n, dim, grad_scale, stream);
}

}  // namespace zs::ZS_KNS
