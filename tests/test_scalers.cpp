// Feature scalers (runtime/cluster/scalers.h) against hand-computed values.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "runtime/cluster/scalers.h"
#include "runtime/core/error.h"

namespace {

using zs::MatrixView;
using zs::ScaleKind;
using zs::Scaler;

// Element-wise |got - want| <= 1e-6 + 1e-6 |want|, reporting the first mismatch.
void require_values(const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("index " << i << ": got " << got[i] << ", want " << want[i]);
    REQUIRE(std::fabs(got[i] - want[i]) <= 1e-6 + 1e-6 * std::fabs(want[i]));
  }
}

std::vector<float> apply(const Scaler& s, const std::vector<float>& x, int cols) {
  std::vector<float> out(x.size());
  s.transform(out.data(), MatrixView{x.data(), int64_t(x.size()) / cols, cols});
  return out;
}

}  // namespace

TEST_CASE("scaler none leaves the data unchanged", "[scalers]") {
  const std::vector<float> x = {0.f, 255.f, -3.5f, 7.f};
  Scaler s(ScaleKind::None);
  s.fit(MatrixView{x.data(), 2, 2});
  require_values(apply(s, x, 2), {0, 255, -3.5, 7});
}

TEST_CASE("scaler unit divides by 255", "[scalers]") {
  const std::vector<float> x = {0.f, 255.f, 51.f, 127.5f};
  Scaler s(ScaleKind::Unit);
  require_values(apply(s, x, 2), {0.0, 1.0, 0.2, 0.5});  // fit is optional for a stateless scaler
  // The byte overload gives the same values.
  const std::vector<uint8_t> bytes = {0, 255, 51, 102};
  std::vector<float> out(4);
  s.transform(out.data(), bytes.data(), 2, 2);
  require_values(out, {0.0, 1.0, 0.2, 0.4});
}

TEST_CASE("scaler normalize gives every row unit L2 norm", "[scalers]") {
  // Rows (3, 4) -> (3, 4) / 5; the zero row stays zero; (-2, 0) -> (-1, 0).
  const std::vector<float> x = {3.f, 4.f, 0.f, 0.f, -2.f, 0.f};
  Scaler s(ScaleKind::Normalize);
  s.fit(MatrixView{x.data(), 3, 2});
  require_values(apply(s, x, 2), {0.6, 0.8, 0.0, 0.0, -1.0, 0.0});
}

TEST_CASE("scaler standardize uses the training mean and population std", "[scalers]") {
  // Feature 0: 1, 2, 3, 6 -> mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5.
  // Feature 1: constant 5 -> std treated as 1, so it becomes x - 5.
  // Feature 2: 0, 0, 10, 10 -> mean 5, std 5.
  const std::vector<float> train = {1.f, 5.f, 0.f, 2.f, 5.f, 0.f, 3.f, 5.f, 10.f, 6.f, 5.f, 10.f};
  Scaler s(ScaleKind::Standardize);
  s.fit(MatrixView{train.data(), 4, 3});
  const double sd0 = std::sqrt(3.5);
  CHECK(s.mean() == std::vector<double>{3.0, 5.0, 5.0});
  CHECK(std::fabs(s.stddev()[0] - sd0) < 1e-12);
  CHECK(s.stddev()[1] == 1.0);
  CHECK(s.stddev()[2] == 5.0);
  require_values(apply(s, train, 3), {-2 / sd0, 0, -1, -1 / sd0, 0, -1, 0, 0, 1, 3 / sd0, 0, 1});
  // The TEST set is scaled with the training statistics, not its own.
  const std::vector<float> test = {3.f, 7.f, 20.f};
  require_values(apply(s, test, 3), {0.0, 2.0, 3.0});
}

TEST_CASE("scalers transform in place", "[scalers]") {
  std::vector<float> x = {3.f, 4.f, 6.f, 8.f};
  Scaler s(ScaleKind::Normalize);
  s.transform(x.data(), MatrixView{x.data(), 2, 2});
  require_values(x, {0.6, 0.8, 0.6, 0.8});
}

TEST_CASE("scaler names and errors", "[scalers][errors]") {
  using Catch::Matchers::Contains;
  CHECK(zs::parse_scale_kind("none") == ScaleKind::None);
  CHECK(zs::parse_scale_kind("unit") == ScaleKind::Unit);
  CHECK(zs::parse_scale_kind("normalize") == ScaleKind::Normalize);
  CHECK(zs::parse_scale_kind("standardize") == ScaleKind::Standardize);
  for (ScaleKind k : {ScaleKind::None, ScaleKind::Unit, ScaleKind::Normalize, ScaleKind::Standardize})
    CHECK(zs::parse_scale_kind(zs::to_string(k)) == k);
  CHECK_THROWS_WITH(zs::parse_scale_kind("minmax"), Contains("--scale") && Contains("standardize"));

  Scaler s(ScaleKind::Standardize);
  const std::vector<float> x = {1.f, 2.f, 3.f, 4.f};
  CHECK_THROWS_AS(apply(s, x, 2), std::logic_error);  // transform before fit is a programming error
  CHECK_THROWS_AS(s.fit(MatrixView{nullptr, 0, 2}), zs::UserError);
  s.fit(MatrixView{x.data(), 2, 2});
  const std::vector<float> wide = {1.f, 2.f, 3.f};
  CHECK_THROWS_WITH(apply(s, wide, 3), Contains("3 features") && Contains("fitted on 2"));
}
