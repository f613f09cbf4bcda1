#include "runtime/cluster/kmeans_engine.h"

#include <span>

#include "kernels/cpu/kmeans_bounds.h"

namespace zs {

KMeansEngine::KMeansEngine(Backend& backend, MatrixView x, const float* x_sqnorm)
    : be_(backend), n_(x.rows), d_(x.cols), x_owned_(backend, 0), x_sqnorm_owned_(backend, 0), centres_(backend, 0),
      c_sqnorm_(backend, 0), min_dist_(backend, 0), sums_(backend, 0), closest_(backend, 0), cand_dist_(backend, 0),
      batch_(backend, 0), batch_sqnorm_(backend, 0), centres_new_(backend, 0), picked_(backend, 0),
      labels_(backend, 0), cand_ids_(backend, 0), relabel_(backend, 0), counts_(backend, 0), inertia_(backend, 0), cand_pot_(backend, 0), uniforms_(backend, 0),
      minibatch_counts_(backend, 0) {
  if (!x.data) return;   // the DeviceMatrixView constructor fills the data in
  x_ = resident(x_owned_, x.data, static_cast<size_t>(x.size()));
  if (x_sqnorm) {
    x_sqnorm_ = resident(x_sqnorm_owned_, x_sqnorm, static_cast<size_t>(n_));
  } else {
    be_.row_sqnorms(x_sqnorm_owned_.reserve(static_cast<size_t>(n_)), x_, n_, d_);
    x_sqnorm_ = x_sqnorm_owned_.data();
  }
}

KMeansEngine::KMeansEngine(Backend& backend, DeviceMatrixView x)
    : KMeansEngine(backend, MatrixView{nullptr, 0, x.cols}) {
  n_ = x.rows;
  x_ = x.data;
  be_.row_sqnorms(x_sqnorm_owned_.reserve(static_cast<size_t>(n_)), x_, n_, d_);
  x_sqnorm_ = x_sqnorm_owned_.data();
}

void KMeansEngine::rows_to_host(float* out, std::span<const int64_t> rows) {
  if (rows.empty()) return;
  picked_ids_.assign(rows.begin(), rows.end());
  be_.gather_rows(picked_.reserve(rows.size() * d_), x_, n_, picked_ids_, d_);
  be_.to_host(out, picked_.data(), rows.size() * d_);
}

const float* KMeansEngine::resident(DeviceBuffer<float>& owned, const float* host, size_t count) {
  if (be_.memory_is_host()) return host;
  be_.to_device(owned.reserve(count), host, count);
  return owned.data();
}

void KMeansEngine::upload_centres(const float* centers, int k, int groups) {
  const int64_t rows = int64_t(k) * groups;
  be_.to_device(centres_.reserve(static_cast<size_t>(rows) * d_), centers, static_cast<size_t>(rows) * d_);
  be_.row_sqnorms(c_sqnorm_.reserve(static_cast<size_t>(rows)), centres_.data(), rows, d_);
}

void KMeansEngine::assign(int32_t* labels, float* min_dist, const float* centers, int k, int groups) {
  upload_centres(centers, k, groups);
  const size_t count = static_cast<size_t>(groups) * n_;
  be_.kmeans_assign(labels_.reserve(count), min_dist ? min_dist_.reserve(count) : nullptr, x_, x_sqnorm_,
                    centres_.data(), c_sqnorm_.data(), n_, d_, k, groups);
  be_.to_host(labels, labels_.data(), count);
  if (min_dist) be_.to_host(min_dist, min_dist_.data(), count);
}

KMeansEngine::~KMeansEngine() = default;

void KMeansEngine::bounds_begin(int runs, int k) {
  if (!bounds_) bounds_ = std::make_unique<cpu::KMeansBounds>();
  // The bounds are host memory: only a backend whose memory is the host's runs the bounded pass.
  if (be_.memory_is_host()) bounds_->reset(n_, d_, k, runs, x_sqnorm_);
}

void KMeansEngine::lloyd_pass(int32_t* labels, float* sums, int64_t* counts, const float* centers, int k,
                              int groups) {
  lloyd_pass(labels, sums, counts, centers, k, groups, nullptr);
}

void KMeansEngine::lloyd_pass(int32_t* labels, float* sums, int64_t* counts, const float* centers, int k, int groups,
                              const int32_t* slots) {
  upload_centres(centers, k, groups);
  const size_t count = static_cast<size_t>(groups) * n_, centres = static_cast<size_t>(groups) * k;
  last_k_ = k;
  last_bounded_ = false;
  last_skip_ = 0.0;
  if (slots && bounds_ && be_.memory_is_host() && bounds_->k == k) {
    last_bounded_ = be_.kmeans_lloyd_pass_bounded(labels_.reserve(count), min_dist_.reserve(count),
                                                  sums_.reserve(centres * d_), counts_.reserve(centres), *bounds_,
                                                  slots, x_, x_sqnorm_, centres_.data(), c_sqnorm_.data(), n_, d_, k,
                                                  groups);
    if (last_bounded_) last_skip_ = double(bounds_->skipped + bounds_->tightened) / double(bounds_->pairs);
  } else {
    be_.kmeans_lloyd_pass(labels_.reserve(count), min_dist_.reserve(count), sums_.reserve(centres * d_),
                          counts_.reserve(centres), x_, x_sqnorm_, centres_.data(), c_sqnorm_.data(), n_, d_, k,
                          groups);
  }
  be_.to_host(labels, labels_.data(), count);
  be_.to_host(sums, sums_.data(), centres * d_);
  be_.to_host(counts, counts_.data(), centres);
}

void KMeansEngine::last_min_dist(float* dist, int group) {
  if (last_bounded_) {
    // The bounded pass skipped most distances: the full pass's, for this group's centres (still
    // uploaded), are one assignment away; each distance has the same bits (kmeans_impl.h).
    const size_t offset = static_cast<size_t>(group) * n_;
    be_.kmeans_assign(relabel_.reserve(static_cast<size_t>(n_)), min_dist_.data() + offset, x_, x_sqnorm_,
                      centres_.data() + static_cast<size_t>(group) * last_k_ * d_,
                      c_sqnorm_.data() + static_cast<size_t>(group) * last_k_, n_, d_, last_k_, 1);
  }
  be_.to_host(dist, min_dist_.data() + static_cast<size_t>(group) * n_, static_cast<size_t>(n_));
}

void KMeansEngine::inertia(double* inertia, const float* centers, const int32_t* labels, int k, int groups) {
  const size_t centre_floats = static_cast<size_t>(groups) * k * d_, count = static_cast<size_t>(groups) * n_;
  be_.to_device(centres_.reserve(centre_floats), centers, centre_floats);
  be_.to_device(labels_.reserve(count), labels, count);
  be_.kmeans_inertia(inertia_.reserve(groups), x_, centres_.data(), labels_.data(), n_, d_, k, groups);
  be_.to_host(inertia, inertia_.data(), static_cast<size_t>(groups));
}

void KMeansEngine::pp_start(const int32_t* first_ids, int runs) {
  runs_ = runs;
  be_.to_device(cand_ids_.reserve(runs), first_ids, static_cast<size_t>(runs));
  be_.kmeans_pp_candidates(closest_.reserve(static_cast<size_t>(runs) * n_), cand_pot_.reserve(runs), x_, x_sqnorm_,
                           nullptr, cand_ids_.data(), n_, d_, 1, runs);
}

void KMeansEngine::pp_candidates(int32_t* cand_ids, double* cand_pot, const double* uniforms, int t) {
  t_ = t;
  const size_t width = static_cast<size_t>(runs_) * t;
  be_.to_device(uniforms_.reserve(width), uniforms, width);
  be_.kmeans_pp_sample(cand_ids_.reserve(width), closest_.data(), uniforms_.data(), n_, t, runs_);
  be_.kmeans_pp_candidates(cand_dist_.reserve(width * n_), cand_pot_.reserve(width), x_, x_sqnorm_, closest_.data(),
                           cand_ids_.data(), n_, d_, t, runs_);
  be_.to_host(cand_ids, cand_ids_.data(), width);
  be_.to_host(cand_pot, cand_pot_.data(), width);
}

void KMeansEngine::pp_keep(const int* best) {
  for (int r = 0; r < runs_; ++r)
    be_.copy(closest_.data() + static_cast<size_t>(r) * n_,
             cand_dist_.data() + (static_cast<size_t>(r) * t_ + best[r]) * n_, static_cast<size_t>(n_));
}

void KMeansEngine::minibatch_step(float* centers_new, double* counts, int32_t* labels, float* dist,
                                  const float* centers, const int32_t* rows, int64_t b, int k) {
  const size_t centre_floats = static_cast<size_t>(k) * d_, batch = static_cast<size_t>(b);
  const std::span<const int32_t> batch_rows(rows, batch);
  be_.gather_rows(batch_.reserve(batch * d_), x_, n_, batch_rows, d_);
  be_.gather_rows(batch_sqnorm_.reserve(batch), x_sqnorm_, n_, batch_rows, 1);
  upload_centres(centers, k, 1);
  be_.to_device(minibatch_counts_.reserve(k), counts, static_cast<size_t>(k));
  be_.kmeans_assign(labels_.reserve(batch), min_dist_.reserve(batch), batch_.data(), batch_sqnorm_.data(),
                    centres_.data(), c_sqnorm_.data(), b, d_, k, 1);
  be_.kmeans_minibatch_update(centres_new_.reserve(centre_floats), minibatch_counts_.data(), centres_.data(),
                              batch_.data(), labels_.data(), b, d_, k);
  be_.to_host(labels, labels_.data(), batch);
  be_.to_host(dist, min_dist_.data(), batch);
  be_.to_host(centers_new, centres_new_.data(), centre_floats);
  be_.to_host(counts, minibatch_counts_.data(), static_cast<size_t>(k));
}

}  // namespace zs
