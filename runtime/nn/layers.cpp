#include "runtime/nn/layers.h"

#include <stdexcept>

namespace zs {

std::string Shape::str() const {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

// ---- Conv2D ----
ConvGeom Conv2D::geom(int n) const { return ConvGeom::same(n, in_.c, in_.h, in_.w, filters_, ksize_, stride_); }

Shape Conv2D::plan(Shape in, ParamStore& ps) {
  in_ = in;
  ps_ = &ps;
  const int64_t rs = int64_t(ksize_) * ksize_;
  w_ = ps.declare(name_ + ".weight", {filters_, in.c, ksize_, ksize_}, Init::GlorotUniform, rs * in.c, rs * filters_);
  b_ = ps.declare(name_ + ".bias", {filters_}, Init::Zeros);
  ConvGeom g = geom(1);
  return {filters_, g.p, g.q};
}

void Conv2D::forward(Backend& be, float* y, const float* x, int n) {
  be.conv2d_forward(geom(n), y, x, ps_->param(w_), ps_->param(b_), act_);
}

void Conv2D::backward(Backend& be, float* dx, float* dy, const float* x, const float* y, int n,
                      const ActGrads& grads) {
  ConvGeom g = geom(n);
  if (act_ != Act::None && !grads.dy_ready) be.activation_backward(act_, dy, dy, y, g.y_size());
  be.conv2d_layer_backward(g, ps_->grad(w_), ps_->grad(b_), dx, x, dy, ps_->param(w_), grads.dx_act);
}

// ---- Conv2DTranspose ----
ConvGeom Conv2DTranspose::geom(int n) const {
  return ConvGeom::same(n, filters_, in_.h * stride_, in_.w * stride_, in_.c, ksize_, stride_);
}

Shape Conv2DTranspose::plan(Shape in, ParamStore& ps) {
  in_ = in;
  ps_ = &ps;
  ConvGeom g = geom(1);
  if (g.p != in.h || g.q != in.w) throw std::logic_error(name_ + ": transposed geometry does not round-trip");
  const int64_t rs = int64_t(ksize_) * ksize_;
  // Keras' Conv2DTranspose kernel is (kh, kw, filters, in): fan_in = rs*filters, fan_out = rs*in.
  w_ = ps.declare(name_ + ".weight", {in.c, filters_, ksize_, ksize_}, Init::GlorotUniform, rs * filters_, rs * in.c);
  b_ = ps.declare(name_ + ".bias", {filters_}, Init::Zeros);
  return {filters_, g.h, g.w};
}

void Conv2DTranspose::forward(Backend& be, float* y, const float* x, int n) {
  be.conv2d_backward_data(geom(n), y, x, ps_->param(w_), ps_->param(b_), act_);
}

void Conv2DTranspose::backward(Backend& be, float* dx, float* dy, const float* x, const float* y, int n,
                               const ActGrads& grads) {
  ConvGeom g = geom(n);
  if (act_ != Act::None && !grads.dy_ready) be.activation_backward(act_, dy, dy, y, g.x_size());
  // The adjoint conv g maps this layer's output (its x side) to its input (its y side).
  be.conv2d_transpose_layer_backward(g, ps_->grad(w_), ps_->grad(b_), dx, x, dy, ps_->param(w_), grads.dx_act);
}

// ---- Dense ----
Shape Dense::plan(Shape in, ParamStore& ps) {
  in_ = int(in.size());
  ps_ = &ps;
  w_ = ps.declare(name_ + ".weight", {in_, units_}, Init::GlorotUniform, in_, units_);
  b_ = ps.declare(name_ + ".bias", {units_}, Init::Zeros);
  return {units_, 1, 1};
}

void Dense::forward(Backend& be, float* y, const float* x, int n) {
  be.dense_forward(y, x, ps_->param(w_), ps_->param(b_), n, in_, units_, act_);
}

void Dense::backward(Backend& be, float* dx, float* dy, const float* x, const float* y, int n,
                     const ActGrads& grads) {
  if (act_ != Act::None && !grads.dy_ready) be.activation_backward(act_, dy, dy, y, int64_t(n) * units_);
  be.dense_backward(dx, ps_->grad(w_), ps_->grad(b_), dy, x, ps_->param(w_), n, in_, units_);
  // The dense ops run on OpenBLAS: nothing to fuse into, so a pass of its own.
  if (dx && grads.dx_act != Act::None) be.activation_backward(grads.dx_act, dx, dx, x, int64_t(n) * in_);
}

// ---- Reshape ----
Shape Reshape::plan(Shape in, ParamStore&) {
  Shape out = to_.c == 0 ? Shape{int(in.size()), 1, 1} : to_;
  if (out.size() != in.size())
    throw std::logic_error(name_ + ": cannot reshape " + in.str() + " to " + out.str());
  return out;
}

}  // namespace zs
