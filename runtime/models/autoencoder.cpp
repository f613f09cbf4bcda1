#include "runtime/models/autoencoder.h"

namespace zs {

Sequential build_encoder_trunk() {
  Sequential s;
  s.add(std::make_unique<Conv2D>("encoder.conv1", 32, 3, 1, Act::LeakyRelu));
  s.add(std::make_unique<Conv2D>("encoder.conv2", 64, 3, 2, Act::LeakyRelu));
  s.add(std::make_unique<Conv2D>("encoder.conv3", 128, 3, 2, Act::LeakyRelu));
  s.add(Reshape::flatten("encoder.flatten"));
  return s;
}

Sequential build_decoder(int z_dim) {
  (void)z_dim;  // the input width comes from plan()
  Sequential s;
  s.add(std::make_unique<Dense>("decoder.dense", 128 * 7 * 7, Act::None));
  s.add(std::make_unique<Reshape>("decoder.reshape", Shape{128, 7, 7}));
  s.add(std::make_unique<Conv2DTranspose>("decoder.deconv1", 64, 3, 2, Act::LeakyRelu));
  s.add(std::make_unique<Conv2DTranspose>("decoder.deconv2", 32, 3, 2, Act::LeakyRelu));
  s.add(std::make_unique<Conv2DTranspose>("decoder.deconv3", 1, 3, 1, Act::Sigmoid));
  return s;
}

Autoencoder::Autoencoder(Backend& be, int z_dim, LossKind loss, int max_batch, uint64_t seed)
    : be_(be), z_dim_(z_dim), loss_kind_(loss), encoder_(build_encoder_trunk()), decoder_(build_decoder(z_dim)) {
  encoder_.add(std::make_unique<Dense>("encoder.dense", z_dim, Act::None));
  encoder_.plan(Shape{1, kImageSide, kImageSide}, max_batch, params_);
  decoder_.plan(Shape{z_dim, 1, 1}, max_batch, params_);
  params_.allocate(be, seed);
  encoder_.allocate(be);
  decoder_.allocate(be);
  loss_ = Buffer(be, size_t(max_batch));
  if (be.supports_capture()) input_ = Buffer(be, size_t(max_batch) * kImageSize);
}

void Autoencoder::loss_and_grad(const float* x, int n) {
  if (loss_kind_ == LossKind::Bce)
    be_.bce_loss(loss_.data(), decoder_.output_grad(), decoder_.output(), x, n, kImageSize);
  else
    be_.mse_loss(loss_.data(), decoder_.output_grad(), decoder_.output(), x, n, kImageSize);
}

void Autoencoder::train_step(const float* x, int n, const AdamHyper& h) {
  ++step_;
  if (!be_.supports_capture()) return run_train_step(x, n, h);
  // A captured graph reads its input from one fixed buffer; the copy is device to device.
  be_.copy(input_.data(), x, size_t(n) * kImageSize);
  graphs_.run(be_, n, h, [this, n, h] { run_train_step(input_.data(), n, h); });
}

void Autoencoder::run_train_step(const float* x, int n, const AdamHyper& h) {
  const float* z = encoder_.forward(be_, x, n);
  decoder_.forward(be_, z, n);
  loss_and_grad(x, n);
  decoder_.backward(be_, z, encoder_.output_grad(), n);
  encoder_.backward(be_, x, nullptr, n);
  be_.adam_step(params_.params(), params_.adam_m(), params_.adam_v(), params_.grads(), params_.total(), h, step_);
}

void Autoencoder::evaluate(const float* x, int n) {
  decoder_.forward(be_, encoder_.forward(be_, x, n), n);
  loss_and_grad(x, n);
}

const float* Autoencoder::encode(const float* x, int n) { return encoder_.forward(be_, x, n); }
const float* Autoencoder::decode(const float* z, int n) { return decoder_.forward(be_, z, n); }

}  // namespace zs
