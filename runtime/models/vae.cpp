#include "runtime/models/vae.h"

#include <sstream>

namespace zs {

Vae::Vae(Backend& be, int z_dim, double kl_weight, bool sample_at_inference, int max_batch, uint64_t seed,
         DecoderHead head)
    : be_(be),
      z_dim_(z_dim),
      kl_weight_(kl_weight),
      sample_at_inference_(sample_at_inference),
      seed_(seed),
      head_(head),
      encoder_(build_encoder_trunk()),
      decoder_(build_decoder(head)) {
  encoder_.add(std::make_unique<Dense>("encoder.mu_log_var", 2 * z_dim, Act::None));
  encoder_.plan(Shape{1, kImageSide, kImageSide}, max_batch, params_);
  decoder_.plan(Shape{z_dim, 1, 1}, max_batch, params_);
  params_.allocate(be, seed);
  encoder_.allocate(be);
  decoder_.allocate(be);
  const size_t zs = size_t(max_batch) * size_t(z_dim);
  z_ = Buffer(be, zs);
  eps_ = Buffer(be, zs);
  dz_ = Buffer(be, zs);
  losses_ = Buffer(be, 3 * size_t(max_batch));
}

std::map<std::string, std::string> Vae::checkpoint_metadata() const {
  std::ostringstream beta;
  beta << kl_weight_;
  return {{"command", "vae"},
          {"z_dim", std::to_string(z_dim_)},
          {"kl_weight", beta.str()},
          {"decoder_head", decoder_head_name(head_)}};
}

const float* Vae::loss(const float* x, const float* mu_logvar, int n) {
  decoder_.forward(be_, z_.data(), n);
  be_.vae_loss(losses_.data(), decoder_.output_grad(), encoder_.output_grad(), decoder_.output(), x, mu_logvar, n,
               kImageSize, z_dim_, float(kl_weight_));
  return losses_.data();
}

const float* Vae::forward_loss(const float* x, int n, int64_t first_row) {
  const float* mu_logvar = encoder_.forward(be_, x, n);
  be_.vae_reparam_forward_at_step(z_.data(), eps_.data(), mu_logvar, n, z_dim_, seed_, params_.step_counter(), true,
                                  first_row);
  return loss(x, mu_logvar, n);
}

void Vae::backward(const float* x, int n) {
  // The loss kernel wrote the KL part of d(mu, log_var) into the encoder's output gradient; the
  // decoder's backward gives dz, and the reparameterization adds the path through z.
  decoder_.backward(be_, z_.data(), dz_.data(), n);
  be_.vae_reparam_backward(encoder_.output_grad(), dz_.data(), eps_.data(), encoder_.output(), n, z_dim_);
  encoder_.backward(be_, x, nullptr, n);
}

const float* Vae::evaluate(const float* x, int n, int epoch, int64_t first_row) {
  return evaluate_keyed(x, n, -1000 - int64_t(epoch), first_row);
}

const float* Vae::evaluate_keyed(const float* x, int n, int64_t key, int64_t first_row) {
  const float* mu_logvar = encoder_.forward(be_, x, n);
  be_.vae_reparam_forward(z_.data(), eps_.data(), mu_logvar, n, z_dim_, seed_, key, sample_at_inference_, first_row);
  return loss(x, mu_logvar, n);
}

const float* Vae::encode(const float* x, int n, int64_t key) {
  be_.vae_reparam_forward(z_.data(), eps_.data(), encoder_.forward(be_, x, n), n, z_dim_, seed_, key,
                          sample_at_inference_, 0);
  return z_.data();
}

const float* Vae::decode(const float* z, int n) { return decoder_.forward(be_, z, n); }

}  // namespace zs
