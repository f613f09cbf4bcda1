// NumPy .npy files: feature matrices (float32, N x D) and label vectors (1-D integers), the
// formats Python peers and notebooks load with numpy.load.
//
// Writer: format version 1.0, C order, little-endian dtypes '<f4', '<i4', '<i8' and '|u1'; the
// header is padded with spaces and a final '\n' so the data starts at a multiple of 64 bytes
// (what numpy itself writes). Output is atomic (temporary file + rename).
// Reader: versions 1.0, 2.0 and 3.0; checks magic, version, header dict, dtype, fortran_order
// False, shape and exact file length. Any problem is a zs::UserError
//   "NPY file <file> is invalid: <problem>; regenerate it or pass another file".
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "runtime/io/atomic_file.h"

namespace zs {

// Row-major rows x cols float32 matrix. Throws std::invalid_argument if data.size() != rows*cols.
void save_npy_matrix(const std::filesystem::path& path, std::span<const float> data, int64_t rows,
                     int64_t cols, AtomicWriteOptions options = {});

// 1-D label vectors.
void save_npy_vector(const std::filesystem::path& path, std::span<const int32_t> values,
                     AtomicWriteOptions options = {});
void save_npy_vector(const std::filesystem::path& path, std::span<const int64_t> values,
                     AtomicWriteOptions options = {});
void save_npy_vector(const std::filesystem::path& path, std::span<const uint8_t> values,
                     AtomicWriteOptions options = {});

struct NpyMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> data;  // rows * cols, row-major.
};

// Reads a 2-D '<f4' array.
NpyMatrix load_npy_matrix(const std::filesystem::path& path);
// Reads a 1-D integer array stored as '|u1', '<i4' or '<i8', widened to int64.
std::vector<int64_t> load_npy_vector(const std::filesystem::path& path);

}  // namespace zs
