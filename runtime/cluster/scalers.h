// Feature scalers applied before clustering (the --scale option):
//   none        x unchanged
//   unit        x / 255 (pixel bytes to [0, 1])
//   normalize   each row divided by its L2 norm (a zero row stays zero)
//   standardize (x - mean) / std per feature, with mean and population std (ddof 0, as sklearn's
//               StandardScaler) measured on the TRAINING set by fit() and reused for the test set;
//               a constant feature gets std 1 (it becomes 0 instead of NaN).
// Usage: Scaler s(kind); s.fit(train); s.transform(train_out, train); s.transform(test_out, test).
// transform may work in place (out == x.data).
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/cluster/matrix_view.h"
#include "runtime/dist/communicator.h"

namespace zs {

enum class ScaleKind { None, Unit, Normalize, Standardize };

// "none", "unit", "normalize", "standardize"; anything else throws UserError naming --scale.
ScaleKind parse_scale_kind(std::string_view text);
std::string_view to_string(ScaleKind kind);

class Scaler {
 public:
  explicit Scaler(ScaleKind kind) : kind_(kind) {}

  // Learns what the transform needs from the training data (standardize: mean and std). With a
  // communicator of several ranks, `train` is this rank's block and the statistics are the whole
  // set's (a collective: every rank calls it), equal to one process's up to the rounding of the
  // sums' grouping.
  void fit(MatrixView train, Communicator* comm = nullptr);
  // out[i][f] = scaled x[i][f]; out has x.rows * x.cols floats and may be x.data.
  void transform(float* out, MatrixView x) const;
  // The same for pixel bytes (IDX images), converted to float first.
  void transform(float* out, const uint8_t* x, int64_t rows, int cols) const;

  ScaleKind kind() const { return kind_; }
  const std::vector<double>& mean() const { return mean_; }  // standardize only
  const std::vector<double>& stddev() const { return std_; }  // standardize only

 private:
  void transform_row(float* row, int cols) const;  // in place

  ScaleKind kind_;
  int fitted_cols_ = -1;  // -1: fit() not called yet
  std::vector<double> mean_, std_;
};

}  // namespace zs
