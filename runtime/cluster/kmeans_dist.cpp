// Distributed pieces of KMeans; see kmeans_dist.h.
#include "runtime/cluster/kmeans_dist.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "kernels/cpu/kmeans.h"
#include "runtime/cluster/kmeans_common.h"

namespace zs::cluster_detail {

std::vector<double> global_feature_means(const ColumnStats& local, int64_t total, Communicator& comm) {
  std::vector<double> mean = local.sum;   // this rank's sums in row order; the ranks' added in rank order
  comm.allreduce_sum(std::span<double>(mean));
  for (double& m : mean) m /= static_cast<double>(total);
  return mean;
}

void centre_columns_at(Backend& backend, float* y, DeviceMatrixView x, std::span<const double> mean) {
  // The op subtracts float(sum / n) with n the rows it is given: hand it sum = float(mean) * n,
  // exact in double (a 24-bit mantissa times n < 2^29), so sum / n is float(mean) exactly.
  std::vector<double> sums(mean.size());
  for (size_t f = 0; f < mean.size(); ++f) {
    const float target = static_cast<float>(mean[f]);
    sums[f] = static_cast<double>(target) * static_cast<double>(x.rows);
    if (static_cast<float>(sums[f] / static_cast<double>(x.rows)) != target)
      throw std::logic_error("centre_columns_at: " + std::to_string(x.rows) + " rows is too many for an exact mean");
  }
  const DeviceBuffer<double> device(backend, std::span<const double>(sums));
  backend.centre_columns(y, x.data, device.data(), x.rows, x.cols);
}

double global_mean_feature_variance(const ColumnStats& local, int64_t local_rows, int64_t total, Communicator& comm) {
  // Chan et al.'s pairwise combination of the ranks' (sum, squared deviations about their own
  // mean): M2 = sum_q [M2_q + n_q (mean_q - mean)^2]. Every term is >= 0: no cancellation.
  const std::vector<double> mean = global_feature_means(local, total, comm);
  std::vector<double> m2(mean.size());
  const double rows = static_cast<double>(local_rows);
  for (size_t f = 0; f < mean.size(); ++f) {
    const double dev = local.sum[f] / rows - mean[f];
    m2[f] = local.sq_dev[f] + rows * dev * dev;
  }
  comm.allreduce_sum(std::span<double>(m2));
  double sum = 0.0;
  for (double s : m2) sum += s / static_cast<double>(total);
  return sum / static_cast<double>(m2.size());
}

std::vector<float> global_rows(KMeansEngine& engine, const ShardLayout& layout, std::span<const int64_t> ids,
                               Communicator& comm) {
  // The owner gathers its rows on its backend (one gather), the others write zeros.
  return fetch_rows(
      ids, layout, engine.rows(), engine.cols(),
      [&](float* out, std::span<const int64_t> local) { engine.rows_to_host(out, local); }, comm);
}

namespace {

// Global D^2 sampling of kmeans_pp_sample: `totals` [ranks][runs] are the ranks' sums of their
// closest distances; for target u * (sum of the totals), the owner is the rank whose running total
// first exceeds the target, and the row inside it is found on its cumulative sums. Returns the
// global row, or -1 when another rank owns it.
int64_t sample_global(const std::vector<double>& totals, int run, int runs, double u, const float* closest,
                      int64_t n, const ShardLayout& layout, int rank, int ranks) {
  double total = 0.0;
  int last_positive_rank = 0;
  for (int q = 0; q < ranks; ++q) {
    total += totals[size_t(q) * runs + run];
    if (totals[size_t(q) * runs + run] > 0.0) last_positive_rank = q;
  }
  const double target = u * total;
  double before = 0.0;
  int owner = -1;
  for (int q = 0; q < ranks && owner < 0; ++q) {
    if (before + totals[size_t(q) * runs + run] > target) owner = q;
    else before += totals[size_t(q) * runs + run];
  }
  const bool clip = owner < 0;   // rounding pushed the target to the total: the last weighted point
  if (clip) owner = last_positive_rank;
  if (owner != rank) return -1;
  const double local_target = target - before;
  double cumulative = 0.0;
  int64_t last_positive = 0;
  for (int64_t i = 0; i < n; ++i) {
    cumulative += static_cast<double>(closest[i]);
    if (closest[i] > 0.0f) last_positive = i;
    if (!clip && cumulative > local_target) return layout.offset + i;
  }
  return layout.offset + last_positive;
}

// kmeans_plusplus_runs (kmeans_common.cpp) over the whole data set; returns global row ids.
std::vector<std::vector<int64_t>> global_plusplus_runs(KMeansEngine& engine, const ShardLayout& layout, int k, int t,
                                                       std::span<ClusterRng> rngs, Communicator& comm) {
  const int64_t n = engine.rows();
  const int runs = static_cast<int>(rngs.size());
  const int width = runs * t;
  std::vector<std::vector<int64_t>> chosen(runs);
  std::vector<int64_t> first(runs);
  for (int r = 0; r < runs; ++r) {
    first[r] = static_cast<int64_t>(rngs[r].below(static_cast<uint64_t>(layout.total)));
    chosen[r].push_back(first[r]);
  }
  // closest[r][i]: the distances to the nearest chosen centre; with k = 1 per group, kmeans_assign
  // computes exactly kmeans_pp_candidates' distances (same GEMM width, same clamp).
  std::vector<float> closest(size_t(runs) * n), cand_dist(size_t(width) * n);
  std::vector<int32_t> scratch_labels(size_t(width) * n);
  engine.assign(scratch_labels.data(), closest.data(), global_rows(engine, layout, first, comm).data(), 1, runs);
  std::vector<double> local_totals(runs), pot(width);
  std::vector<int64_t> ids(width);
  const int64_t tiles = (n + cpu::kKMeansTileRows - 1) / cpu::kKMeansTileRows;
  for (int c = 1; c < k; ++c) {
    for (int r = 0; r < runs; ++r) local_totals[r] = sum_double({closest.data() + size_t(r) * n, size_t(n)});
    const std::vector<double> totals = comm.allgather(std::span<const double>(local_totals));
    for (int r = 0; r < runs; ++r)
      for (int s = 0; s < t; ++s) {
        const int64_t id = sample_global(totals, r, runs, rngs[r].uniform(), closest.data() + size_t(r) * n, n,
                                         layout, comm.rank(), comm.size());
        ids[size_t(r) * t + s] = id < 0 ? 0 : id;   // the owner's id, zeros elsewhere: summed below
      }
    comm.allreduce_sum(std::span<int64_t>(ids));
    engine.assign(scratch_labels.data(), cand_dist.data(), global_rows(engine, layout, ids, comm).data(), 1, width);
    // The potential of every candidate, summed as kmeans_pp_candidates does: per 128-row tile,
    // tiles in order, then the ranks in order.
    for (int w = 0; w < width; ++w) {
      float* dist = cand_dist.data() + size_t(w) * n;
      const float* near = closest.data() + size_t(w / t) * n;
      double sum = 0.0;
      for (int64_t tile = 0; tile < tiles; ++tile) {
        double part = 0.0;
        const int64_t end = std::min(n, (tile + 1) * cpu::kKMeansTileRows);
        for (int64_t i = tile * cpu::kKMeansTileRows; i < end; ++i) {
          dist[i] = std::min(dist[i], near[i]);
          part += dist[i];
        }
        sum += part;
      }
      pot[w] = sum;
    }
    comm.allreduce_sum(std::span<double>(pot));
    for (int r = 0; r < runs; ++r) {
      const double* p = pot.data() + size_t(r) * t;
      const int best = static_cast<int>(std::min_element(p, p + t) - p);   // ties: the first candidate
      chosen[r].push_back(ids[size_t(r) * t + best]);
      std::copy_n(cand_dist.data() + (size_t(r) * t + best) * n, n, closest.data() + size_t(r) * n);
    }
  }
  return chosen;
}

}  // namespace

std::vector<std::vector<float>> global_initial_centers(KMeansEngine& engine, const ShardLayout& layout, int k,
                                                       KMeansInit init, std::span<ClusterRng> rngs, Communicator& comm) {
  std::vector<std::vector<float>> centres;
  if (init == KMeansInit::Random) {
    for (ClusterRng& rng : rngs) centres.push_back(global_rows(engine, layout, rng.distinct(layout.total, k), comm));
    return centres;
  }
  // The chunks of initial_centers (kmeans_common.cpp), so that the candidate GEMMs have its widths.
  constexpr int kMaxCandidatesPerPass = 64;
  const int trials = default_local_trials(k);
  const size_t chunk = static_cast<size_t>(std::max(1, kMaxCandidatesPerPass / trials));
  for (size_t r0 = 0; r0 < rngs.size(); r0 += chunk) {
    const auto ids =
        global_plusplus_runs(engine, layout, k, trials, rngs.subspan(r0, std::min(chunk, rngs.size() - r0)), comm);
    for (const auto& r : ids) centres.push_back(global_rows(engine, layout, r, comm));
  }
  return centres;
}

void global_relocate_empty_clusters(float* sums, int64_t* counts, int k, const int32_t* labels, const float* min_dist,
                                    KMeansEngine& engine, const ShardLayout& layout, Communicator& comm) {
  std::vector<int> empty;
  for (int j = 0; j < k; ++j)
    if (counts[j] == 0) empty.push_back(j);
  if (empty.empty()) return;
  const int64_t n = engine.rows();
  // (distance, global row, label) of a point; farthest first, ties to the smaller global row.
  struct Candidate {
    double dist, row, label;
  };
  const auto farther = [](const Candidate& a, const Candidate& b) {
    return a.dist != b.dist ? a.dist > b.dist : a.row < b.row;
  };
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const auto local_farther = [&](int64_t a, int64_t b) {
    return min_dist[a] != min_dist[b] ? min_dist[a] > min_dist[b] : a < b;
  };
  struct Pick {
    int64_t row;
    int old, fresh;
  };
  std::vector<Pick> picks;
  // Each rank offers its `look` farthest points; if singletons use them all up before every empty
  // cluster has a point (rare), every rank offers all its points.
  for (int64_t look = std::min<int64_t>(n, 2 * static_cast<int64_t>(empty.size()) + 64);; look = n) {
    std::partial_sort(order.begin(), order.begin() + look, order.end(), local_farther);
    std::vector<double> offer;
    for (int64_t p = 0; p < look; ++p)
      offer.insert(offer.end(), {double(min_dist[order[p]]), double(layout.offset + order[p]), double(labels[order[p]])});
    const std::vector<double> all = comm.allgather(std::span<const double>(offer));
    std::vector<Candidate> cands(all.size() / 3);
    for (size_t c = 0; c < cands.size(); ++c) cands[c] = {all[3 * c], all[3 * c + 1], all[3 * c + 2]};
    std::sort(cands.begin(), cands.end(), farther);
    std::vector<int64_t> trial_counts(counts, counts + k);
    picks.clear();
    for (const Candidate& c : cands) {
      if (picks.size() == empty.size()) break;
      const int old = static_cast<int>(c.label);
      if (trial_counts[old] <= 1) continue;
      const int fresh = empty[picks.size()];
      picks.push_back({static_cast<int64_t>(c.row), old, fresh});
      --trial_counts[old];
      trial_counts[fresh] = 1;
    }
    std::vector<int64_t> unoffered{n - look};
    comm.allreduce_sum(std::span<int64_t>(unoffered));
    if (picks.size() == empty.size() || unoffered[0] == 0) {
      std::copy(trial_counts.begin(), trial_counts.end(), counts);
      break;
    }
  }
  std::vector<int64_t> rows(picks.size());
  for (size_t p = 0; p < picks.size(); ++p) rows[p] = picks[p].row;
  const std::vector<float> values = global_rows(engine, layout, rows, comm);
  const int d = engine.cols();
  for (size_t p = 0; p < picks.size(); ++p)
    for (int f = 0; f < d; ++f) {
      sums[int64_t(picks[p].old) * d + f] -= values[p * d + f];
      sums[int64_t(picks[p].fresh) * d + f] = values[p * d + f];
    }
}

}  // namespace zs::cluster_detail
