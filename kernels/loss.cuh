// Losses on the device: per-sample loss and the gradient of the BATCH-MEAN loss with respect to
// the predictions. Semantics are the CPU twin's (kernels/cpu/ops.h, kernels/cpu/losses.cpp):
//   BCE (Keras): p clamped to [1e-7, 1 - 1e-7]; loss[i] = mean over dim of
//                -(t log p + (1 - t) log(1 - p)); dpred = (p - t) / (p (1 - p)) / (n dim),
//                and 0 where the clamp is active (p outside the interval).
//   MSE:         loss[i] = mean over dim of (p - t)^2; dpred = 2 (p - t) / (n dim).
// pred, target, dpred: [n][dim]; loss: [n]. loss and dpred are overwritten; dpred may be null
// (loss only); outputs must not overlap the inputs. Each sample's sum is accumulated in double, like the twin's, and reduced in an
// order fixed by dim alone: identical bits on every run and in every emulator thread order.
// Launches are asynchronous on `stream`; bad arguments throw std::invalid_argument, launch
// errors std::runtime_error.
#pragma once

#include "kernels/common.cuh"

namespace zs::ZS_KNS {

// Kernel versions (see loss.cu): 1 = one thread per sample, 2 = one block per sample (shipped).
inline constexpr int kLossKernelVersions = 2;
inline constexpr int kLossShippedVersion = 2;

void bce_loss(float* loss, float* dpred, const float* pred, const float* target, int n, int dim,
              cudaStream_t stream, int version = kLossShippedVersion);
void mse_loss(float* loss, float* dpred, const float* pred, const float* target, int n, int dim,
              cudaStream_t stream, int version = kLossShippedVersion);

// sums[t] += sum_i terms[t][i] for terms [n_terms][n] (per-sample loss terms of one batch): the
// running sums of an epoch stay on the device. Each term's batch sum is taken in double in a fixed
// tree (one block per term), then added: the twin adds element by element, so the two agree to
// double rounding, not bit for bit.
void sum_loss_terms(double* sums, const float* terms, int n, int n_terms, cudaStream_t stream);

}  // namespace zs::ZS_KNS
