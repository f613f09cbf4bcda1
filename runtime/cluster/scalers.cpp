// Feature scalers; see scalers.h.
#include "runtime/cluster/scalers.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "runtime/core/error.h"

namespace zs {
namespace {

// [lo0, hi0, lo1, hi1, ...] in double: one allgather carries both extremes of every feature.
std::vector<double> interleave(const std::vector<float>& lo, const std::vector<float>& hi) {
  std::vector<double> out;
  out.reserve(2 * lo.size());
  for (size_t f = 0; f < lo.size(); ++f) {
    out.push_back(lo[f]);
    out.push_back(hi[f]);
  }
  return out;
}

}  // namespace

ScaleKind parse_scale_kind(std::string_view text) {
  if (text == "none") return ScaleKind::None;
  if (text == "unit") return ScaleKind::Unit;
  if (text == "normalize") return ScaleKind::Normalize;
  if (text == "standardize") return ScaleKind::Standardize;
  throw UserError("--scale: unknown scaler '" + std::string(text) + "'; use none, unit, normalize or standardize");
}

std::string_view to_string(ScaleKind kind) {
  switch (kind) {
    case ScaleKind::None: return "none";
    case ScaleKind::Unit: return "unit";
    case ScaleKind::Normalize: return "normalize";
    case ScaleKind::Standardize: return "standardize";
  }
  return "?";
}

void Scaler::fit(MatrixView train, Communicator* comm) {
  if (!train.data || train.rows < 1 || train.cols < 1)
    throw UserError("scaler '" + std::string(to_string(kind_)) +
                    "': the training set is empty; fit the scaler on at least one sample");
  fitted_cols_ = train.cols;
  if (kind_ != ScaleKind::Standardize) return;
  const int d = train.cols;
  mean_.assign(d, 0.0);
  std_.assign(d, 0.0);
  std::vector<float> lo(train.row(0), train.row(0) + d), hi = lo;
  for (int64_t i = 0; i < train.rows; ++i)
    for (int f = 0; f < d; ++f) {
      const float v = train.row(i)[f];
      mean_[f] += v;
      lo[f] = std::min(lo[f], v);
      hi[f] = std::max(hi[f], v);
    }
  // Data-parallel: each rank's sums of its block, added in rank order (the Communicator's
  // contract), and the extremes of every rank's.
  const bool dist = distributed(comm);
  int64_t rows = train.rows;
  if (dist) {
    comm->allreduce_sum(std::span<double>(mean_));
    comm->allreduce_sum(std::span<int64_t>(&rows, 1));
    const std::vector<double> ranges = comm->allgather(std::span<const double>(interleave(lo, hi)));
    for (size_t r = 0; r < ranges.size(); r += 2 * size_t(d))
      for (int f = 0; f < d; ++f) {
        lo[f] = std::min(lo[f], float(ranges[r + 2 * size_t(f)]));
        hi[f] = std::max(hi[f], float(ranges[r + 2 * size_t(f) + 1]));
      }
  }
  for (double& m : mean_) m /= static_cast<double>(rows);
  // Second pass on deviations: exact zero for constant features, no cancellation otherwise.
  for (int64_t i = 0; i < train.rows; ++i)
    for (int f = 0; f < d; ++f) {
      const double dev = train.row(i)[f] - mean_[f];
      std_[f] += dev * dev;
    }
  if (dist) comm->allreduce_sum(std::span<double>(std_));
  for (int f = 0; f < d; ++f) std_[f] = lo[f] == hi[f] ? 1.0 : std::sqrt(std_[f] / static_cast<double>(rows));
}

void Scaler::transform_row(float* row, int cols) const {
  switch (kind_) {
    case ScaleKind::None: return;
    case ScaleKind::Unit:
      for (int f = 0; f < cols; ++f) row[f] = row[f] / 255.0f;
      return;
    case ScaleKind::Normalize: {
      double sq = 0.0;
      for (int f = 0; f < cols; ++f) sq += static_cast<double>(row[f]) * row[f];
      if (sq == 0.0) return;
      const double inv = 1.0 / std::sqrt(sq);
      for (int f = 0; f < cols; ++f) row[f] = static_cast<float>(row[f] * inv);
      return;
    }
    case ScaleKind::Standardize:
      for (int f = 0; f < cols; ++f) row[f] = static_cast<float>((row[f] - mean_[f]) / std_[f]);
      return;
  }
}

void Scaler::transform(float* out, MatrixView x) const {
  if (kind_ == ScaleKind::Standardize && fitted_cols_ < 0)
    throw std::logic_error("Scaler::transform(standardize) called before fit()");
  if (fitted_cols_ >= 0 && x.cols != fitted_cols_)
    throw UserError("scaler '" + std::string(to_string(kind_)) + "': the data have " + std::to_string(x.cols) +
                    " features but the scaler was fitted on " + std::to_string(fitted_cols_) +
                    "; use test images of the same size as the training images");
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < x.rows; ++i) {
    float* row = out + i * x.cols;
    if (row != x.row(i)) std::copy(x.row(i), x.row(i) + x.cols, row);
    transform_row(row, x.cols);
  }
}

void Scaler::transform(float* out, const uint8_t* x, int64_t rows, int cols) const {
  for (int64_t e = 0; e < rows * cols; ++e) out[e] = static_cast<float>(x[e]);
  transform(out, MatrixView{out, rows, cols});
}

}  // namespace zs
