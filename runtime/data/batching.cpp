// Float conversion, deterministic shuffles and batch gathers; see batching.h.
#include "runtime/data/batching.h"

#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

namespace zs {
namespace {

// SplitMix64's finalizer: spreads (seed, epoch) over all 64 bits, so neighbouring seeds or epochs
// start the Mersenne Twister in unrelated states.
uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::vector<float> pixels_to_float(const ImageSet& set, int limit) {
  const size_t n = size_t(limit < 0 ? set.count : std::min(limit, set.count));
  const size_t values = n * size_t(set.pixels_per_image());
  std::vector<float> out(values);
  for (size_t i = 0; i < values; ++i) out[i] = float(set.pixels[i]) / 255.0f;
  return out;
}

uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound) {
  if (bound == 0) throw std::out_of_range("uniform_below: bound must be >= 1");
  // 2^64 mod bound: draws below it are rejected, which leaves a multiple of `bound` equally
  // likely values, so `r % bound` is exactly uniform.
  const uint64_t reject_below = (0 - bound) % bound;
  for (;;) {
    const uint64_t r = rng();
    if (r >= reject_below) return r % bound;
  }
}

void shuffle_in_place(std::span<int> items, std::mt19937_64& rng) {
  for (size_t i = items.size(); i > 1; --i) {
    const size_t j = size_t(uniform_below(rng, i));   // uniform in [0, i-1]
    std::swap(items[i - 1], items[j]);
  }
}

std::vector<int> epoch_permutation(int n, uint64_t seed, int64_t epoch) {
  if (n < 0) throw std::out_of_range("epoch_permutation: negative n");
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(mix64(seed ^ mix64(uint64_t(epoch))));
  shuffle_in_place(order, rng);
  return order;
}

int batch_count(int n, int batch_size) {
  if (batch_size < 1 || n < 0) throw std::out_of_range("batch_count: need n >= 0 and batch_size >= 1");
  return n / batch_size + (n % batch_size != 0);
}

std::span<const int> batch_indices(std::span<const int> order, int batch_size, int batch) {
  const int n = int(order.size());
  if (batch < 0 || batch >= batch_count(n, batch_size))
    throw std::out_of_range("batch_indices: batch " + std::to_string(batch) + " of " +
                            std::to_string(batch_count(n, batch_size)));
  const size_t begin = size_t(batch) * size_t(batch_size);
  return order.subspan(begin, std::min(size_t(batch_size), order.size() - begin));
}

void gather_rows(std::span<float> batch, std::span<const float> data, int row_len, std::span<const int> indices) {
  if (row_len < 1 || data.size() % size_t(row_len) != 0 || batch.size() < indices.size() * size_t(row_len))
    throw std::out_of_range("gather_rows: batch or data size does not match row_len and the index count");
  const size_t rows = data.size() / size_t(row_len);
  for (size_t b = 0; b < indices.size(); ++b) {
    const int row = indices[b];
    if (row < 0 || size_t(row) >= rows)
      throw std::out_of_range("gather_rows: index " + std::to_string(row) + " outside [0, " + std::to_string(rows) + ")");
  }
  cpu::gather_rows(batch.data(), data.data(), indices.data(), int64_t(indices.size()), row_len);
}

void gather_labels(std::span<uint8_t> batch, std::span<const uint8_t> labels, std::span<const int> indices) {
  if (batch.size() < indices.size()) throw std::out_of_range("gather_labels: batch smaller than the index count");
  for (size_t b = 0; b < indices.size(); ++b) {
    const int i = indices[b];
    if (i < 0 || size_t(i) >= labels.size())
      throw std::out_of_range("gather_labels: index " + std::to_string(i) + " outside [0, " +
                              std::to_string(labels.size()) + ")");
    batch[b] = labels[size_t(i)];
  }
}

}  // namespace zs
