// Layers in Keras semantics (TF 2.8), NCHW. A layer is planned once for a per-sample input shape
// (plan() declares its parameters and returns the output shape) and then run on any batch size up
// to the planned maximum. Activations are fused into the layer that precedes them, as the blog's
// model always follows a conv/dense with one: y = act(op(x) + b).
//
// backward(dx, dy, x, y, n, grads): dy (gradient w.r.t. y) is scratch the layer may overwrite; dx
// may be nullptr when nobody needs the input gradient. Parameter gradients are OVERWRITTEN.
// ActGrads moves each activation's derivative into the op that writes the gradient it applies to:
// a chain (Sequential) has every layer multiply the dx it writes by the derivative of the
// activation that produced its x, so that layer's backward starts from a ready dy (the cpu backend
// then does it while each chunk of dx is in cache instead of in a pass of its own).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/shapes.h"
#include "runtime/backend/backend.h"
#include "runtime/nn/params.h"

namespace zs {

struct Shape {  // one sample
  int c = 0, h = 1, w = 1;
  int64_t size() const { return int64_t(c) * h * w; }
  bool operator==(const Shape&) const = default;
  std::string str() const;
};

struct ActGrads {
  Act dx_act = Act::None;  // multiply dx by the derivative of this activation (x is its output)
  bool dy_ready = false;   // dy already includes this layer's own activation derivative
};

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  const std::string& name() const { return name_; }
  virtual Shape plan(Shape in, ParamStore& ps) = 0;
  // A view (Flatten/Reshape) shares its input's buffer: no copy, no kernel.
  virtual bool is_view() const { return false; }
  // The activation fused at the output (its derivative is what a consumer's ActGrads::dx_act names).
  virtual Act output_act() const { return Act::None; }
  virtual void forward(Backend& be, float* y, const float* x, int n) = 0;
  virtual void backward(Backend& be, float* dx, float* dy, const float* x, const float* y, int n,
                        const ActGrads& grads) = 0;

 protected:
  std::string name_;
};

// Conv2D, kernel k x k, padding 'same' (TF rule), stride s.
class Conv2D final : public Layer {
 public:
  Conv2D(std::string name, int filters, int ksize, int stride, Act act)
      : Layer(std::move(name)), filters_(filters), ksize_(ksize), stride_(stride), act_(act) {}
  Shape plan(Shape in, ParamStore& ps) override;
  void forward(Backend& be, float* y, const float* x, int n) override;
  Act output_act() const override { return act_; }
  void backward(Backend& be, float* dx, float* dy, const float* x, const float* y, int n,
                const ActGrads& grads) override;
  ConvGeom geom(int n) const;

 private:
  int filters_, ksize_, stride_;
  Act act_;
  Shape in_;
  ParamStore* ps_ = nullptr;
  int w_ = -1, b_ = -1;
};

// Conv2DTranspose 'same': out = in * stride; exactly the adjoint of the Conv2D mapping the output
// geometry back to the input one. Its weight is stored as that conv's [K=in ch][C=out ch][R][S].
class Conv2DTranspose final : public Layer {
 public:
  Conv2DTranspose(std::string name, int filters, int ksize, int stride, Act act)
      : Layer(std::move(name)), filters_(filters), ksize_(ksize), stride_(stride), act_(act) {}
  Shape plan(Shape in, ParamStore& ps) override;
  void forward(Backend& be, float* y, const float* x, int n) override;
  Act output_act() const override { return act_; }
  void backward(Backend& be, float* dx, float* dy, const float* x, const float* y, int n,
                const ActGrads& grads) override;
  ConvGeom geom(int n) const;  // of the adjoint forward conv: x side = this layer's output

 private:
  int filters_, ksize_, stride_;
  Act act_;
  Shape in_;
  ParamStore* ps_ = nullptr;
  int w_ = -1, b_ = -1;
};

// Dense on the flattened sample; weights [in][out] as Keras stores them.
class Dense final : public Layer {
 public:
  Dense(std::string name, int units, Act act) : Layer(std::move(name)), units_(units), act_(act) {}
  Shape plan(Shape in, ParamStore& ps) override;
  void forward(Backend& be, float* y, const float* x, int n) override;
  Act output_act() const override { return act_; }
  void backward(Backend& be, float* dx, float* dy, const float* x, const float* y, int n,
                const ActGrads& grads) override;

 private:
  int units_;
  Act act_;
  int in_ = 0;
  ParamStore* ps_ = nullptr;
  int w_ = -1, b_ = -1;
};

// Flatten and Reshape: a new shape over the same memory.
class Reshape final : public Layer {
 public:
  Reshape(std::string name, Shape to) : Layer(std::move(name)), to_(to) {}
  static std::unique_ptr<Reshape> flatten(std::string name) { return std::make_unique<Reshape>(std::move(name), Shape{0}); }
  Shape plan(Shape in, ParamStore& ps) override;
  bool is_view() const override { return true; }
  void forward(Backend&, float*, const float*, int) override {}
  void backward(Backend&, float*, float*, const float*, const float*, int, const ActGrads&) override {}

 private:
  Shape to_;  // c == 0 means flatten
};

}  // namespace zs
