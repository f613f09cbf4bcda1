// The cpu KMeansEngine (the twin kernels/cpu/kmeans.h on the caller's memory) and the engine
// factory. The device engines live in kmeans_kernel_engine.cpp, built once per kernel namespace.
#include "runtime/cluster/kmeans_engine.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/kmeans.h"
#include "runtime/backend/kernel_backend.h"
#include "runtime/core/error.h"

namespace zs {
namespace {

class CpuKMeansEngine final : public KMeansEngine {
 public:
  CpuKMeansEngine(MatrixView x, const float* x_sqnorm) : KMeansEngine(x.rows, x.cols), x_(x) {
    if (x_sqnorm) {
      sqnorm_ = x_sqnorm;
    } else {
      own_sqnorm_.resize(x.rows);
      cpu::row_sqnorms(own_sqnorm_.data(), x.data, x.rows, x.cols);
      sqnorm_ = own_sqnorm_.data();
    }
  }

  std::string name() const override { return "cpu"; }

  void assign(int32_t* labels, float* min_dist, const float* centers, int k, int groups) override {
    centre_norms(centers, k, groups);
    cpu::kmeans_assign(labels, min_dist, x_.data, sqnorm_, centers, c_sqnorm_.data(), x_.rows, x_.cols, k, groups);
  }

  void lloyd_pass(int32_t* labels, float* sums, int64_t* counts, const float* centers, int k, int groups) override {
    centre_norms(centers, k, groups);
    min_dist_.resize(static_cast<size_t>(groups) * x_.rows);
    cpu::kmeans_lloyd_pass(labels, min_dist_.data(), sums, counts, x_.data, sqnorm_, centers, c_sqnorm_.data(), x_.rows,
                           x_.cols, k, groups);
  }

  void last_min_dist(float* dist, int group) override {
    const float* src = min_dist_.data() + static_cast<size_t>(group) * x_.rows;
    std::copy(src, src + x_.rows, dist);
  }

  void inertia(double* inertia, const float* centers, const int32_t* labels, int k, int groups) override {
    cpu::kmeans_inertia(inertia, x_.data, centers, labels, x_.rows, x_.cols, k, groups);
  }

  void pp_start(const int32_t* first_ids, int runs) override {
    runs_ = runs;
    closest_.resize(static_cast<size_t>(runs) * x_.rows);
    std::vector<double> pot(runs);
    cpu::kmeans_pp_candidates(closest_.data(), pot.data(), x_.data, sqnorm_, nullptr, first_ids, x_.rows, x_.cols, 1,
                              runs);
  }

  void pp_candidates(int32_t* cand_ids, double* cand_pot, const double* uniforms, int t) override {
    t_ = t;
    cand_dist_.resize(static_cast<size_t>(runs_) * t * x_.rows);
    cpu::kmeans_pp_sample(cand_ids, closest_.data(), uniforms, x_.rows, t, runs_);
    cpu::kmeans_pp_candidates(cand_dist_.data(), cand_pot, x_.data, sqnorm_, closest_.data(), cand_ids, x_.rows,
                              x_.cols, t, runs_);
  }

  void pp_keep(const int* best) override {
    for (int r = 0; r < runs_; ++r) {
      const float* src = cand_dist_.data() + (static_cast<size_t>(r) * t_ + best[r]) * x_.rows;
      std::copy(src, src + x_.rows, closest_.begin() + static_cast<size_t>(r) * x_.rows);
    }
  }

  void minibatch_step(float* centers_new, double* counts, int32_t* labels, float* dist, const float* centers,
                      const int32_t* rows, int64_t b, int k) override {
    const int d = x_.cols;
    batch_.resize(static_cast<size_t>(b) * d);
    batch_sqnorm_.resize(b);
    for (int64_t r = 0; r < b; ++r) {
      std::copy(x_.row(rows[r]), x_.row(rows[r]) + d, batch_.begin() + r * d);
      batch_sqnorm_[r] = sqnorm_[rows[r]];
    }
    centre_norms(centers, k, 1);
    cpu::kmeans_assign(labels, dist, batch_.data(), batch_sqnorm_.data(), centers, c_sqnorm_.data(), b, d, k);
    cpu::kmeans_minibatch_update(centers_new, counts, centers, batch_.data(), labels, b, d, k);
  }

 private:
  void centre_norms(const float* centers, int k, int groups) {
    c_sqnorm_.resize(static_cast<size_t>(k) * groups);
    cpu::row_sqnorms(c_sqnorm_.data(), centers, int64_t(k) * groups, x_.cols);
  }

  MatrixView x_;
  const float* sqnorm_ = nullptr;
  std::vector<float> own_sqnorm_, c_sqnorm_, min_dist_, closest_, cand_dist_, batch_, batch_sqnorm_;
  int runs_ = 0, t_ = 0;
};

}  // namespace

std::unique_ptr<KMeansEngine> make_kmeans_engine(DeviceKind device, MatrixView x, const float* x_sqnorm) {
  switch (device) {
    case DeviceKind::Cpu:
      return std::make_unique<CpuKMeansEngine>(x, x_sqnorm);
    case DeviceKind::Emu:
#ifdef ZSPACE_HAVE_EMU
      return emu::make_kmeans_engine(x);
#else
      throw UserError("KMeans device emu: the emulator is not in this build (it needs CUDA's headers at configure "
                      "time; see ZSPACE_EMU in the README); use device cpu");
#endif
    case DeviceKind::Cuda:
#ifdef ZSPACE_HAVE_CUDA
      if (cuda::usable_device_count() > 0) return cuda::make_kmeans_engine(x);
      throw UserError("KMeans device cuda: no usable CUDA GPU was found; use device cpu (--device cpu or auto)");
#else
      throw UserError("KMeans device cuda: this build has no CUDA kernels (nvcc was not found at configure time); "
                      "use device cpu, or rebuild with the CUDA toolkit");
#endif
    case DeviceKind::Auto:
#ifdef ZSPACE_HAVE_CUDA
      if (cuda::usable_device_count() > 0) return cuda::make_kmeans_engine(x);
#endif
      return std::make_unique<CpuKMeansEngine>(x, x_sqnorm);
  }
  throw UserError("KMeans: unknown device kind " + std::to_string(static_cast<int>(device)));
}

}  // namespace zs
