// The blog's variational autoencoder: the autoencoder's encoder up to Flatten, then ONE Dense head of
// width 2*z_dim whose output rows are [mu | log_var] ("encoder.mu_log_var"), the reparameterization
// z = mu + exp(0.5*log_var) * eps (eps ~ N(0,1) from Philox keyed by (seed, step, element)), and the
// autoencoder's decoder. Loss per sample: BCE summed over the 784 pixels + beta * KL, averaged over
// the batch; the fused loss kernel returns the three terms per sample as [total | recon | kl].
#pragma once
#include <cstdint>

#include "runtime/models/autoencoder.h"

namespace zs {

class Vae {
 public:
  Vae(Backend& be, int z_dim, float beta, int max_batch, uint64_t seed);

  void train_step(const float* x, int n, const AdamHyper& h);
  // Forward and loss only; `sample` draws z (keyed by `key` instead of a training step) or uses mu.
  void evaluate(const float* x, int n, bool sample, int64_t key);
  // Per-sample [total | recon | kl] of the last train_step/evaluate: 3*n floats in backend memory.
  const float* loss_terms() const { return losses_.data(); }
  const float* reconstruction() const { return decoder_.output(); }
  // z for x (sampled, keyed by `key`, or mu): n x z_dim in backend memory.
  const float* encode(const float* x, int n, bool sample, int64_t key);
  const float* decode(const float* z, int n);

  ParamStore& params() { return params_; }
  int64_t steps_taken() const { return step_; }
  void set_steps_taken(int64_t s) { step_ = s; }
  int z_dim() const { return z_dim_; }

 private:
  void forward(const float* x, int n, bool sample, int64_t key);
  void run_train_step(const float* x, int n, const AdamHyper& h);

  Backend& be_;
  int z_dim_;
  float beta_;
  uint64_t seed_;
  ParamStore params_;
  Sequential encoder_, decoder_;
  Buffer z_, eps_, dz_, losses_, input_;
  StepGraphs graphs_;
  int64_t step_ = 0;
};

}  // namespace zs
