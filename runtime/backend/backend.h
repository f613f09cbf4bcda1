// The backend interface: device memory plus the op catalogue of kernels/cpu/ops.h.
// Three implementations: cpu (kernels/cpu), cuda (kernels/*.cu via nvcc) and emu (the same
// kernels/*.cu built by g++ against runtime/simt). All pointers passed to ops are memory
// from the same backend's alloc(). Ops are asynchronous on cuda: to_host() synchronizes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "kernels/shapes.h"
#include "runtime/backend/op_list.h"

namespace zs {

// A recorded sequence of backend work (a CUDA graph on the cuda backend) that can be re-run with
// one launch. It reads and writes the same buffers every time.
class CapturedWork {
 public:
  virtual ~CapturedWork() = default;
  virtual void replay() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;   // "cpu", "cuda", "emu"

  // ---- memory (counts are in floats) ----
  virtual float* alloc(size_t count) = 0;              // contents undefined
  virtual void release(float* p) noexcept = 0;
  virtual void to_device(float* dst, const float* host_src, size_t count) = 0;
  virtual void to_host(float* host_dst, const float* src, size_t count) = 0;
  virtual void fill(float* dst, float value, size_t count) = 0;
  virtual void copy(float* dst, const float* src, size_t count) = 0;
  virtual void synchronize() {}
  virtual size_t bytes_in_use() const { return 0; }
  virtual size_t peak_bytes() const { return 0; }

  // Records `work` (which must only enqueue ops on this backend: no host reads, no allocation) for
  // replay. Backends without graphs return nullptr and the caller simply runs `work` each time.
  virtual bool supports_capture() const { return false; }
  virtual std::unique_ptr<CapturedWork> capture(const std::function<void()>& work) {
    (void)work;
    return nullptr;
  }

  // ---- ops: the catalogue of op_list.h (semantics: kernels/cpu/ops.h, kernels/cpu/vae.h; VAE
  // tensors: mu_logvar is [n][2*zdim], row = [mu | log_var]) ----
#define ZS_DECLARE_OP(name, params, args) virtual void name params = 0;
  ZS_BACKEND_PLAIN_OPS(ZS_DECLARE_OP)
  ZS_BACKEND_OWN_KERNEL_PATH_OPS(ZS_DECLARE_OP)
#undef ZS_DECLARE_OP

  // A conv layer's whole backward (ops.h: conv2d_layer_backward, conv2d_transpose_layer_backward):
  // weight and bias gradients, and dx (nullable) times the derivative of dx_act, the activation
  // that produced the layer's input x. This default runs the separate ops; the cpu backend runs
  // them chunk by chunk of images, while each chunk is in cache (same bits).
  virtual void conv2d_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x,
                                     const float* dy, const float* w, Act dx_act) {
    conv2d_backward_weight(g, dw, db, x, dy);
    if (!dx) return;
    conv2d_backward_data(g, dx, dy, w, nullptr, Act::None);
    if (dx_act != Act::None) activation_backward(dx_act, dx, dx, x, g.x_size());
  }
  virtual void conv2d_transpose_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x,
                                               const float* dy, const float* w, Act dx_act) {
    conv2d_backward_weight(g, dw, nullptr, dy, x);  // the adjoint conv maps the layer's output to its input
    bias_grad_nchw(db, dy, g.n, g.c, g.h * g.w);
    if (!dx) return;
    conv2d_forward(g, dx, dy, w, nullptr, Act::None);
    if (dx_act != Act::None) activation_backward(dx_act, dx, dx, x, g.y_size());
  }
  // dst[r][.] = src[indices[r]][.]: reshuffles a data set that stays in backend memory; only the
  // permutation comes from the host. Every index must lie in [0, src_rows) (std::out_of_range).
  void gather_rows(float* dst, const float* src, int64_t src_rows, std::span<const int32_t> indices, int row_len);

 protected:
  // gather_rows after its indices were checked.
  virtual void gather_checked_rows(float* dst, const float* src, std::span<const int32_t> indices, int row_len) = 0;
};

// Move-only owner of backend memory.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& be, size_t count) : be_(&be), p_(count ? be.alloc(count) : nullptr), n_(count) {}
  Buffer(Buffer&& o) noexcept : be_(o.be_), p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      be_ = o.be_;
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }
  void reset() noexcept {
    if (p_) be_->release(p_);
    p_ = nullptr;
    n_ = 0;
  }
  float* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  Backend* be_ = nullptr;
  float* p_ = nullptr;
  size_t n_ = 0;
};

enum class DeviceKind { Auto, Cpu, Cuda, Emu };

// Creates the backend for `kind`. Auto picks cuda when a usable GPU is present, else cpu;
// `notice` receives the one-line explanation of that choice (empty for explicit kinds).
// Throws UserError when the requested backend is not available in this build/machine.
std::unique_ptr<Backend> make_backend(DeviceKind kind, std::string* notice = nullptr);
std::unique_ptr<Backend> make_cpu_backend();

}  // namespace zs
