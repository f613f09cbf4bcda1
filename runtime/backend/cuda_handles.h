// Move-only owners of the CUDA runtime's handles (stream, graph, graph exec), for the kernel
// backend's host code: an exception between creating a handle and handing it on no longer leaks
// it. (Device memory has one owner, DeviceBuffer: runtime/backend/device_buffer.h.) Included by
// code compiled for cuda AND emu (kernels/common.cuh picks the runtime API), so everything lives
// in zs::ZS_KNS.
#pragma once
#include <utility>

#include "kernels/common.cuh"

namespace zs::ZS_KNS {

template <class Handle, class Destroy>
class UniqueHandle {
 public:
  UniqueHandle() = default;
  explicit UniqueHandle(Handle h) : h_(h) {}
  UniqueHandle(UniqueHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  UniqueHandle& operator=(UniqueHandle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  ~UniqueHandle() { reset(); }

  void reset() noexcept {
    if (h_) Destroy{}(h_);
    h_ = nullptr;
  }
  Handle get() const { return h_; }
  // For the create calls that write a handle: CUDA_CHECK(cudaStreamCreate(owner.out())).
  Handle* out() {
    reset();
    return &h_;
  }

 private:
  Handle h_ = nullptr;
};

// Destroy calls report errors through their return value only; an owner has nowhere to send it.
struct DestroyStream {
  void operator()(cudaStream_t s) const noexcept { cudaStreamDestroy(s); }
};
struct DestroyGraph {
  void operator()(cudaGraph_t g) const noexcept { cudaGraphDestroy(g); }
};
struct DestroyGraphExec {
  void operator()(cudaGraphExec_t e) const noexcept { cudaGraphExecDestroy(e); }
};

using UniqueStream = UniqueHandle<cudaStream_t, DestroyStream>;
using UniqueGraph = UniqueHandle<cudaGraph_t, DestroyGraph>;
using UniqueGraphExec = UniqueHandle<cudaGraphExec_t, DestroyGraphExec>;

}  // namespace zs::ZS_KNS
