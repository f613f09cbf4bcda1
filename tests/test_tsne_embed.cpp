// The t-SNE host algorithm (runtime/embed) on the cpu backend: planted clusters come out separated,
// the same bits for 1, 2 and 3 threads with either repulsion method, the PCA init finds known
// principal axes with sklearn's sign and scale, and bad arguments are refused.
#include <catch2/catch.hpp>
#include <omp.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/embed/tsne.h"
#include "omp_threads.h"

namespace {

// `blobs` well separated Gaussian blobs in d dimensions, point i in blob i % blobs.
std::vector<float> planted(int64_t n, int d, int blobs, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> centres(size_t(blobs) * size_t(d));
  for (float& c : centres) c = 10.f * normal(rng);
  std::vector<float> x(size_t(n) * size_t(d));
  for (int64_t i = 0; i < n; ++i)
    for (int f = 0; f < d; ++f) x[size_t(i * d + f)] = centres[size_t((i % blobs) * d + f)] + normal(rng);
  return x;
}

// Fraction of points whose nearest embedded neighbour comes from the same blob.
double same_blob_neighbour_rate(const std::vector<float>& y, int64_t n, int blobs) {
  int64_t same = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = -1;
    double best_d = INFINITY;
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const double dx = y[size_t(2 * i)] - y[size_t(2 * j)], dy = y[size_t(2 * i + 1)] - y[size_t(2 * j + 1)];
      if (dx * dx + dy * dy < best_d) {
        best_d = dx * dx + dy * dy;
        best = j;
      }
    }
    same += best % blobs == i % blobs;
  }
  return double(same) / double(n);
}

using zs_test::with_threads;

}  // namespace

TEST_CASE("t-SNE separates planted clusters with both repulsion methods", "[tsne][embed]") {
  const int64_t n = 240;
  const int d = 12, blobs = 4;
  const std::vector<float> x = planted(n, d, blobs, 3);
  auto be = zs::make_cpu_backend();
  for (zs::TsneMethod method : {zs::TsneMethod::Exact, zs::TsneMethod::BarnesHut}) {
    zs::TsneOptions o;
    o.perplexity = 20;
    o.method = method;
    const zs::TsneResult r = zs::tsne(*be, x.data(), n, d, o);
    INFO("method " << zs::to_string(method) << ": KL " << r.kl_divergence << ", n_iter " << r.n_iter);
    CHECK(r.method == method);
    CHECK(r.neighbours == 61);
    REQUIRE(r.embedding.size() == size_t(2 * n));
    CHECK(std::isfinite(r.kl_divergence));
    CHECK(r.kl_divergence > 0);
    CHECK(r.kl_divergence < 1.0);   // well separated blobs embed with little loss
    CHECK(r.n_iter >= 250);
    CHECK(same_blob_neighbour_rate(r.embedding, n, blobs) == 1.0);
  }
}

TEST_CASE("t-SNE gives the same embedding on 1, 2 and 3 threads", "[tsne][embed]") {
  const int64_t n = 300;
  const int d = 7;
  const std::vector<float> x = planted(n, d, 5, 8);
  auto be = zs::make_cpu_backend();
  for (zs::TsneMethod method : {zs::TsneMethod::Exact, zs::TsneMethod::BarnesHut}) {
    for (zs::TsneInit init : {zs::TsneInit::Pca, zs::TsneInit::Random}) {
      zs::TsneOptions o;
      o.perplexity = 15;
      o.max_iter = 400;
      o.method = method;
      o.init = init;
      o.seed = 17;
      auto run = [&](int threads) {
        zs::TsneResult r;
        with_threads(threads, [&] { r = zs::tsne(*be, x.data(), n, d, o); });
        return r;
      };
      const zs::TsneResult one = run(1);
      for (int threads : {2, 3}) {
        const zs::TsneResult other = run(threads);
        INFO(zs::to_string(method) << ", " << threads << " threads");
        CHECK(other.embedding == one.embedding);
        CHECK(other.kl_divergence == one.kl_divergence);
        CHECK(other.n_iter == one.n_iter);
      }
    }
  }
}

TEST_CASE("the PCA init finds the principal axes, sklearn's sign and scale", "[tsne][embed]") {
  // x = 5 s u + 2 t v + 0.01 noise in 9-D, u and v orthonormal: the components are s and t.
  const int64_t n = 2500;   // more than one row chunk
  const int d = 9;
  std::mt19937 rng(4);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> u(static_cast<size_t>(d)), v(static_cast<size_t>(d)), s(static_cast<size_t>(n)), t(static_cast<size_t>(n));
  for (int f = 0; f < d; ++f) u[size_t(f)] = (f % 3 == 0) ? 1 / std::sqrt(3.0) : 0;
  for (int f = 0; f < d; ++f) v[size_t(f)] = (f % 3 == 1) ? 1 / std::sqrt(3.0) : 0;
  std::vector<float> x(size_t(n) * size_t(d));
  for (int64_t i = 0; i < n; ++i) {
    s[size_t(i)] = normal(rng);
    t[size_t(i)] = normal(rng);
    for (int f = 0; f < d; ++f)
      x[size_t(i * d + f)] = float(3 + 5 * s[size_t(i)] * u[size_t(f)] + 2 * t[size_t(i)] * v[size_t(f)] +
                                   0.01 * normal(rng));
  }
  const std::vector<float> y = zs::tsne_pca_init(x.data(), n, d);
  REQUIRE(y.size() == size_t(2 * n));
  for (int c = 0; c < 2; ++c) {
    const std::vector<double>& truth = c == 0 ? s : t;
    double sy = 0, syy = 0, st = 0, stt = 0, syt = 0;
    int64_t arg = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double a = y[size_t(2 * i + c)], b = truth[size_t(i)];
      sy += a, syy += a * a, st += b, stt += b * b, syt += a * b;
      if (std::fabs(a) > std::fabs(y[size_t(2 * arg + c)])) arg = i;
    }
    const double corr = (syt - sy * st / double(n)) /
                         std::sqrt((syy - sy * sy / double(n)) * (stt - st * st / double(n)));
    INFO("component " << c << ": correlation " << corr);
    CHECK(std::fabs(corr) > 0.9999);   // the noise (0.01 against 2) limits it to about 1 - 1e-5
    CHECK(y[size_t(2 * arg + c)] > 0);   // svd_flip
    if (c == 0) CHECK(std::sqrt(syy / double(n) - (sy / double(n)) * (sy / double(n))) == Approx(1e-4).epsilon(1e-5));
  }
}

TEST_CASE("t-SNE refuses bad arguments", "[tsne][embed]") {
  auto be = zs::make_cpu_backend();
  const std::vector<float> x = planted(10, 3, 2, 1);
  zs::TsneOptions o;
  o.perplexity = 10;   // == n
  CHECK_THROWS_AS(zs::tsne(*be, x.data(), 10, 3, o), std::invalid_argument);
  o.perplexity = 3;
  CHECK_THROWS_AS(zs::tsne(*be, x.data(), 1, 3, o), std::invalid_argument);
  CHECK_THROWS_AS(zs::parse_tsne_method("fft"), std::invalid_argument);
  o.init = zs::TsneInit::Pca;
  CHECK_THROWS_AS(zs::tsne(*be, x.data(), 30, 1, o), std::invalid_argument);   // pca needs 2 features
}
