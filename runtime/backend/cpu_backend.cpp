// The cpu backend: host memory and the CPU twin of every op (kernels/cpu).
#include <algorithm>
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

  void* allocate_bytes(size_t bytes) override {
    // 64-byte alignment keeps the vector loops and OpenBLAS on aligned rows.
    void* p = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void release_bytes(void* p) noexcept override { std::free(p); }
  void upload_bytes(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download_bytes(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_bytes(void* dst, const void* src, size_t bytes) override { std::memmove(dst, src, bytes); }
  void fill(float* dst, float value, size_t count) override { std::fill_n(dst, count, value); }

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
