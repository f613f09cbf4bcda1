// The blog's variational autoencoder: the autoencoder's encoder up to Flatten, then ONE Dense head of
// width 2*z_dim whose output rows are [mu | log_var] ("encoder.mu_log_var"), the reparameterization
// z = mu + exp(0.5*log_var) * eps (eps ~ N(0,1) from Philox keyed by (seed, step, element)), and the
// autoencoder's decoder (with its head: autoencoder.h). Loss per sample: BCE summed over the 784 pixels + beta * KL, averaged over
// the batch; the fused loss kernel returns the three terms per sample as [total | recon | kl].
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/models/autoencoder.h"

namespace zs {

// Loss terms per sample: [total | recon | kl]. Training draws eps keyed by the step counter (the
// steps taken before the one in progress); evaluation after epoch e samples z keyed by -1000 - e
// when sample_at_inference, else uses mu.
class Vae final : public Model {
 public:
  Vae(Backend& be, int z_dim, double kl_weight, bool sample_at_inference, int max_batch, uint64_t seed,
      DecoderHead head = DecoderHead::Blog);

  // ---- Model ----
  std::vector<std::string> loss_terms() const override { return {"loss", "recon", "kl"}; }
  const float* forward_loss(const float* x, int n, int64_t first_row) override;
  void backward(const float* x, int n) override;
  const float* evaluate(const float* x, int n, int epoch, int64_t first_row) override;
  ParamStore& params() override { return params_; }
  int max_batch() const override { return encoder_.max_batch(); }
  // command "vae", z_dim, kl_weight, decoder_head.
  std::map<std::string, std::string> checkpoint_metadata() const override;

  // Forward and loss with eps keyed by `key` (negative keys never collide with a training step's);
  // x is rows [first_row, first_row + n) of the batch.
  const float* evaluate_keyed(const float* x, int n, int64_t key, int64_t first_row = 0);
  const float* reconstruction() const { return decoder_.output(); }
  // z for x (sampled with eps keyed by `key` when sample_at_inference, else mu): n x z_dim.
  const float* encode(const float* x, int n, int64_t key);
  const float* decode(const float* z, int n);
  int z_dim() const { return z_dim_; }

 private:
  // The loss of the decoded z_ against x, given the encoder's output.
  const float* loss(const float* x, const float* mu_logvar, int n);

  Backend& be_;
  int z_dim_;
  double kl_weight_;
  bool sample_at_inference_;
  uint64_t seed_;
  DecoderHead head_;
  ParamStore params_;
  Sequential encoder_, decoder_;
  Buffer z_, eps_, dz_, losses_;
};

}  // namespace zs
