// The Backend built from kernels/*.cu. Compiled twice (runtime/CMakeLists.txt): with ZS_KNS=cuda into
// zs_backend_cuda against the real CUDA runtime, and with ZS_KNS=emu into zs_backend_emu against the
// CPU emulator (runtime/simt), so the emu backend runs exactly the launchers the GPU runs.
//
// Memory: cudaMalloc'd, tracked (bytes in use and peak). Work goes to the backend's own
// non-blocking stream (everything it issues, so nothing depends on the legacy stream's implicit
// ordering); to_host() synchronizes it. capture() records work as a
// CUDA graph (on emu too: the emulator records and replays graphs). Adam's step number lives on the
// device (the ParamStore's counter, advanced by the advance_step op inside the step), so a replayed
// graph takes consecutive steps.
// The workspace a live graph captured never moves under it: when a later direct call needs more,
// the old block is retired, not freed, until the last graph is gone.
#include "kernels/common.cuh"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "kernels/adam.cuh"
#include "kernels/columns.cuh"
#include "kernels/conv2d.cuh"
#include "kernels/dense.cuh"
#include "kernels/elementwise.cuh"
#include "kernels/gather.cuh"
#include "kernels/kmeans.cuh"
#include "kernels/loss.cuh"
#include "kernels/tsne.cuh"
#include "kernels/vae.cuh"
#include "runtime/backend/cuda_handles.h"
#include "runtime/backend/kernel_backend.h"
#include "runtime/core/error.h"

namespace zs::ZS_KNS {
namespace {

class KernelBackend;

class KernelGraph final : public CapturedWork {
 public:
  KernelGraph(KernelBackend& be, UniqueGraphExec exec, UniqueGraph graph);
  ~KernelGraph() override;
  void replay() override;

 private:
  KernelBackend& be_;
  UniqueGraphExec exec_;
  UniqueGraph graph_;
};

class KernelBackend final : public Backend {
 public:
  explicit KernelBackend(bool graphs) : graphs_(graphs) {
    CUDA_CHECK(cudaStreamCreateWithFlags(stream_owner_.out(), cudaStreamNonBlocking));
    stream_ = stream_owner_.get();
  }
  ~KernelBackend() override {
    try {
      synchronize();
    } catch (const std::exception&) {
      // the emulator reports a failed kernel by throwing; a destructor has nowhere to send it
    }
  }

  std::string name() const override { return ZS_EMULATED ? "emu" : "cuda"; }
  std::string device_description() const override {
    int device = 0;
    cudaDeviceProp prop{};
    if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
      cudaGetLastError();
      return name();
    }
    return std::string(prop.name) + " (compute capability " + std::to_string(prop.major) + "." +
           std::to_string(prop.minor) + ", " + std::to_string(prop.totalGlobalMem >> 20) + " MiB)";
  }

  // ---- memory ----
  void* allocate_bytes(size_t bytes) override {
    void* p = nullptr;
    bytes = std::max<size_t>(bytes, 1);
    cudaError_t err = cudaMalloc(&p, bytes);
    if (err != cudaSuccess) {
      cudaGetLastError();  // clear it: an allocation failure is not sticky
      throw UserError("out of device memory allocating " + std::to_string(bytes >> 20) + " MiB (" +
                      std::to_string(in_use_ >> 20) + " MiB in use); lower --batch or --train-limit, or use --device cpu");
    }
    sizes_[p] = bytes;
    in_use_ += bytes;
    peak_ = std::max(peak_, in_use_);
    return p;
  }
  void release_bytes(void* p) noexcept override {
    auto it = sizes_.find(p);
    if (it == sizes_.end()) {   // a bug in the caller: say so rather than leak or free foreign memory
      std::fprintf(stderr, "zspace internal error: %s backend asked to release %p, which it did not allocate\n",
                   ZS_EMULATED ? "emu" : "cuda", p);
      std::abort();
    }
    in_use_ -= it->second;
    sizes_.erase(it);
    cudaFree(p);
  }
  void upload_bytes(void* dst, const void* src, size_t bytes) override {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));  // the host buffer may go away after we return
  }
  void download_bytes(void* dst, const void* src, size_t bytes) override {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void fill(float* dst, float value, size_t count) override {
    if (value == 0.0f) {
      CUDA_CHECK(cudaMemsetAsync(dst, 0, count * sizeof(float), stream_));
      return;
    }
    std::vector<float> host(count, value);
    to_device(dst, host.data(), count);
  }
  void zero_bytes(void* dst, size_t bytes) override {
    if (bytes) CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, stream_));
  }
  void copy_bytes(void* dst, const void* src, size_t bytes) override {
    if (dst == src || bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
  }
  void synchronize() override { CUDA_CHECK(cudaStreamSynchronize(stream_)); }
  size_t bytes_in_use() const override { return in_use_; }
  size_t peak_bytes() const override { return peak_; }

  // ---- graphs ----
  bool supports_capture() const override { return graphs_; }
  std::unique_ptr<CapturedWork> capture(const std::function<void()>& work) override {
    CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    capturing_ = true;
    UniqueGraph graph;
    try {
      work();
    } catch (...) {
      cudaStreamEndCapture(stream_, graph.out());
      capturing_ = false;
      throw;
    }
    const cudaError_t ended = cudaStreamEndCapture(stream_, graph.out());
    capturing_ = false;
    CUDA_CHECK(ended);
    UniqueGraphExec exec;
    CUDA_CHECK(cudaGraphInstantiate(exec.out(), graph.get(), 0));
    return std::make_unique<KernelGraph>(*this, std::move(exec), std::move(graph));
  }
  void launch_graph(cudaGraphExec_t exec) { CUDA_CHECK(cudaGraphLaunch(exec, stream_)); }
  // Live graphs hold the workspace address they captured (see workspace()).
  void graph_created() { ++live_graphs_; }
  void graph_destroyed() noexcept {
    if (--live_graphs_ > 0) return;
    retired_workspaces_.clear();
  }

  // ---- ops (op_list.h): the plain ones go straight to the kernels, on the backend's stream ----
#define ZS_FORWARD_TO_KERNEL(name, params, args) \
  void name params override { ZS_KNS::name(ZS_OP_ARGS args, stream_); }
  ZS_BACKEND_PLAIN_OPS(ZS_FORWARD_TO_KERNEL)
#undef ZS_FORWARD_TO_KERNEL

  // ---- the ops whose kernel path needs the backend's state ----
  void conv2d_backward_weight(const ConvGeom& g, float* dw, float* db, const float* x, const float* dy) override {
    ZS_KNS::conv2d_backward_weight(g, dw, db, x, dy, workspace<float>(conv2d_backward_weight_workspace(g)), stream_);
  }
  void dense_forward(float* y, const float* x, const float* w, const float* b, int n, int in, int out, Act act) override {
    ZS_KNS::dense_forward(y, x, w, b, n, in, out, act, workspace<float>(ZS_KNS::dense_workspace(n, in, out)), stream_);
  }
  void dense_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int n, int in,
                      int out) override {
    ZS_KNS::dense_backward(dx, dw, db, dy, x, w, n, in, out, workspace<float>(ZS_KNS::dense_workspace(n, in, out)), stream_);
  }
  void kmeans_inertia(double* inertia, const float* x, const float* centers, const int32_t* labels, int64_t n, int d,
                      int k, int groups) override {
    ZS_KNS::kmeans_inertia(inertia, x, centers, labels, n, d, k, groups,
                           workspace<double>(ZS_KNS::kmeans_inertia_workspace(groups)), stream_);
  }
  void tsne_symmetrize(int32_t* row_ptr, int32_t* col, float* val, double* p_sum, const int32_t* idx,
                       const float* cond_p, int64_t n, int k) override {
    ZS_KNS::tsne_symmetrize(row_ptr, col, val, p_sum, idx, cond_p, n, k,
                            workspace<double>(ZS_KNS::tsne_symmetrize_workspace(n, k)), stream_);
  }
  void gather_checked_rows(float* dst, const float* src, std::span<const int32_t> indices, int row_len) override {
    if (capturing_) throw std::logic_error("gather_rows uploads its indices: it cannot be captured");
    // The index buffers are reused; wait until the previous gather has read them.
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    int32_t* device_indices = gather_indices_.reserve(indices.size());
    // The copy reads its host source when the stream reaches it (as from pinned memory), after
    // this call returns: stage the caller's indices in memory the backend keeps until then.
    staged_indices_.assign(indices.begin(), indices.end());
    CUDA_CHECK(cudaMemcpyAsync(device_indices, staged_indices_.data(), indices.size() * sizeof(int32_t),
                               cudaMemcpyHostToDevice, stream_));
    ZS_KNS::gather_rows(dst, src, device_indices, int64_t(indices.size()), row_len, stream_);
  }
  void advance_step(int64_t* counter) override { ZS_KNS::adam_advance_step(counter, stream_); }
  void adam_step(float* param, float* m, float* v, const float* grad, int64_t count, const AdamHyper& h,
                 const int64_t* counter) override {
    ZS_KNS::adam_step_device(param, m, v, grad, count, h, counter, stream_);
  }
  void vae_reparam_forward_at_step(float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed,
                                   const int64_t* counter, bool sample, int64_t first_row) override {
    ZS_KNS::vae_reparam_forward_device(z, eps, mu_logvar, n, zdim, seed, counter, sample, first_row, stream_);
  }

 private:
  // Scratch for kernels that need it, `count` elements of T; grows outside captures only (the
  // first, direct run of every step shape sizes it before any capture, see
  // runtime/nn/step_graphs.h). Work on the stream uses one workspace at a time, in stream order;
  // graphs keep theirs alive (graph_destroyed()).
  template <class T>
  T* workspace(size_t count) {
    const size_t words = (count * sizeof(T) + sizeof(double) - 1) / sizeof(double);
    if (words > workspace_.size()) {
      if (capturing_) throw std::logic_error("kernel workspace must grow before capture");
      if (live_graphs_ > 0)
        retired_workspaces_.push_back(std::move(workspace_));
      else
        workspace_.reset();   // before allocating its successor: the peak holds one workspace
      workspace_ = DeviceBuffer<double>(*this, words);
    }
    return reinterpret_cast<T*>(workspace_.data());
  }

  // Declared first, destroyed last: the stream may still have work queued on the memory below,
  // and the buffers below are released through sizes_.
  UniqueStream stream_owner_;
  cudaStream_t stream_ = nullptr;
  std::unordered_map<void*, size_t> sizes_;
  size_t in_use_ = 0, peak_ = 0;
  DeviceBuffer<double> workspace_;       // in doubles: aligned for every element type
  std::vector<DeviceBuffer<double>> retired_workspaces_;   // smaller workspaces that live graphs still use
  int live_graphs_ = 0;
  DeviceBuffer<int32_t> gather_indices_{*this, 0};   // gather_rows' indices, uploaded per call
  std::vector<int32_t> staged_indices_;   // their host copy, read by the queued upload
  bool capturing_ = false;
  bool graphs_ = true;
};

KernelGraph::KernelGraph(KernelBackend& be, UniqueGraphExec exec, UniqueGraph graph)
    : be_(be), exec_(std::move(exec)), graph_(std::move(graph)) {
  be_.graph_created();
}

KernelGraph::~KernelGraph() {
  exec_.reset();
  graph_.reset();
  be_.graph_destroyed();
}

void KernelGraph::replay() { be_.launch_graph(exec_.get()); }

}  // namespace

std::unique_ptr<Backend> make_backend(bool graphs) { return std::make_unique<KernelBackend>(graphs); }

#if !ZS_EMULATED
int usable_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}
#endif

}  // namespace zs::ZS_KNS
