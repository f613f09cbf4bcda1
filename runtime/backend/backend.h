// The backend interface: device memory plus the op catalogue of kernels/cpu/ops.h.
// Three implementations: cpu (kernels/cpu), cuda (kernels/*.cu via nvcc) and emu (the same
// kernels/*.cu built by g++ against runtime/simt). All pointers passed to ops are memory of the
// same backend (DeviceBuffer<T>(backend, n)). Ops are asynchronous on cuda: to_host() synchronizes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "kernels/shapes.h"
#include "runtime/backend/device_buffer.h"
#include "runtime/backend/op_list.h"

namespace zs {
namespace cpu {
struct KMeansBounds;  // kernels/cpu/kmeans_bounds.h
}

// A recorded sequence of backend work (a CUDA graph on the cuda backend) that can be re-run with
// one launch. It reads and writes the same buffers every time.
class CapturedWork {
 public:
  virtual ~CapturedWork() = default;
  virtual void replay() = 0;
};

class Backend : public DeviceMemory {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;   // "cpu", "cuda", "emu"
  // The device in words for reports: the GPU's name, compute capability and memory on cuda.
  virtual std::string device_description() const { return name(); }
  // True when the backend's memory is the host's (cpu): callers may then hand host arrays to ops
  // in place of uploaded copies.
  virtual bool memory_is_host() const { return false; }

  // ---- memory: DeviceMemory's allocate/release/upload/download (device_buffer.h), and ----
  virtual void copy_bytes(void* dst, const void* src, size_t bytes) = 0;   // device to device, queued
  virtual void fill(float* dst, float value, size_t count) = 0;
  virtual void zero_bytes(void* dst, size_t bytes) = 0;   // queued
  // Typed forms (counts are in elements): to_device / to_host are synchronous for the host.
  template <class T>
  void to_device(T* dst, const T* host_src, size_t count) {
    upload_bytes(dst, host_src, count * sizeof(T));
  }
  template <class T>
  void to_host(T* host_dst, const T* src, size_t count) {
    download_bytes(host_dst, src, count * sizeof(T));
  }
  template <class T>
  void copy(T* dst, const T* src, size_t count) {
    copy_bytes(dst, src, count * sizeof(T));
  }
  template <class T>
  void fill_zero(T* dst, size_t count) {
    zero_bytes(dst, count * sizeof(T));
  }
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

  // ---- ops on the training step counter: one int64_t in backend memory holding the number of
  // Adam steps taken (it lives in the ParamStore; read when the op runs, so a replayed graph
  // takes consecutive steps) ----
  virtual void advance_step(int64_t* counter) = 0;   // *counter += 1
  // Adam (kernels/cpu/ops.h) with step t = *counter (1-based).
  virtual void adam_step(float* param, float* m, float* v, const float* grad, int64_t count, const AdamHyper& h,
                         const int64_t* counter) = 0;
  // vae_reparam_forward keyed by key = *counter (the steps taken before the one in progress); the
  // rows are rows [first_row, first_row + n) of the batch (a data-parallel rank's slice).
  virtual void vae_reparam_forward_at_step(float* z, float* eps, const float* mu_logvar, int n, int zdim,
                                           uint64_t seed, const int64_t* counter, bool sample, int64_t first_row) = 0;

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
  // Exact accelerated Lloyd (kernels/cpu/kmeans_bounds.h): the labels, sums and counts of
  // kmeans_lloyd_pass for these centres, skipping the points that distance bounds (host memory,
  // run g's in bounds' slot slots[g]) prove keep their label; min_dist is then not written.
  // Returns whether it did so. This default runs the full pass (min_dist filled, bounds
  // untouched) and returns false: the cuda and emu backends keep the full pass.
  virtual bool kmeans_lloyd_pass_bounded(int32_t* labels, float* min_dist, float* sums, int64_t* counts,
                                         cpu::KMeansBounds& bounds, const int32_t* slots, const float* x,
                                         const float* x_sqnorm, const float* centers, const float* c_sqnorm,
                                         int64_t n, int d, int k, int groups) {
    (void)bounds, (void)slots;
    kmeans_lloyd_pass(labels, min_dist, sums, counts, x, x_sqnorm, centers, c_sqnorm, n, d, k, groups);
    return false;
  }

  // dst[r][.] = src[indices[r]][.]: reshuffles a data set that stays in backend memory; only the
  // permutation comes from the host. Every index must lie in [0, src_rows) (std::out_of_range).
  void gather_rows(float* dst, const float* src, int64_t src_rows, std::span<const int32_t> indices, int row_len);

 protected:
  // gather_rows after its indices were checked.
  virtual void gather_checked_rows(float* dst, const float* src, std::span<const int32_t> indices, int row_len) = 0;
};

// Float device memory, the common case.
using Buffer = DeviceBuffer<float>;

enum class DeviceKind { Auto, Cpu, Cuda, Emu };

// Creates the backend for `kind`. Auto picks cuda when a usable GPU is present, else cpu;
// `notice` receives the one-line explanation of that choice (empty for explicit kinds).
// Throws UserError when the requested backend is not available in this build/machine.
std::unique_ptr<Backend> make_backend(DeviceKind kind, std::string* notice = nullptr);
std::unique_ptr<Backend> make_cpu_backend();
// One process-wide cpu backend (it has no state), the default of APIs that take an optional Backend*.
Backend& shared_cpu_backend();

}  // namespace zs
