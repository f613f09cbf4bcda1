// The cpu backend: host memory and the CPU twin of every op (kernels/cpu).
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/tsne.h"
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

#define ZS_FORWARD_TO_TWIN(name, params, args) \
  void name params override { cpu::name args; }
  ZS_BACKEND_PLAIN_OPS(ZS_FORWARD_TO_TWIN)
  ZS_BACKEND_OWN_KERNEL_PATH_OPS(ZS_FORWARD_TO_TWIN)
#undef ZS_FORWARD_TO_TWIN

  // The fused layer backwards run chunk by chunk of images (see Backend).
  void conv2d_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x, const float* dy,
                             const float* w, Act dx_act) override {
    cpu::conv2d_layer_backward(g, dw, db, dx, x, dy, w, {dx_act, x});
  }
  void conv2d_transpose_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x,
                                       const float* dy, const float* w, Act dx_act) override {
    cpu::conv2d_transpose_layer_backward(g, dw, db, dx, x, dy, w, {dx_act, x});
  }
  void gather_checked_rows(float* dst, const float* src, std::span<const int32_t> indices, int row_len) override {
    cpu::gather_rows(dst, src, indices.data(), int64_t(indices.size()), row_len);
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace zs
