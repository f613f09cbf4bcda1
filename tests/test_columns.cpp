// The column statistics twin (kernels/cpu/columns.h) against naive loops: the sums are the row-order
// double sums exactly (the same additions), the squared deviations within the rounding of n fma
// steps of a sum of non-negative terms ((n + 1) 2^-53 relative), the centring one float rounding.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "kernels/cpu/columns.h"
#include "omp_threads.h"
#include "test_data.h"

TEST_CASE("column_moments and centre_columns against naive loops", "[columns]") {
  const int64_t n = 513;
  const int d = 7;
  std::vector<float> x = zs_test::random_points(n, d, 3, 2.f);
  for (int64_t i = 0; i < n; ++i) x[size_t(i * d + 4)] = 5.f;   // a constant feature: deviations exactly 0
  std::vector<double> sum(static_cast<size_t>(d)), sq(static_cast<size_t>(d));
  zs::cpu::column_moments(sum.data(), sq.data(), x.data(), n, d);
  std::vector<float> centred(x.size());
  zs::cpu::centre_columns(centred.data(), x.data(), sum.data(), n, d);
  for (int f = 0; f < d; ++f) {
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; ++i) s += x[size_t(i * d + f)];
    for (int64_t i = 0; i < n; ++i) q += (x[size_t(i * d + f)] - s / double(n)) * (x[size_t(i * d + f)] - s / double(n));
    CHECK(sum[size_t(f)] == s);
    CHECK(std::fabs(sq[size_t(f)] - q) <= double(n + 1) * 0x1p-53 * q);
    for (int64_t i = 0; i < n; ++i)
      REQUIRE(centred[size_t(i * d + f)] == x[size_t(i * d + f)] - float(s / double(n)));
  }
  CHECK(sq[4] == 0.0);
  // Threads split rows only: the same bits on 1 and 3 threads.
  std::vector<float> c1(x.size()), c3(x.size());
  zs_test::with_threads(1, [&] { zs::cpu::centre_columns(c1.data(), x.data(), sum.data(), n, d); });
  zs_test::with_threads(3, [&] { zs::cpu::centre_columns(c3.data(), x.data(), sum.data(), n, d); });
  CHECK(c1 == c3);
}
