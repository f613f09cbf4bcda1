// sklearn's init="pca" for t-SNE (tsne.h): the top two principal components by block subspace
// iteration on the covariance, never forming it (a d x d covariance of 784 features would cost
// n d^2 flops; an iteration costs 4 n d b). Every sum has a fixed order (row chunks of kChunkRows
// added in chunk order), so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "runtime/embed/tsne.h"

namespace zs {
namespace {

constexpr int kBlock = 6;              // two wanted components + four that speed up convergence
constexpr int kMaxIterations = 500;
constexpr double kRitzTolerance = 1e-12;
constexpr int64_t kChunkRows = 2048;

using Matrix = std::vector<double>;   // row-major

// Modified Gram-Schmidt on the b columns of v[d][b].
void orthonormalize(Matrix& v, int d, int b) {
  for (int c = 0; c < b; ++c) {
    for (int p = 0; p < c; ++p) {
      double dot = 0;
      for (int f = 0; f < d; ++f) dot += v[size_t(f) * b + p] * v[size_t(f) * b + c];
      for (int f = 0; f < d; ++f) v[size_t(f) * b + c] -= dot * v[size_t(f) * b + p];
    }
    double norm = 0;
    for (int f = 0; f < d; ++f) norm += v[size_t(f) * b + c] * v[size_t(f) * b + c];
    norm = std::sqrt(norm);
    // A column that vanished (rank-deficient data) restarts as a unit vector.
    for (int f = 0; f < d; ++f) v[size_t(f) * b + c] = norm > 0 ? v[size_t(f) * b + c] / norm : (f == c ? 1.0 : 0.0);
  }
}

// Cyclic Jacobi: a symmetric b x b matrix a -> eigenvalues (diagonal of a) and eigenvectors e (columns).
void jacobi_eigen(Matrix& a, Matrix& e, int b) {
  e.assign(size_t(b) * b, 0.0);
  for (int i = 0; i < b; ++i) e[size_t(i) * b + i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int p = 0; p < b; ++p)
      for (int q = p + 1; q < b; ++q) off += a[size_t(p) * b + q] * a[size_t(p) * b + q];
    if (off == 0) return;
    for (int p = 0; p < b; ++p)
      for (int q = p + 1; q < b; ++q) {
        const double apq = a[size_t(p) * b + q];
        if (apq == 0) continue;
        const double theta = (a[size_t(q) * b + q] - a[size_t(p) * b + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < b; ++k) {   // a <- J^T a J
          const double akp = a[size_t(k) * b + p], akq = a[size_t(k) * b + q];
          a[size_t(k) * b + p] = c * akp - s * akq;
          a[size_t(k) * b + q] = s * akp + c * akq;
        }
        for (int k = 0; k < b; ++k) {
          const double apk = a[size_t(p) * b + k], aqk = a[size_t(q) * b + k];
          a[size_t(p) * b + k] = c * apk - s * aqk;
          a[size_t(q) * b + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < b; ++k) {
          const double ekp = e[size_t(k) * b + p], ekq = e[size_t(k) * b + q];
          e[size_t(k) * b + p] = c * ekp - s * ekq;
          e[size_t(k) * b + q] = s * ekp + c * ekq;
        }
      }
  }
}

// w[d][b] = Xc^T (Xc v) for the centred data, summed in row-chunk order.
void covariance_times(Matrix& w, const float* x, const std::vector<double>& mean, const Matrix& v, int64_t n, int d,
                      int b) {
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  std::vector<Matrix> partial(size_t(chunks), Matrix(size_t(d) * b, 0.0));
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    Matrix& out = partial[size_t(ch)];
    std::vector<double> xc(static_cast<size_t>(d)), t(static_cast<size_t>(b));
    for (int64_t i = ch * kChunkRows; i < std::min(n, (ch + 1) * kChunkRows); ++i) {
      for (int f = 0; f < d; ++f) xc[size_t(f)] = double(x[i * d + f]) - mean[size_t(f)];
      std::fill(t.begin(), t.end(), 0.0);
      for (int f = 0; f < d; ++f)
        for (int c = 0; c < b; ++c) t[size_t(c)] += xc[size_t(f)] * v[size_t(f) * b + c];
      for (int f = 0; f < d; ++f)
        for (int c = 0; c < b; ++c) out[size_t(f) * b + c] += xc[size_t(f)] * t[size_t(c)];
    }
  }
  w.assign(size_t(d) * b, 0.0);
  for (const Matrix& p : partial)
    for (size_t e = 0; e < w.size(); ++e) w[e] += p[e];
}

}  // namespace

std::vector<float> tsne_pca_init(const float* x, int64_t n, int d) {
  if (d < 2) throw std::invalid_argument("t-SNE init \"pca\" needs at least 2 features (use init \"random\")");
  if (n < 2) throw std::invalid_argument("t-SNE needs at least 2 rows");
  const int b = std::min(kBlock, d);
  std::vector<double> mean(size_t(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int f = 0; f < d; ++f) mean[size_t(f)] += x[i * d + f];
  for (double& m : mean) m /= double(n);

  Matrix v(size_t(d) * b), w, rayleigh(size_t(b) * b), vectors;
  uint64_t state = 0x9E3779B97F4A7C15ull;   // a fixed start: any subspace not orthogonal to the answer
  for (double& e : v) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    e = double(state >> 11) * 0x1p-53 - 0.5;
  }
  orthonormalize(v, d, b);
  double previous[2] = {-1, -1};
  for (int it = 0; it < kMaxIterations; ++it) {
    covariance_times(w, x, mean, v, n, d, b);
    for (int p = 0; p < b; ++p)
      for (int q = 0; q < b; ++q) {
        double s = 0;
        for (int f = 0; f < d; ++f) s += v[size_t(f) * b + p] * w[size_t(f) * b + q];
        rayleigh[size_t(p) * b + q] = s;
      }
    for (int p = 0; p < b; ++p)   // symmetric up to rounding: make it exactly so
      for (int q = p + 1; q < b; ++q)
        rayleigh[size_t(p) * b + q] = rayleigh[size_t(q) * b + p] =
            (rayleigh[size_t(p) * b + q] + rayleigh[size_t(q) * b + p]) / 2;
    jacobi_eigen(rayleigh, vectors, b);
    std::vector<int> order(static_cast<size_t>(b));
    for (int c = 0; c < b; ++c) order[size_t(c)] = c;
    std::stable_sort(order.begin(), order.end(), [&](int p, int q) {
      return rayleigh[size_t(p) * b + p] > rayleigh[size_t(q) * b + q];
    });
    const double top[2] = {rayleigh[size_t(order[0]) * b + order[0]], rayleigh[size_t(order[1]) * b + order[1]]};
    const bool converged = std::fabs(top[0] - previous[0]) <= kRitzTolerance * std::fabs(top[0]) &&
                           std::fabs(top[1] - previous[1]) <= kRitzTolerance * std::fabs(top[0]);
    previous[0] = top[0];
    previous[1] = top[1];
    if (converged || it == kMaxIterations - 1) {
      // Ritz vectors of the top two, then the projections.
      std::vector<double> comp(size_t(d) * 2, 0.0);
      for (int c = 0; c < 2; ++c)
        for (int f = 0; f < d; ++f)
          for (int q = 0; q < b; ++q) comp[size_t(f) * 2 + c] += v[size_t(f) * b + q] * vectors[size_t(q) * b + order[size_t(c)]];
      std::vector<double> proj(size_t(n) * 2, 0.0);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i)
        for (int f = 0; f < d; ++f)
          for (int c = 0; c < 2; ++c) proj[size_t(i) * 2 + c] += (x[i * d + f] - mean[size_t(f)]) * comp[size_t(f) * 2 + c];
      for (int c = 0; c < 2; ++c) {   // svd_flip: the largest |entry| of each column positive
        int64_t arg = 0;
        for (int64_t i = 1; i < n; ++i)
          if (std::fabs(proj[size_t(i) * 2 + c]) > std::fabs(proj[size_t(arg) * 2 + c])) arg = i;
        if (proj[size_t(arg) * 2 + c] < 0)
          for (int64_t i = 0; i < n; ++i) proj[size_t(i) * 2 + c] = -proj[size_t(i) * 2 + c];
      }
      double m0 = 0, var0 = 0;
      for (int64_t i = 0; i < n; ++i) m0 += proj[size_t(i) * 2];
      m0 /= double(n);
      for (int64_t i = 0; i < n; ++i) var0 += (proj[size_t(i) * 2] - m0) * (proj[size_t(i) * 2] - m0);
      const double std0 = std::sqrt(var0 / double(n));
      const double scale = std0 > 0 ? 1e-4 / std0 : 0.0;
      std::vector<float> y(size_t(n) * 2);
      for (size_t e = 0; e < y.size(); ++e) y[e] = float(proj[e] * scale);
      return y;
    }
    v = w;
    orthonormalize(v, d, b);
  }
  return {};   // unreachable: the last iteration returns
}

}  // namespace zs
