// Contiguous shards of a row range, one per rank of a data-parallel run (runtime/dist).
#pragma once
#include <algorithm>
#include <cstdint>

namespace zs {

// Rows [begin, end).
struct Shard {
  int64_t begin = 0, end = 0;
  int64_t rows() const { return end - begin; }
};

// The contiguous shard of rank `rank` among `ranks` over `rows` rows. Boundaries are multiples of
// `align` rows (except the end of the data), so that fixed-size blocks of a single-process pass
// fall whole into one rank (see runtime/cluster/kmeans_dist.h). Ranks beyond the data get an empty
// shard.
inline Shard shard_of(int64_t rows, int rank, int ranks, int64_t align = 1) {
  const int64_t blocks = (rows + align - 1) / align;
  const auto edge = [&](int r) { return std::min(rows, align * (blocks * r / ranks)); };
  return {edge(rank), edge(rank + 1)};
}

}  // namespace zs
