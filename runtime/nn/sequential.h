// Sequential: a chain of layers run forward and backward over buffers planned ONCE for a maximum
// batch (no allocation per step). Models compose several chains (the autoencoder is an encoder
// chain feeding a decoder chain): each chain owns the gradient buffer of its output, so the next
// chain's backward writes its input gradient straight into it.
#pragma once
#include <memory>
#include <vector>

#include "runtime/nn/layers.h"

namespace zs {

class Sequential {
 public:
  Sequential& add(std::unique_ptr<Layer> layer);
  // Plans shapes and declares parameters. Call before ParamStore::allocate().
  Shape plan(Shape in, int max_batch, ParamStore& ps);
  // Allocates activation and gradient buffers on `be` (after planning).
  void allocate(Backend& be);

  // Runs the chain on x[n][in] and returns the output buffer (valid until the next forward).
  const float* forward(Backend& be, const float* x, int n);
  // Back-propagates output_grad() (clobbered) through the chain, filling parameter gradients, and
  // writes the input gradient to dx unless dx is nullptr. Uses the activations of the last forward.
  void backward(Backend& be, const float* x, float* dx, int n);

  float* output_grad() const { return grads_.back(); }
  const float* output() const { return acts_.back(); }
  Shape in_shape() const { return shapes_.front(); }
  Shape out_shape() const { return shapes_.back(); }
  int max_batch() const { return max_batch_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Shape> shapes_;      // shapes_[i] = input of layer i; back() = output
  int max_batch_ = 0;
  std::vector<Buffer> owned_;      // the distinct buffers behind acts_ and grads_
  std::vector<float*> acts_;       // acts_[i+1] = output of layer i (acts_[0] is the caller's input)
  std::vector<float*> grads_;      // grads_[i+1] = gradient w.r.t. acts_[i+1]
};

}  // namespace zs
