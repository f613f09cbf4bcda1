#include "tools/train_mnist/kmeans_options.h"

#include "runtime/cluster/kmeans_dist.h"
#include "runtime/core/error.h"
#include "runtime/dist/communicator.h"
#include "tools/train_mnist/common.h"

namespace zs::driver {

void add_kmeans_options(CLI::App& cmd, KMeansCliOptions& o) {
  cmd.add_option("--algo", o.algo, "lloyd|minibatch")->capture_default_str();
  cmd.add_option("--init", o.init, "k-means++|random")->capture_default_str();
  o.n_init_opt = cmd.add_option("--n-init", o.n_init,
                                "initializations; lloyd keeps the best full run, minibatch the best init "
                                "(default 10 lloyd, 3 minibatch)");
  o.max_iter_opt = cmd.add_option("--max-iter", o.max_iter, "iterations (lloyd) / epochs (minibatch) (default 300 / 100)");
  o.tol_opt = cmd.add_option("--tol", o.tol,
                             "centre-shift tolerance relative to the mean feature variance (default 1e-4 lloyd, 0 minibatch)");
  cmd.add_option("--batch-size", o.batch_size, "minibatch: points per step")->capture_default_str();
  cmd.add_option("--max-no-improvement", o.max_no_improvement, "minibatch: steps without EWA-inertia improvement (0 = off)")
      ->capture_default_str();
  cmd.add_option("--reassignment-ratio", o.reassignment_ratio, "minibatch: low-count centre reassignment ratio")
      ->capture_default_str();
  cmd.add_option("--init-size", o.init_size, "minibatch: init subsample size (0 = 3 x batch size)")->capture_default_str();
  cmd.add_option("--scale", o.scale, "none|unit|normalize|standardize (features are scaled before clustering)")
      ->capture_default_str();
}

KMeansSettings resolve_kmeans_options(const KMeansCliOptions& o, uint64_t seed) {
  KMeansSettings s;
  s.minibatch = o.algo == "minibatch";
  if (!s.minibatch && o.algo != "lloyd") throw UserError("--algo " + o.algo + ": unknown algorithm; use lloyd or minibatch");
  s.init = parse_kmeans_init(o.init);
  s.scale = parse_scale_kind(o.scale);
  s.n_init = o.n_init_opt->count() ? o.n_init : (s.minibatch ? 3 : 10);
  s.max_iter = o.max_iter_opt->count() ? o.max_iter : (s.minibatch ? 100 : 300);
  s.tol = o.tol_opt->count() ? o.tol : (s.minibatch ? 0.0 : 1e-4);
  require_range("--n-init", s.n_init, 1, 1000);
  require_range("--max-iter", s.max_iter, 1, 1e6);
  require_range("--tol", s.tol, 0, 1e6);
  require_range("--batch-size", o.batch_size, 1, 1 << 24);
  require_range("--max-no-improvement", o.max_no_improvement, 0, 1e9);
  require_range("--reassignment-ratio", o.reassignment_ratio, 0, 1);
  require_range("--init-size", o.init_size, 0, 1 << 30);
  s.batch_size = o.batch_size;
  s.max_no_improvement = o.max_no_improvement;
  s.reassignment_ratio = o.reassignment_ratio;
  s.init_size = o.init_size;
  s.seed = seed;
  return s;
}

void require_valid_k(const std::string& option, int k, int64_t samples) {
  if (k < 1) throw UserError(option + " " + std::to_string(k) + ": need at least 1 cluster");
  if (k > samples)
    throw UserError(option + " " + std::to_string(k) + ": more clusters than the " + std::to_string(samples) +
                    " training samples; use at most " + std::to_string(samples) + " or more data (--train-limit)");
}

namespace {

// Either algorithm on host or resident data (fit_kmeans and fit_minibatch_kmeans take both).
template <class View>
KMeansFit fit_either(View x, int k, const KMeansSettings& s, Backend& backend) {
  // The options both algorithms take, in either options struct.
  const auto shared = [&](auto& o) {
    o.k = k;
    o.init = s.init;
    o.n_init = s.n_init;
    o.max_iter = s.max_iter;
    o.tol = s.tol;
    o.seed = s.seed;
    o.backend = &backend;
  };
  Communicator& comm = world();
  const bool dist = distributed(&comm);
  // Data-parallel: x is this rank's contiguous block (RunContext loads it, aligned to
  // kRankShardAlign so that the CPU pass's sum blocks stay whole: kmeans_dist.h); the labels of all
  // blocks are gathered so that the classifier and the outputs see the whole training set, as in
  // one process.
  static_assert(kRankShardAlign % cluster_detail::kShardAlignRows == 0);
  KMeansFit fit;
  if (s.minibatch) {
    MiniBatchKMeansOptions m;
    shared(m);
    m.batch_size = s.batch_size;
    m.max_no_improvement = s.max_no_improvement;
    m.reassignment_ratio = s.reassignment_ratio;
    m.init_size = s.init_size;
    if (dist) m.comm = &comm;
    fit = fit_minibatch_kmeans(x, m);
  } else {
    KMeansOptions l;
    shared(l);
    if (dist) l.comm = &comm;
    fit = fit_kmeans(x, l);
  }
  if (dist) fit.labels = comm.allgather(std::span<const int32_t>(fit.labels));
  return fit;
}

}  // namespace

KMeansFit fit_clusters(MatrixView x, int k, const KMeansSettings& s, Backend& backend) {
  return fit_either(x, k, s, backend);
}

KMeansFit fit_clusters(DeviceMatrixView x, int k, const KMeansSettings& s, Backend& backend) {
  return fit_either(x, k, s, backend);
}

void record_kmeans_settings(nlohmann::json& m, const KMeansSettings& s) {
  m["algo"] = s.minibatch ? "minibatch" : "lloyd";
  m["init"] = std::string(to_string(s.init));
  m["n_init"] = s.n_init;
  m["max_iter"] = s.max_iter;
  m["tol"] = s.tol;
  if (s.minibatch) {
    m["batch_size"] = s.batch_size;
    m["max_no_improvement"] = s.max_no_improvement;
    m["reassignment_ratio"] = s.reassignment_ratio;
    m["init_size"] = s.init_size;
  }
  m["scale"] = std::string(to_string(s.scale));
  m["seed"] = s.seed;
}

}  // namespace zs::driver
