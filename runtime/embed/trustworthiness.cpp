// Trustworthiness (trustworthiness.h). Input distances as |x_i|^2 + |x_l|^2 - 2 x_i.x_l with the
// dot products from OpenBLAS, a block of rows at a time (5,000 x 784 pixels is 2e10 multiply-adds:
// a GEMM's job); ranks count the strictly closer points.
#include "runtime/embed/trustworthiness.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

namespace zs {

namespace {
constexpr int64_t kRowBlock = 256;
}

double trustworthiness(const float* x, int64_t n, int d, const float* y, int dy, int k) {
  if (k < 1 || 2 * int64_t(k) >= n) throw std::invalid_argument("trustworthiness: k must be in [1, n / 2)");
  std::vector<double> sqnorm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int f = 0; f < d; ++f) s += double(x[i * d + f]) * x[i * d + f];
    sqnorm[size_t(i)] = s;
  }
  std::vector<float> gram(size_t(kRowBlock) * size_t(n));
  std::vector<std::pair<double, int64_t>> embedded(static_cast<size_t>(n));
  double penalty = 0;
  for (int64_t r0 = 0; r0 < n; r0 += kRowBlock) {
    const int64_t rows = std::min(kRowBlock, n - r0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(n), d, 1.f, x + r0 * d, d, x, d, 0.f,
                gram.data(), int(n));
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r0 + r;
      const float* g = gram.data() + r * n;
      auto input = [&](int64_t l) { return sqnorm[size_t(i)] + sqnorm[size_t(l)] - 2.0 * g[l]; };
      for (int64_t j = 0; j < n; ++j) {
        double e = 0;
        for (int f = 0; f < dy; ++f) e += (double(y[i * dy + f]) - y[j * dy + f]) * (double(y[i * dy + f]) - y[j * dy + f]);
        embedded[size_t(j)] = {j == i ? INFINITY : e, j};
      }
      std::partial_sort(embedded.begin(), embedded.begin() + k, embedded.end());
      for (int m = 0; m < k; ++m) {
        const double dj = input(embedded[size_t(m)].second);
        int64_t rank = 1;   // 1 + the points (not i) strictly closer to i than j in the input
        for (int64_t l = 0; l < n; ++l) rank += l != i && input(l) < dj;
        if (rank > k) penalty += double(rank - k);
      }
    }
  }
  return 1.0 - penalty * (2.0 / (double(n) * k * (2.0 * double(n) - 3.0 * k - 1.0)));
}

}  // namespace zs
