#include "runtime/models/autoencoder.h"

namespace zs {

const char* decoder_head_name(DecoderHead head) { return head == DecoderHead::Blog ? "blog" : "sigmoid"; }

std::optional<DecoderHead> parse_decoder_head(const std::string& name) {
  if (name == "blog") return DecoderHead::Blog;
  if (name == "sigmoid") return DecoderHead::Sigmoid;
  return std::nullopt;
}

Sequential build_encoder_trunk() {
  Sequential s;
  s.add(std::make_unique<Conv2D>("encoder.conv1", 32, 3, 1, Act::LeakyRelu));
  s.add(std::make_unique<Conv2D>("encoder.conv2", 64, 3, 2, Act::LeakyRelu));
  s.add(std::make_unique<Conv2D>("encoder.conv3", 128, 3, 2, Act::LeakyRelu));
  s.add(Reshape::flatten("encoder.flatten"));
  return s;
}

Sequential build_decoder(DecoderHead head) {
  Sequential s;  // the input width (z_dim) comes from plan()
  s.add(std::make_unique<Dense>("decoder.dense", 128 * 7 * 7, Act::None));
  s.add(std::make_unique<Reshape>("decoder.reshape", Shape{128, 7, 7}));
  s.add(std::make_unique<Conv2DTranspose>("decoder.deconv1", 64, 3, 2, Act::LeakyRelu));
  s.add(std::make_unique<Conv2DTranspose>("decoder.deconv2", 32, 3, 2, Act::LeakyRelu));
  // The blog's LeakyReLU before the sigmoid is fused into the last layer's epilogue.
  s.add(std::make_unique<Conv2DTranspose>("decoder.deconv3", 1, 3, 1,
                                          head == DecoderHead::Blog ? Act::LeakyReluSigmoid : Act::Sigmoid));
  return s;
}

Autoencoder::Autoencoder(Backend& be, int z_dim, LossKind loss, int max_batch, uint64_t seed, DecoderHead head)
    : be_(be),
      z_dim_(z_dim),
      loss_kind_(loss),
      head_(head),
      encoder_(build_encoder_trunk()),
      decoder_(build_decoder(head)) {
  encoder_.add(std::make_unique<Dense>("encoder.dense", z_dim, Act::None));
  encoder_.plan(Shape{1, kImageSide, kImageSide}, max_batch, params_);
  decoder_.plan(Shape{z_dim, 1, 1}, max_batch, params_);
  params_.allocate(be, seed);
  encoder_.allocate(be);
  decoder_.allocate(be);
  loss_ = Buffer(be, size_t(max_batch));
}

std::map<std::string, std::string> Autoencoder::checkpoint_metadata() const {
  return {{"command", "ae"},
          {"z_dim", std::to_string(z_dim_)},
          {"loss", loss_kind_ == LossKind::Bce ? "bce" : "mse"},
          {"decoder_head", decoder_head_name(head_)}};
}

const float* Autoencoder::forward_loss(const float* x, int n, int64_t /*first_row: no randomness*/) {
  decoder_.forward(be_, encoder_.forward(be_, x, n), n);
  if (loss_kind_ == LossKind::Bce)
    be_.bce_loss(loss_.data(), decoder_.output_grad(), decoder_.output(), x, n, kImageSize);
  else
    be_.mse_loss(loss_.data(), decoder_.output_grad(), decoder_.output(), x, n, kImageSize);
  return loss_.data();
}

void Autoencoder::backward(const float* x, int n) {
  decoder_.backward(be_, encoder_.output(), encoder_.output_grad(), n);
  encoder_.backward(be_, x, nullptr, n);
}

const float* Autoencoder::evaluate(const float* x, int n, int /*epoch*/, int64_t first_row) {
  return forward_loss(x, n, first_row);
}

const float* Autoencoder::encode(const float* x, int n) { return encoder_.forward(be_, x, n); }
const float* Autoencoder::decode(const float* z, int n) { return decoder_.forward(be_, z, n); }

}  // namespace zs
