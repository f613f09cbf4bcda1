#include "runtime/dist/row_exchange.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace zs {

ShardLayout shard_layout(int64_t local_rows, Communicator& comm) {
  std::vector<int64_t> rows(size_t(comm.size()), 0);
  rows[size_t(comm.rank())] = local_rows;
  comm.allreduce_sum(std::span<int64_t>(rows));
  ShardLayout layout;
  for (int q = 0; q < comm.size(); ++q) {
    if (q < comm.rank()) layout.offset += rows[size_t(q)];
    layout.total += rows[size_t(q)];
  }
  return layout;
}

std::vector<float> fetch_rows(std::span<const int64_t> ids, const ShardLayout& layout, int64_t local_rows, int row_len,
                              const ReadLocalRows& read_local, Communicator& comm) {
  const size_t d = static_cast<size_t>(row_len);
  std::vector<int64_t> mine, at;   // local indices of the rows this rank owns, and their positions in ids
  for (size_t r = 0; r < ids.size(); ++r) {
    if (ids[r] < 0 || ids[r] >= layout.total)
      throw std::out_of_range("fetch_rows: row " + std::to_string(ids[r]) + " outside [0, " +
                              std::to_string(layout.total) + ")");
    const int64_t local = ids[r] - layout.offset;
    if (local >= 0 && local < local_rows) {
      mine.push_back(local);
      at.push_back(static_cast<int64_t>(r));
    }
  }
  std::vector<float> rows(ids.size() * d, 0.0f);
  if (!mine.empty()) {
    std::vector<float> owned(mine.size() * d);
    read_local(owned.data(), mine);
    for (size_t m = 0; m < mine.size(); ++m)
      std::copy_n(owned.begin() + static_cast<std::ptrdiff_t>(m * d), d,
                  rows.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(at[m]) * d));
  }
  comm.allreduce_sum(std::span<float>(rows));   // one owner per row, zeros elsewhere: exact
  return rows;
}

}  // namespace zs
