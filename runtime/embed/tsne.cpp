// t-SNE on a Backend (contract and sklearn correspondence: tsne.h).
#include "runtime/embed/tsne.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>

#include "kernels/philox.h"

namespace zs {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("tsne: " + what);
}

// sklearn's init="random": 1e-4 N(0, 1) per coordinate, here from the counter-based normal.
std::vector<float> random_init(int64_t n, uint64_t seed) {
  std::vector<float> y(size_t(n) * 2);
  for (size_t e = 0; e < y.size(); ++e) y[e] = 1e-4f * philox_vae_normal(seed, 0, e);
  return y;
}

}  // namespace

std::string to_string(TsneMethod method) {
  switch (method) {
    case TsneMethod::Auto: return "auto";
    case TsneMethod::Exact: return "exact";
    case TsneMethod::BarnesHut: return "barnes_hut";
  }
  return "?";
}

TsneMethod parse_tsne_method(const std::string& name) {
  if (name == "auto") return TsneMethod::Auto;
  if (name == "exact") return TsneMethod::Exact;
  if (name == "barnes_hut") return TsneMethod::BarnesHut;
  throw std::invalid_argument("unknown t-SNE method '" + name + "' (auto, exact or barnes_hut)");
}

TsneResult tsne(Backend& be, const float* x, int64_t n, int d, const TsneOptions& o) {
  require(n >= 2, "needs at least 2 rows (got " + std::to_string(n) + ")");
  require(n <= (int64_t(1) << 30), "at most 2^30 rows");
  require(d >= 1, "needs at least 1 feature");
  require(o.perplexity > 0 && o.perplexity < float(n),
          "perplexity must be in (0, n) = (0, " + std::to_string(n) + "), got " + std::to_string(o.perplexity));
  require(o.early_exaggeration >= 1, "early_exaggeration must be >= 1");
  require(o.max_iter >= 1 && o.exploration_iters >= 0, "iteration counts must be positive");
  require(o.n_iter_check >= 1, "n_iter_check must be >= 1");
  require(o.angle > 0 && o.angle < 1, "angle must be in (0, 1)");

  TsneResult r;
  r.method = o.method;
  if (r.method == TsneMethod::Auto) r.method = be.name() == "cpu" ? TsneMethod::BarnesHut : TsneMethod::Exact;
  require(r.method == TsneMethod::Exact || be.name() == "cpu",
          "barnes_hut runs on the cpu backend only (use exact on " + be.name() + ")");
  const float theta = r.method == TsneMethod::BarnesHut ? o.angle : 0.f;
  const int k = int(std::min<int64_t>(n - 1, int64_t(3.0 * double(o.perplexity) + 1)));
  r.neighbours = k;
  require(int64_t(k) * n * 2 <= std::numeric_limits<int32_t>::max(), "n * k too large for the sparse P");

  // 1-3. Neighbours, conditional P and the symmetric P, all in backend memory.
  auto start = Clock::now();
  const size_t edges = size_t(n) * size_t(k);
  DeviceBuffer<int32_t> row_ptr(be, size_t(n) + 1), col(be, 2 * edges);
  DeviceBuffer<float> val(be, 2 * edges);
  DeviceBuffer<double> p_sum_device(be, 1);
  double p_sum = 0;
  {
    DeviceBuffer<float> dx(be, size_t(n) * size_t(d)), dist(be, edges), cond(be, edges);
    DeviceBuffer<int32_t> idx(be, edges);
    dx.upload(std::span<const float>(x, size_t(n) * size_t(d)));
    be.tsne_knn(idx.data(), dist.data(), dx.data(), n, d, k);
    be.synchronize();   // the kNN time is the kNN's
    r.seconds_knn = seconds_since(start);
    start = Clock::now();
    be.tsne_conditional_p(cond.data(), dist.data(), n, k, o.perplexity);
    be.tsne_symmetrize(row_ptr.data(), col.data(), val.data(), p_sum_device.data(), idx.data(), cond.data(), n, k);
    be.to_host(&p_sum, p_sum_device.data(), 1);   // synchronizes before the scratch above is freed
  }
  r.seconds_p = seconds_since(start);

  // 4-5. Init and optimisation.
  start = Clock::now();
  const std::vector<float> y0 = o.init == TsneInit::Pca ? tsne_pca_init(x, n, d) : random_init(n, o.seed);
  DeviceBuffer<float> y(be, size_t(2 * n)), update(be, size_t(2 * n)), gains(be, size_t(2 * n));
  DeviceBuffer<float> attraction(be, size_t(2 * n)), repulsion(be, size_t(2 * n));
  DeviceBuffer<double> kl_row(be, size_t(n)), zrow(be, size_t(n)), stats(be, 2);
  y.upload(y0);
  const float learning_rate =
      o.learning_rate > 0 ? o.learning_rate : std::max(float(n) / o.early_exaggeration / 4.f, 50.f);

  std::vector<double> kl_host(static_cast<size_t>(n));
  double host_stats[2];
  double error = std::numeric_limits<double>::max();
  // sklearn's _gradient_descent for iterations [first, last), one call per phase.
  auto descend = [&](int first, int last, float momentum, float exaggeration, int without_progress) {
    be.fill(update.data(), 0.f, update.size());
    be.fill(gains.data(), 1.f, gains.size());
    double best_error = std::numeric_limits<double>::max();
    int best_iter = first, i = first;
    for (; i < last; ++i) {
      const bool check = (i + 1) % o.n_iter_check == 0;
      const bool with_error = check || i == last - 1;
      be.tsne_attractive(attraction.data(), with_error ? kl_row.data() : nullptr, row_ptr.data(), col.data(),
                         val.data(), y.data(), n, exaggeration);
      be.tsne_repulsive(repulsion.data(), zrow.data(), y.data(), n, theta);
      be.tsne_gradient_step(y.data(), update.data(), gains.data(), stats.data(), attraction.data(), repulsion.data(),
                            zrow.data(), n, momentum, learning_rate);
      if (!with_error) continue;
      be.to_host(host_stats, stats.data(), 2);
      be.to_host(kl_host.data(), kl_row.data(), kl_host.size());
      // KL = sum p log(p / t) + log(Z) sum p, with p exaggerated as sklearn's reported error.
      double kl = 0;
      for (double v : kl_host) kl += v;
      error = kl + std::log(host_stats[0]) * double(exaggeration) * p_sum;
      if (!check) continue;
      if (error < best_error) {
        best_error = error;
        best_iter = i;
      } else if (i - best_iter > without_progress) {
        break;
      }
      if (std::sqrt(host_stats[1]) <= o.min_grad_norm) break;
    }
    return std::min(i, last - 1);
  };
  const int explore = std::min(o.exploration_iters, o.max_iter);
  int it = explore > 0 ? descend(0, explore, 0.5f, o.early_exaggeration, explore) : -1;
  if (it + 1 < o.max_iter) it = descend(it + 1, o.max_iter, 0.8f, 1.f, o.n_iter_without_progress);
  r.embedding.resize(size_t(2 * n));
  be.to_host(r.embedding.data(), y.data(), r.embedding.size());
  r.seconds_optimize = seconds_since(start);
  r.kl_divergence = error;
  r.n_iter = it;
  return r;
}

}  // namespace zs
