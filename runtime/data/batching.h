// From an ImageSet to model input: float conversion, per-epoch shuffles and batch gathers.
//
// Conventions: a float image matrix is N rows of rows*cols floats (row-major, N x 784 for MNIST),
// value = pixel / 255.0f (IEEE division, so bit-identical to numpy's float32 x / 255).
// Shuffles are identical on every platform and standard library: std::mt19937_64 (its output
// sequence is fixed by the C++ standard) drives our own Fisher-Yates with unbiased bounded
// integers; std::shuffle and std::uniform_int_distribution are avoided on purpose, as their
// algorithms differ between libstdc++, libc++ and MSVC.
// Batches follow Keras: the last batch of an epoch holds the remainder (it may be smaller).
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "runtime/data/idx.h"

namespace zs {

// The first min(limit, count) images of `set` as floats in [0, 1]; limit < 0 means all.
std::vector<float> pixels_to_float(const ImageSet& set, int limit = -1);

// A uniform integer in [0, bound), bound >= 1, with no modulo bias (rejection sampling).
uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound);

// Fisher-Yates shuffle of `items` in place.
void shuffle_in_place(std::span<int> items, std::mt19937_64& rng);

// The order in which epoch `epoch` visits samples 0..n-1: a permutation that depends only on
// (n, seed, epoch), so any epoch can be reproduced on its own (e.g. when resuming a run).
std::vector<int> epoch_permutation(int n, uint64_t seed, int64_t epoch);

// Number of batches of batch_size covering n samples (the last one may be partial).
int batch_count(int n, int batch_size);

// The indices of batch `batch` (0-based) within `order`.
std::span<const int> batch_indices(std::span<const int> order, int batch_size, int batch);

// Copies rows `indices` of `data` (rows of row_len floats) into `batch`, densely, in the order
// given. batch must hold indices.size() * row_len floats. Throws std::out_of_range for a bad
// index or size (a caller bug, not a user error).
void gather_rows(std::span<float> batch, std::span<const float> data, int row_len, std::span<const int> indices);

// Same for one byte per sample (labels).
void gather_labels(std::span<uint8_t> batch, std::span<const uint8_t> labels, std::span<const int> indices);

}  // namespace zs
