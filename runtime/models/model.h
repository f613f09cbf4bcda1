// What the Trainer (runtime/train/trainer.h) needs of a model, and nothing more: a training
// forward pass with its loss, the backward pass, an evaluation pass, the parameters (with the
// optimizer state and step counter) and the options a checkpoint records. The autoencoder and the
// VAE implement it; ae, vae and ae-kmeans all train through the one Trainer.
//
// Inputs are images x[n][784] in [0, 1] in backend memory, n <= the model's max batch. Loss terms
// are per sample, laid out [term][n] in backend memory, valid until the model's next pass.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/nn/params.h"

namespace zs {

class Model {
 public:
  virtual ~Model() = default;

  // Names of the per-sample loss terms; the first is the loss that is trained ("loss").
  virtual std::vector<std::string> loss_terms() const = 0;
  // Training forward pass and loss; randomness (the VAE's eps) is keyed by params().step_counter(),
  // read on the device, so the pass can be captured and replayed. x is rows [first_row,
  // first_row + n) of the batch (a data-parallel rank's slice of the global batch; 0 for a whole
  // batch): per-row randomness is that batch row's, so the slices of R ranks draw what one process
  // draws for the whole batch.
  virtual const float* forward_loss(const float* x, int n, int64_t first_row) = 0;
  // Gradients of the last forward_loss (on the same x) into params().grads().
  virtual void backward(const float* x, int n) = 0;
  // Forward pass and loss for evaluation after `epoch` (the VAE keys its sampling by it); x is
  // rows [first_row, first_row + n) of the batch, as for forward_loss.
  virtual const float* evaluate(const float* x, int n, int epoch, int64_t first_row) = 0;

  virtual ParamStore& params() = 0;
  virtual int max_batch() const = 0;
  // The options a checkpoint records and a resume must match ("command", "z_dim", ...).
  virtual std::map<std::string, std::string> checkpoint_metadata() const = 0;
};

}  // namespace zs
