// The distributed pieces of KMeans (runtime/cluster only): what a fit needs from the whole data set
// when every rank holds one contiguous block of it (KMeansOptions::comm; rank 0 the first rows,
// then rank 1, ...). Every function is a collective: all ranks call it with the same arguments
// apart from their own rows, and all get the same result.
//
// Equality with the single-process fit: every value that leaves a rank is a partial sum of a
// block of rows, and the partials are added in rank order (Communicator's contract). The
// single-process passes add the same rows in a different grouping (per tile or per 1024-point
// block, then across threads), so R ranks give the single-process result up to the rounding of
// that grouping: doubles agree to ~1e-16 relative, and the float centroid sums to about one
// unit in the last place (each rank's sum is rounded to float before the ranks are added).
// Labels and the chosen k-means++ points are then the same unless a point is within that rounding
// of a tie, as for the thread count (kernels/cpu/kmeans.h). With shards aligned to
// kShardAlignRows, the per-block float partials themselves are identical.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/cluster/cluster_rng.h"
#include "runtime/cluster/kmeans.h"
#include "runtime/cluster/kmeans_common.h"
#include "runtime/cluster/kmeans_engine.h"
#include "runtime/cluster/matrix_view.h"
#include "runtime/dist/communicator.h"
#include "runtime/dist/row_exchange.h"

namespace zs::cluster_detail {

// Shard boundaries that keep the CPU pass's 1024-point sum blocks (and its 128-row tiles) whole.
inline constexpr int64_t kShardAlignRows = 1024;

// Per-feature means of the whole data set (double): the ranks' column sums (column_stats of their
// blocks) added in rank order, over `total` rows.
std::vector<double> global_feature_means(const ColumnStats& local, int64_t total, Communicator& comm);

// y = x - float(mean) per feature on the backend (the centre_columns op with a given mean): the
// centring of the whole data set applied to this rank's block. Not a collective.
void centre_columns_at(Backend& backend, float* y, DeviceMatrixView x, std::span<const double> mean);

// mean_feature_variance (kmeans_common.h) of the whole data set, from the ranks' column_stats of
// their blocks (local_rows rows each).
double global_mean_feature_variance(const ColumnStats& local, int64_t local_rows, int64_t total, Communicator& comm);

// Rows of the whole data set by global index, on every rank ([ids][d]): the owner's values, read
// from its engine's data (backend memory); fetch_rows (runtime/dist/row_exchange.h) with the
// engine's rows_to_host. The layout of the shards: ShardLayout and shard_layout of row_exchange.h.
std::vector<float> global_rows(KMeansEngine& engine, const ShardLayout& layout, std::span<const int64_t> ids,
                               Communicator& comm);

// initial_centers (kmeans_common.h) over the whole data set: k-means++ draws from the global D^2
// distribution with the same generators on every rank (the uniform picks the owning rank through
// the ranks' totals, then the row inside it), and the candidates' rows come from their owners.
std::vector<std::vector<float>> global_initial_centers(KMeansEngine& engine, const ShardLayout& layout, int k,
                                                       KMeansInit init, std::span<ClusterRng> rngs, Communicator& comm);

// relocate_empty_clusters (kmeans.cpp) on the reduced sums and counts: the farthest points of the
// whole data set (ties to the smaller global index), taken from every rank's farthest.
void global_relocate_empty_clusters(float* sums, int64_t* counts, int k, const int32_t* labels, const float* min_dist,
                                    KMeansEngine& engine, const ShardLayout& layout, Communicator& comm);

}  // namespace zs::cluster_detail
