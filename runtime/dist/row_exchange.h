// Row exchange: rows of a matrix partitioned by rows over the ranks, fetched by global index.
// The partition is contiguous in rank order (rank 0 holds the first rows, then rank 1, ...; the
// blocks may differ in size, some may be empty): KMeans's sharded data set and the Trainer's
// sharded training set. Both fetch rows that live on other ranks through fetch_rows, the one
// implementation of the exchange.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "runtime/dist/communicator.h"

namespace zs {

// The layout of the blocks as one rank sees it: its first global row and the total.
struct ShardLayout {
  int64_t offset = 0, total = 0;
};
// A collective: every rank passes its own block's row count (one allreduce_sum of R int64s).
ShardLayout shard_layout(int64_t local_rows, Communicator& comm);

// Writes this rank's rows `local` (indices into its block, each in [0, local_rows)) to
// out[local.size()][row_len] on the host, in the order given.
using ReadLocalRows = std::function<void(float* out, std::span<const int64_t> local)>;

// Rows `ids` (global indices in [0, layout.total), the same list on every rank) of the matrix,
// on every rank, as [ids.size()][row_len] floats on the host. A collective: each rank reads the
// rows it owns with one read_local call (none when it owns none), writes zeros for the others,
// and one rank-order allreduce_sum of ids.size() x row_len floats (summed in double) gives every
// rank the owners' values exactly (a -0 arrives as +0).
std::vector<float> fetch_rows(std::span<const int64_t> ids, const ShardLayout& layout, int64_t local_rows, int row_len,
                              const ReadLocalRows& read_local, Communicator& comm);

}  // namespace zs
