// The cpu backend: host memory and the CPU twin of every op (kernels/cpu).
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/vae.h"
#include "runtime/backend/backend.h"

namespace zs {
namespace {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }

  float* alloc(size_t count) override {
    // 64-byte alignment keeps the vector loops and OpenBLAS on aligned rows.
    size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<float*>(p);
  }
  void release(float* p) noexcept override { std::free(p); }
  void to_device(float* dst, const float* src, size_t count) override { std::memcpy(dst, src, count * sizeof(float)); }
  void to_host(float* dst, const float* src, size_t count) override { std::memcpy(dst, src, count * sizeof(float)); }
  void fill(float* dst, float value, size_t count) override {
    for (size_t i = 0; i < count; ++i) dst[i] = value;
  }
  void copy(float* dst, const float* src, size_t count) override { std::memmove(dst, src, count * sizeof(float)); }

  void conv2d_forward(const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act) override {
    cpu::conv2d_forward(g, y, x, w, b, act);
  }
  void conv2d_backward_data(const ConvGeom& g, float* dx, const float* dy, const float* w, const float* bias,
                            Act act) override {
    cpu::conv2d_backward_data(g, dx, dy, w, bias, act);
  }
  void conv2d_backward_weight(const ConvGeom& g, float* dw, float* db, const float* x, const float* dy) override {
    cpu::conv2d_backward_weight(g, dw, db, x, dy);
  }
  void bias_grad_nchw(float* db, const float* dy, int n, int c, int hw) override { cpu::bias_grad_nchw(db, dy, n, c, hw); }
  void conv2d_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x, const float* dy,
                             const float* w, Act dx_act) override {
    cpu::conv2d_layer_backward(g, dw, db, dx, x, dy, w, {dx_act, x});
  }
  void conv2d_transpose_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x,
                                       const float* dy, const float* w, Act dx_act) override {
    cpu::conv2d_transpose_layer_backward(g, dw, db, dx, x, dy, w, {dx_act, x});
  }
  void dense_forward(float* y, const float* x, const float* w, const float* b, int n, int in, int out, Act act) override {
    cpu::dense_forward(y, x, w, b, n, in, out, act);
  }
  void dense_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int n, int in,
                      int out) override {
    cpu::dense_backward(dx, dw, db, dy, x, w, n, in, out);
  }
  void gather_checked_rows(float* dst, const float* src, std::span<const int32_t> indices, int row_len) override {
    cpu::gather_rows(dst, src, indices.data(), int64_t(indices.size()), row_len);
  }
  void activation_forward(Act act, float* y, const float* x, int64_t count) override {
    cpu::activation_forward(act, y, x, count);
  }
  void activation_backward(Act act, float* dx, const float* dy, const float* y, int64_t count) override {
    cpu::activation_backward(act, dx, dy, y, count);
  }
  void bce_loss(float* loss, float* dpred, const float* pred, const float* target, int n, int dim) override {
    cpu::bce_loss(loss, dpred, pred, target, n, dim);
  }
  void mse_loss(float* loss, float* dpred, const float* pred, const float* target, int n, int dim) override {
    cpu::mse_loss(loss, dpred, pred, target, n, dim);
  }
  void adam_step(float* param, float* m, float* v, const float* grad, int64_t count, const AdamHyper& h,
                 int64_t step) override {
    cpu::adam_step(param, m, v, grad, count, h, step);
  }
  void vae_reparam_forward(float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed, int64_t step,
                           bool sample) override {
    cpu::vae_reparam_forward(z, eps, mu_logvar, n, zdim, seed, step, sample);
  }
  void vae_reparam_backward(float* d_mu_logvar, const float* dz, const float* eps, const float* mu_logvar, int n,
                            int zdim) override {
    cpu::vae_reparam_backward(d_mu_logvar, dz, eps, mu_logvar, n, zdim);
  }
  void vae_loss(float* losses, float* dpred, float* d_mu_logvar, const float* pred, const float* target,
                const float* mu_logvar, int n, int dim, int zdim, float beta) override {
    cpu::vae_loss(losses, dpred, d_mu_logvar, pred, target, mu_logvar, n, dim, zdim, beta);
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace zs
