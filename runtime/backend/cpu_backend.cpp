// The cpu backend: host memory and the CPU twin of every op (kernels/cpu).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu/columns.h"
#include "kernels/cpu/kmeans.h"
#include "kernels/cpu/kmeans_bounds.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/tsne.h"
#include "kernels/cpu/vae.h"
#include "runtime/backend/backend.h"

namespace zs {
namespace {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  bool memory_is_host() const override { return true; }

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
  void zero_bytes(void* dst, size_t bytes) override { std::memset(dst, 0, bytes); }

#define ZS_FORWARD_TO_TWIN(name, params, args) \
  void name params override { cpu::name args; }
  ZS_BACKEND_PLAIN_OPS(ZS_FORWARD_TO_TWIN)
  ZS_BACKEND_OWN_KERNEL_PATH_OPS(ZS_FORWARD_TO_TWIN)
#undef ZS_FORWARD_TO_TWIN

  void advance_step(int64_t* counter) override { ++*counter; }
  void adam_step(float* param, float* m, float* v, const float* grad, int64_t count, const AdamHyper& h,
                 const int64_t* counter) override {
    cpu::adam_step(param, m, v, grad, count, h, *counter);
  }
  void vae_reparam_forward_at_step(float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed,
                                   const int64_t* counter, bool sample, int64_t first_row) override {
    cpu::vae_reparam_forward(z, eps, mu_logvar, n, zdim, seed, *counter, sample, first_row);
  }

  // The fused layer backwards run chunk by chunk of images (see Backend).
  void conv2d_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x, const float* dy,
                             const float* w, Act dx_act) override {
    cpu::conv2d_layer_backward(g, dw, db, dx, x, dy, w, {dx_act, x});
  }
  void conv2d_transpose_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x,
                                       const float* dy, const float* w, Act dx_act) override {
    cpu::conv2d_transpose_layer_backward(g, dw, db, dx, x, dy, w, {dx_act, x});
  }
  bool kmeans_lloyd_pass_bounded(int32_t* labels, float* /*min_dist*/, float* sums, int64_t* counts,
                                 cpu::KMeansBounds& bounds, const int32_t* slots, const float* x,
                                 const float* x_sqnorm, const float* centers, const float* c_sqnorm, int64_t n,
                                 int d, int k, int groups) override {
    cpu::kmeans_lloyd_pass_bounded(labels, sums, counts, bounds, slots, x, x_sqnorm, centers, c_sqnorm, n, d, k,
                                   groups);
    return true;
  }
  void gather_checked_rows(float* dst, const float* src, std::span<const int32_t> indices, int row_len) override {
    cpu::gather_rows(dst, src, indices.data(), int64_t(indices.size()), row_len);
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

Backend& shared_cpu_backend() {
  static CpuBackend backend;   // stateless: one serves every caller
  return backend;
}

}  // namespace zs
