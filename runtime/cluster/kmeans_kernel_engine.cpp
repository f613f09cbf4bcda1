// The KMeansEngine built from kernels/kmeans.cu. Compiled twice (runtime/CMakeLists.txt), like
// runtime/backend/kernel_backend.cpp: with ZS_KNS=cuda into zs_backend_cuda against the real CUDA
// runtime, and with ZS_KNS=emu into zs_backend_emu against the emulator (runtime/simt), so the emu
// engine runs exactly the launchers the GPU runs.
//
// The data set and its row norms are uploaded/computed ONCE, in the constructor. Every other
// buffer (centres, labels, distances, sums, k-means++ state, the minibatch batch) is device memory
// that grows to the largest size asked for and is then reused, so a fit allocates a handful of
// times. Work goes to the default stream; each pass ends with the copies of its results back to
// the host, which synchronize.
#include "kernels/common.cuh"

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/gather.cuh"
#include "kernels/kmeans.cuh"
#include "runtime/cluster/kmeans_engine.h"
#include "runtime/core/error.h"

namespace zs::ZS_KNS {
namespace {

constexpr cudaStream_t kStream = nullptr;

// Non-copyable owner of device memory that grows on demand (contents are not kept when it grows).
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (ptr_) cudaFree(ptr_);
  }

  // At least `count` elements.
  T* reserve(size_t count) {
    if (count > capacity_) {
      if (ptr_) cudaFree(ptr_);
      ptr_ = nullptr;
      capacity_ = 0;
      void* p = nullptr;
      const size_t bytes = std::max<size_t>(count, 1) * sizeof(T);
      if (cudaMalloc(&p, bytes) != cudaSuccess) {
        cudaGetLastError();   // not sticky
        throw UserError("KMeans on the device: out of device memory allocating " + std::to_string(bytes >> 20) +
                        " MiB; use fewer samples (--train-limit), a smaller k or n_init, or device cpu");
      }
      ptr_ = static_cast<T*>(p);
      capacity_ = count;
    }
    return ptr_;
  }
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
  size_t capacity_ = 0;
};

template <class T>
void upload(DeviceArray<T>& dst, const T* src, size_t count) {
  CUDA_CHECK(cudaMemcpy(dst.reserve(count), src, count * sizeof(T), cudaMemcpyHostToDevice));
}
template <class T>
void download(T* dst, const T* src, size_t count) {
  CUDA_CHECK(cudaMemcpy(dst, src, count * sizeof(T), cudaMemcpyDeviceToHost));
}

class KernelKMeansEngine final : public KMeansEngine {
 public:
  explicit KernelKMeansEngine(MatrixView x) : KMeansEngine(x.rows, x.cols), n_(x.rows), d_(x.cols) {
    upload(x_, x.data, static_cast<size_t>(x.size()));
    row_sqnorms(x_sqnorm_.reserve(n_), x_.get(), n_, d_, kStream);
  }

  std::string name() const override { return ZS_EMULATED ? "emu" : "cuda"; }

  void assign(int32_t* labels, float* min_dist, const float* centers, int k, int groups) override {
    upload_centres(centers, k, groups);
    const size_t count = static_cast<size_t>(groups) * n_;
    kmeans_assign(labels_.reserve(count), min_dist ? min_dist_.reserve(count) : nullptr, x_.get(), x_sqnorm_.get(),
                  centres_.get(), c_sqnorm_.get(), n_, d_, k, groups, kStream);
    download(labels, labels_.get(), count);
    if (min_dist) download(min_dist, min_dist_.get(), count);
  }

  void lloyd_pass(int32_t* labels, float* sums, int64_t* counts, const float* centers, int k, int groups) override {
    upload_centres(centers, k, groups);
    const size_t count = static_cast<size_t>(groups) * n_, centres = static_cast<size_t>(groups) * k;
    kmeans_lloyd_pass(labels_.reserve(count), min_dist_.reserve(count), sums_.reserve(centres * d_),
                      counts_.reserve(centres), x_.get(), x_sqnorm_.get(), centres_.get(), c_sqnorm_.get(), n_, d_, k,
                      groups, kStream);
    download(labels, labels_.get(), count);
    download(sums, sums_.get(), centres * d_);
    download(counts, counts_.get(), centres);
  }

  void last_min_dist(float* dist, int group) override {
    download(dist, min_dist_.get() + static_cast<size_t>(group) * n_, static_cast<size_t>(n_));
  }

  void inertia(double* inertia, const float* centers, const int32_t* labels, int k, int groups) override {
    upload(centres_, centers, static_cast<size_t>(groups) * k * d_);
    upload(labels_, labels, static_cast<size_t>(groups) * n_);
    kmeans_inertia(inertia_.reserve(groups), x_.get(), centres_.get(), labels_.get(), n_, d_, k, groups,
                   inertia_partials_.reserve(kmeans_inertia_workspace(groups)), kStream);
    download(inertia, inertia_.get(), static_cast<size_t>(groups));
  }

  void pp_start(const int32_t* first_ids, int runs) override {
    runs_ = runs;
    upload(cand_ids_, first_ids, static_cast<size_t>(runs));
    kmeans_pp_candidates(closest_.reserve(static_cast<size_t>(runs) * n_), cand_pot_.reserve(runs), x_.get(),
                         x_sqnorm_.get(), nullptr, cand_ids_.get(), n_, d_, 1, runs, kStream);
  }

  void pp_candidates(int32_t* cand_ids, double* cand_pot, const double* uniforms, int t) override {
    t_ = t;
    const size_t width = static_cast<size_t>(runs_) * t;
    upload(uniforms_, uniforms, width);
    kmeans_pp_sample(cand_ids_.reserve(width), closest_.get(), uniforms_.get(), n_, t, runs_, kStream);
    kmeans_pp_candidates(cand_dist_.reserve(width * n_), cand_pot_.reserve(width), x_.get(), x_sqnorm_.get(),
                         closest_.get(), cand_ids_.get(), n_, d_, t, runs_, kStream);
    download(cand_ids, cand_ids_.get(), width);
    download(cand_pot, cand_pot_.get(), width);
  }

  void pp_keep(const int* best) override {
    for (int r = 0; r < runs_; ++r)
      CUDA_CHECK(cudaMemcpy(closest_.get() + static_cast<size_t>(r) * n_,
                            cand_dist_.get() + (static_cast<size_t>(r) * t_ + best[r]) * n_, n_ * sizeof(float),
                            cudaMemcpyDeviceToDevice));
  }

  void minibatch_step(float* centers_new, double* counts, int32_t* labels, float* dist, const float* centers,
                      const int32_t* rows, int64_t b, int k) override {
    const size_t centre_floats = static_cast<size_t>(k) * d_;
    upload(rows_, rows, static_cast<size_t>(b));
    gather_rows(batch_.reserve(static_cast<size_t>(b) * d_), x_.get(), rows_.get(), b, d_, kStream);
    gather_rows(batch_sqnorm_.reserve(b), x_sqnorm_.get(), rows_.get(), b, 1, kStream);
    upload_centres(centers, k, 1);
    upload(counts_d_, counts, static_cast<size_t>(k));
    kmeans_assign(labels_.reserve(b), min_dist_.reserve(b), batch_.get(), batch_sqnorm_.get(), centres_.get(),
                  c_sqnorm_.get(), b, d_, k, 1, kStream);
    kmeans_minibatch_update(centres_new_.reserve(centre_floats), counts_d_.get(), centres_.get(), batch_.get(),
                            labels_.get(), b, d_, k, kStream);
    download(labels, labels_.get(), static_cast<size_t>(b));
    download(dist, min_dist_.get(), static_cast<size_t>(b));
    download(centers_new, centres_new_.get(), centre_floats);
    download(counts, counts_d_.get(), static_cast<size_t>(k));
  }

 private:
  void upload_centres(const float* centers, int k, int groups) {
    const int64_t rows = int64_t(k) * groups;
    upload(centres_, centers, static_cast<size_t>(rows) * d_);
    row_sqnorms(c_sqnorm_.reserve(rows), centres_.get(), rows, d_, kStream);
  }

  int64_t n_;
  int d_;
  DeviceArray<float> x_, x_sqnorm_, centres_, c_sqnorm_, min_dist_, sums_, closest_, cand_dist_, batch_,
      batch_sqnorm_, centres_new_;
  DeviceArray<int32_t> labels_, cand_ids_, rows_;
  DeviceArray<int64_t> counts_;
  DeviceArray<double> inertia_, inertia_partials_, cand_pot_, uniforms_, counts_d_;
  int runs_ = 0, t_ = 0;
};

}  // namespace

std::unique_ptr<KMeansEngine> make_kmeans_engine(MatrixView x) { return std::make_unique<KernelKMeansEngine>(x); }

}  // namespace zs::ZS_KNS
