// A read-only view of a row-major float32 matrix: `rows` points of `cols` features, densely packed.
// The clustering code takes data through this view so that callers keep ownership of big arrays.
#pragma once
#include <cstdint>

namespace zs {

struct MatrixView {
  const float* data = nullptr;
  int64_t rows = 0;
  int cols = 0;

  const float* row(int64_t i) const { return data + i * cols; }
  int64_t size() const { return rows * cols; }
};

// The same shape for a matrix in a Backend's memory (DeviceBuffer<float>::data()): never read on
// the host, only handed to the backend's ops (runtime/cluster/kmeans_engine.h).
struct DeviceMatrixView {
  const float* data = nullptr;
  int64_t rows = 0;
  int cols = 0;

  int64_t size() const { return rows * cols; }
};

}  // namespace zs
