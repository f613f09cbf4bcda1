// The blog's convolutional autoencoder on 28x28x1 images (NCHW):
//   encoder: Conv2D 32 k3 s1 -> LReLU -> Conv2D 64 k3 s2 -> LReLU -> Conv2D 128 k3 s2 -> LReLU
//            -> Flatten -> Dense z_dim
//   decoder: Dense 6272 -> Reshape 128x7x7 -> Conv2DTranspose 64 s2 -> LReLU
//            -> Conv2DTranspose 32 s2 -> LReLU -> Conv2DTranspose 1 s1 -> head
// where the head is the blog's LeakyReLU then sigmoid (DecoderHead::Blog, the default) or a plain
// sigmoid (DecoderHead::Sigmoid: zspace's head before it matched the blog; checkpoints without a
// decoder_head entry have it). All 'same' padding (TF rule), LeakyReLU alpha 0.3, Glorot-uniform weights, zero biases.
// Parameter names: encoder.conv1..3, encoder.dense, decoder.dense, decoder.deconv1..3 (+ .weight/.bias).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/models/model.h"
#include "runtime/nn/sequential.h"

namespace zs {

enum class LossKind { Bce, Mse };
inline constexpr int kImageSide = 28;
inline constexpr int kImageSize = kImageSide * kImageSide;

enum class DecoderHead { Blog, Sigmoid };
// "blog" / "sigmoid": the --decoder-head values and the checkpoints' decoder_head entry.
const char* decoder_head_name(DecoderHead head);
std::optional<DecoderHead> parse_decoder_head(const std::string& name);

// Builders shared with the VAE. The encoder chain stops at Flatten (the models add their head).
Sequential build_encoder_trunk();
Sequential build_decoder(DecoderHead head);

// One loss term per sample: the reconstruction loss against the input itself (mean over pixels).
class Autoencoder final : public Model {
 public:
  Autoencoder(Backend& be, int z_dim, LossKind loss, int max_batch, uint64_t seed,
              DecoderHead head = DecoderHead::Blog);

  // ---- Model ----
  std::vector<std::string> loss_terms() const override { return {"loss"}; }
  // No randomness: first_row changes nothing.
  const float* forward_loss(const float* x, int n, int64_t first_row) override;
  void backward(const float* x, int n) override;
  const float* evaluate(const float* x, int n, int epoch, int64_t first_row) override;
  ParamStore& params() override { return params_; }
  int max_batch() const override { return encoder_.max_batch(); }
  // command "ae" (an ae-kmeans checkpoint resumes under ae and vice versa), z_dim, loss, decoder_head.
  std::map<std::string, std::string> checkpoint_metadata() const override;

  // Reconstructions of the last pass (backend memory, n x 784), latents and decodings.
  const float* reconstruction() const { return decoder_.output(); }
  const float* encode(const float* x, int n);
  const float* decode(const float* z, int n);
  int z_dim() const { return z_dim_; }
  LossKind loss_kind() const { return loss_kind_; }

 private:
  Backend& be_;
  int z_dim_;
  LossKind loss_kind_;
  DecoderHead head_;
  ParamStore params_;
  Sequential encoder_, decoder_;
  Buffer loss_;
};

}  // namespace zs
