#include "runtime/models/vae.h"

namespace zs {

Vae::Vae(Backend& be, int z_dim, float beta, int max_batch, uint64_t seed)
    : be_(be), z_dim_(z_dim), beta_(beta), seed_(seed), encoder_(build_encoder_trunk()), decoder_(build_decoder(z_dim)) {
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
  if (be.supports_capture()) input_ = Buffer(be, size_t(max_batch) * kImageSize);
}

void Vae::forward(const float* x, int n, bool sample, int64_t key) {
  const float* mu_logvar = encoder_.forward(be_, x, n);
  be_.vae_reparam_forward(z_.data(), eps_.data(), mu_logvar, n, z_dim_, seed_, key, sample);
  decoder_.forward(be_, z_.data(), n);
  be_.vae_loss(losses_.data(), decoder_.output_grad(), encoder_.output_grad(), decoder_.output(), x, mu_logvar, n,
               kImageSize, z_dim_, beta_);
}

void Vae::train_step(const float* x, int n, const AdamHyper& h) {
  ++step_;
  if (!be_.supports_capture()) return run_train_step(x, n, h);
  be_.copy(input_.data(), x, size_t(n) * kImageSize);
  graphs_.run(be_, n, h, [this, n, h] { run_train_step(input_.data(), n, h); });
}

void Vae::run_train_step(const float* x, int n, const AdamHyper& h) {
  // eps of training step s (1-based) is keyed by s - 1, the Adam steps taken before it.
  forward(x, n, true, step_ - 1);
  // The loss kernel wrote the KL part of d(mu, log_var) into the encoder's output gradient; the
  // decoder's backward gives dz, and the reparameterization adds the path through z.
  decoder_.backward(be_, z_.data(), dz_.data(), n);
  be_.vae_reparam_backward(encoder_.output_grad(), dz_.data(), eps_.data(), encoder_.output(), n, z_dim_);
  encoder_.backward(be_, x, nullptr, n);
  be_.adam_step(params_.params(), params_.adam_m(), params_.adam_v(), params_.grads(), params_.total(), h, step_);
}

void Vae::evaluate(const float* x, int n, bool sample, int64_t key) { forward(x, n, sample, key); }

const float* Vae::encode(const float* x, int n, bool sample, int64_t key) {
  be_.vae_reparam_forward(z_.data(), eps_.data(), encoder_.forward(be_, x, n), n, z_dim_, seed_, key, sample);
  return z_.data();
}

const float* Vae::decode(const float* z, int n) { return decoder_.forward(be_, z, n); }

}  // namespace zs
