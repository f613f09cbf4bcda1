// The blog's convolutional autoencoder on 28x28x1 images (NCHW):
//   encoder: Conv2D 32 k3 s1 -> LReLU -> Conv2D 64 k3 s2 -> LReLU -> Conv2D 128 k3 s2 -> LReLU
//            -> Flatten -> Dense z_dim
//   decoder: Dense 6272 -> Reshape 128x7x7 -> Conv2DTranspose 64 s2 -> LReLU
//            -> Conv2DTranspose 32 s2 -> LReLU -> Conv2DTranspose 1 s1 -> sigmoid
// all 'same' padding (TF rule), LeakyReLU alpha 0.3, Glorot-uniform weights, zero biases.
// Parameter names: encoder.conv1..3, encoder.dense, decoder.dense, decoder.deconv1..3 (+ .weight/.bias).
#pragma once
#include <cstdint>
#include <string>

#include "runtime/nn/sequential.h"
#include "runtime/nn/step_graphs.h"

namespace zs {

enum class LossKind { Bce, Mse };
inline constexpr int kImageSide = 28;
inline constexpr int kImageSize = kImageSide * kImageSide;

// Builders shared with the VAE. The encoder chain stops at Flatten when with_head is false.
Sequential build_encoder_trunk();
Sequential build_decoder(int z_dim);

class Autoencoder {
 public:
  Autoencoder(Backend& be, int z_dim, LossKind loss, int max_batch, uint64_t seed);

  // Forward, loss against the input itself, backward and one Adam step on x[n][784] in [0,1].
  void train_step(const float* x, int n, const AdamHyper& h);
  // Forward and loss only.
  void evaluate(const float* x, int n);
  // Per-sample losses of the last train_step/evaluate (backend memory, n floats).
  const float* loss_per_sample() const { return loss_.data(); }
  const float* reconstruction() const { return decoder_.output(); }
  const float* encode(const float* x, int n);
  const float* decode(const float* z, int n);

  ParamStore& params() { return params_; }
  int64_t steps_taken() const { return step_; }
  void set_steps_taken(int64_t s) { step_ = s; }
  int z_dim() const { return z_dim_; }
  LossKind loss_kind() const { return loss_kind_; }

 private:
  void loss_and_grad(const float* x, int n);
  void run_train_step(const float* x, int n, const AdamHyper& h);

  Backend& be_;
  int z_dim_;
  LossKind loss_kind_;
  ParamStore params_;
  Sequential encoder_, decoder_;
  Buffer loss_;
  Buffer input_;  // fixed input of the captured step (graph-capable backends only)
  StepGraphs graphs_;
  int64_t step_ = 0;
};

}  // namespace zs
