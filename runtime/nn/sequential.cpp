#include "runtime/nn/sequential.h"

#include <stdexcept>

namespace zs {

Sequential& Sequential::add(std::unique_ptr<Layer> layer) {
  layers_.push_back(std::move(layer));
  return *this;
}

Shape Sequential::plan(Shape in, int max_batch, ParamStore& ps) {
  if (layers_.empty()) throw std::logic_error("Sequential::plan on an empty chain");
  max_batch_ = max_batch;
  shapes_ = {in};
  for (auto& l : layers_) shapes_.push_back(l->plan(shapes_.back(), ps));
  return shapes_.back();
}

void Sequential::allocate(Backend& be) {
  const size_t n_layers = layers_.size();
  acts_.assign(n_layers + 1, nullptr);
  grads_.assign(n_layers + 1, nullptr);
  owned_.clear();
  for (size_t i = 0; i < n_layers; ++i) {
    if (layers_[i]->is_view() && i > 0) {  // shares the previous layer's buffers
      acts_[i + 1] = acts_[i];
      grads_[i + 1] = grads_[i];
      continue;
    }
    const size_t count = size_t(max_batch_) * size_t(shapes_[i + 1].size());
    owned_.emplace_back(be, count);
    acts_[i + 1] = owned_.back().data();
    owned_.emplace_back(be, count);
    grads_[i + 1] = owned_.back().data();
  }
  // A leading view aliases the caller's input, which is only known at forward time.
}

const float* Sequential::forward(Backend& be, const float* x, int n) {
  if (n < 1 || n > max_batch_) throw std::logic_error("Sequential::forward: batch outside the planned range");
  acts_[0] = const_cast<float*>(x);
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i]->is_view()) {
      if (i == 0) acts_[1] = acts_[0];
      continue;
    }
    layers_[i]->forward(be, acts_[i + 1], acts_[i], n);
  }
  return acts_.back();
}

void Sequential::backward(Backend& be, const float* x, float* dx, int n) {
  acts_[0] = const_cast<float*>(x);
  grads_[0] = dx;
  if (layers_[0]->is_view()) grads_[1] = dx;  // a leading view passes its gradient straight through
  // Each layer applies the activation derivative of the layer before it (views skipped) to the dx
  // it writes, so every layer but the last starts from a ready dy (layers.h: ActGrads).
  bool consumer_applied = false;  // a later layer has applied layer i's activation derivative
  for (size_t i = layers_.size(); i-- > 0;) {
    if (layers_[i]->is_view()) continue;
    size_t producer = i;
    while (producer > 0 && layers_[producer - 1]->is_view()) --producer;
    const bool gates_dx = producer > 0 && grads_[i];
    ActGrads grads;
    grads.dy_ready = consumer_applied;
    if (gates_dx) grads.dx_act = layers_[producer - 1]->output_act();
    layers_[i]->backward(be, grads_[i], grads_[i + 1], acts_[i], acts_[i + 1], n, grads);
    consumer_applied = gates_dx;
  }
}

}  // namespace zs
