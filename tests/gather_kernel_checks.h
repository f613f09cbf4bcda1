// Checks of the row gather (kernels/gather.cu), shared by the emulator test (test_emu_gather.cpp)
// and the GPU test (test_cuda_gather.cpp): every kernel version against the CPU twin on odd shapes,
// including rows that are not a multiple of 4 floats and misaligned pointers (the scalar paths).
// A gather is an exact copy, so results must equal the twin's bits everywhere.
// The including file defines ZS_KNS (cuda) before including this, or leaves it to
// kernels/common.cuh (emu).
#pragma once
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/common.cuh"
#include "kernels/cpu/ops.h"
#include "dense_kernel_checks.h"
#include "kernels/gather.cuh"

namespace zs::gather_checks {

namespace kns = ::zs::ZS_KNS;

struct GatherCase {
  int64_t src_rows;
  int64_t rows;
  int row_len;
  int dst_misalign;  // floats by which dst is shifted off 16-byte alignment
  int src_misalign;  // the same for src
};

// Odd shapes: single elements, rows of 1, 3 and 5 floats, the MNIST row, repeated indices
// (rows > src_rows); with rows of a multiple of 4 floats (the float4 path), dst and src each
// misaligned alone and both together (the scalar path: a float4 access would fault on a GPU).
inline std::vector<GatherCase> gather_cases() {
  return {{1, 1, 1, 0, 0},     {7, 3, 5, 0, 0},   {7, 3, 5, 1, 1},     {10, 13, 3, 0, 0},
          {64, 64, 4, 0, 0},   {64, 33, 4, 1, 0}, {64, 33, 4, 0, 1},   {64, 33, 4, 2, 2},
          {50, 17, 784, 0, 0}, {50, 17, 784, 3, 0}, {50, 17, 784, 0, 3}, {300, 257, 8, 0, 0}};
}

// Version 2 caps its grid at 1024 blocks of 256 threads: 1400 MNIST rows are 274400 float4s, a
// second grid-stride pass for some threads; 90001 rows of 3 floats take two scalar passes.
inline std::vector<GatherCase> gather_grid_stride_cases() { return {{1400, 1400, 784, 0, 0}, {500, 90001, 3, 0, 0}}; }

// A seeded mix of a permutation prefix and repeats, so every path meets shuffled and duplicated rows.
inline std::vector<int32_t> gather_indices(const GatherCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> idx(size_t(c.rows));
  std::uniform_int_distribution<int32_t> pick(0, int32_t(c.src_rows - 1));
  for (int32_t& i : idx) i = pick(rng);
  if (c.rows > 0) idx.back() = int32_t(c.src_rows - 1);  // the last source row, to catch an off-by-one
  return idx;
}

inline std::vector<float> gather_source(const GatherCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-3.f, 3.f);
  std::vector<float> v(size_t(c.src_rows * c.row_len));
  for (float& x : v) x = dist(rng);
  return v;
}

// Runs version `version` on the device; returns dst (NaN-initialised, so a skipped element shows).
inline std::vector<float> gather_on_device(int version, const GatherCase& c, const std::vector<float>& src,
                                           const std::vector<int32_t>& idx) {
  using zs::dense_checks::kernel_memory;
  const size_t dst_count = size_t(c.rows * c.row_len);
  zs::DeviceBuffer<float> d_src(kernel_memory(), src.size() + size_t(c.src_misalign)),
      d_dst(kernel_memory(), dst_count + size_t(c.dst_misalign));
  std::vector<float> src_padded(size_t(c.src_misalign), 0.f);
  src_padded.insert(src_padded.end(), src.begin(), src.end());
  d_src.upload(src_padded);
  d_dst.upload(std::vector<float>(dst_count + size_t(c.dst_misalign), std::nanf("")));
  zs::dense_checks::DeviceBuffer<int32_t> d_idx(kernel_memory(), idx);
  kns::gather_rows(d_dst.data() + c.dst_misalign, d_src.data() + c.src_misalign, d_idx.data(), c.rows, c.row_len,
                   nullptr, version);
  std::vector<float> out = d_dst.download();
  return {out.begin() + c.dst_misalign, out.end()};
}

// `repeat` runs the producer once per configuration (thread order, or GPU run); every run must
// equal the twin's bits.
inline void check_gather_rows(const zs::dense_checks::Repeater& repeat, int version,
                              const std::vector<GatherCase>& cases = gather_cases()) {
  uint32_t seed = 1;
  for (const GatherCase& c : cases) {
    const std::vector<float> src = gather_source(c, seed++);
    const std::vector<int32_t> idx = gather_indices(c, seed++);
    std::vector<float> want(size_t(c.rows * c.row_len));
    zs::cpu::gather_rows(want.data(), src.data(), idx.data(), c.rows, c.row_len);
    INFO("gather version " << version << ", src rows " << c.src_rows << ", rows " << c.rows << ", row_len "
                           << c.row_len << ", dst misalign " << c.dst_misalign << ", src misalign "
                           << c.src_misalign);
    for (const zs::dense_checks::Run& r : repeat([&] { return zs::dense_checks::Outputs{gather_on_device(version, c, src, idx)}; })) {
      INFO(r.label);
      const std::vector<float>& got = r.outputs.at(0);
      REQUIRE(got.size() == want.size());
      REQUIRE(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0);
    }
  }
}

}  // namespace zs::gather_checks
