// runtime/dist/row_exchange.h in one process (the multi-rank exchange runs in tests/mpi: KMeans's
// candidate rows and the Trainer's sharded epochs), and the model hook the data-parallel Trainer
// relies on: a VAE slice that starts at batch row k draws the noise of the whole batch's row k.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/dist/row_exchange.h"
#include "runtime/models/vae.h"

using namespace zs;

TEST_CASE("row exchange: one process fetches its own rows by global index, in the order asked", "[cpu][dist]") {
  Communicator& one = single_process();
  const ShardLayout layout = shard_layout(5, one);
  CHECK(layout.offset == 0);
  CHECK(layout.total == 5);
  const int d = 3;
  std::vector<float> block(5 * d);
  for (size_t i = 0; i < block.size(); ++i) block[i] = float(i) - 4.5f;
  int reads = 0;
  const ReadLocalRows read = [&](float* out, std::span<const int64_t> local) {
    ++reads;
    for (size_t r = 0; r < local.size(); ++r)
      for (int f = 0; f < d; ++f) out[r * d + size_t(f)] = block[size_t(local[r]) * d + size_t(f)];
  };
  const std::vector<int64_t> ids = {4, 0, 2, 2};
  const std::vector<float> rows = fetch_rows(ids, layout, 5, d, read, one);
  REQUIRE(rows.size() == ids.size() * d);
  for (size_t r = 0; r < ids.size(); ++r)
    for (int f = 0; f < d; ++f) CHECK(rows[r * d + size_t(f)] == block[size_t(ids[r]) * d + size_t(f)]);
  CHECK(reads == 1);   // one read of all the rows the rank owns
  CHECK(fetch_rows({}, layout, 5, d, read, one).empty());
  CHECK(reads == 1);   // none for no rows
  const std::vector<int64_t> outside = {5};
  CHECK_THROWS_AS(fetch_rows(outside, layout, 5, d, read, one), std::out_of_range);
}

TEST_CASE("vae: a slice starting at batch row k gives the whole batch's per-sample losses of its rows",
          "[cpu][vae][trainer]") {
  Backend& be = shared_cpu_backend();
  const int n = 12, first = 5, rows = 4;
  std::mt19937 g(3);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> x(size_t(n) * kImageSize);
  for (float& v : x) v = u(g) < 0.8f ? 0.f : u(g);
  Vae vae(be, 2, 1.0, true, n, 9);
  std::vector<float> whole(3 * size_t(n)), slice(3 * size_t(rows)), unshifted(3 * size_t(rows));
  be.to_host(whole.data(), vae.forward_loss(x.data(), n, 0), whole.size());
  const float* x_slice = x.data() + int64_t(first) * kImageSize;
  be.to_host(slice.data(), vae.forward_loss(x_slice, rows, first), slice.size());
  be.to_host(unshifted.data(), vae.forward_loss(x_slice, rows, 0), unshifted.size());
  // Per-sample terms [term][n]: the slice's rows are the whole batch's rows first.., to the
  // rounding of another batch size's GEMM blocking (identical on cpu); with the noise of rows 0..
  // they are not.
  double worst = 0, moved = 0;
  for (int t = 0; t < 3; ++t)
    for (int i = 0; i < rows; ++i) {
      const double want = whole[size_t(t) * n + size_t(first + i)];
      worst = std::max(worst, std::fabs(slice[size_t(t) * rows + size_t(i)] - want) / std::fabs(want));
      moved = std::max(moved, std::fabs(unshifted[size_t(t) * rows + size_t(i)] - want) / std::fabs(want));
    }
  INFO("slice vs whole batch: " << worst << " relative; rows 0..'s noise: " << moved);
  CHECK(worst <= 1e-6);
  CHECK(moved > 1e-4);
}
