// The CPU twin of the t-SNE kernels (contract: tsne.h; arithmetic: kernels/tsne_math.h).
#include "kernels/cpu/tsne.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <queue>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "kernels/tsne_math.h"

namespace zs::cpu {
namespace {

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(op) + ": " + what);
}

// kNN distance tiles: a thread owns kKnnRowBlock query rows and walks the candidates in chunks of
// kKnnColChunk (both blocks stay in L2 while a 4 x 16 register tile runs over every feature).
constexpr int kKnnRowBlock = 64;
constexpr int kKnnColChunk = 64;
constexpr int kKnnMicroRows = 4;
constexpr int kKnnMicroCols = 16;   // two AVX2 registers
static_assert(kKnnRowBlock % kKnnMicroRows == 0 && kKnnColChunk % kKnnMicroCols == 0);

// dist[r][c] for kKnnMicroRows rows of x (rows[r], row-major) against kKnnMicroCols columns of the
// feature-major copy xt (stride n_pad): the fma chain of tsne_sq_dist_step, 8 lanes at a time.
void distance_micro_tile(float* out, int64_t out_stride, const float* const* rows, const float* xt, int64_t n_pad,
                         int d) {
  __m256 acc[kKnnMicroRows][2];
  for (auto& row : acc) row[0] = row[1] = _mm256_setzero_ps();
  for (int f = 0; f < d; ++f) {
    const float* c = xt + int64_t(f) * n_pad;
    const __m256 c0 = _mm256_loadu_ps(c), c1 = _mm256_loadu_ps(c + 8);
    for (int r = 0; r < kKnnMicroRows; ++r) {
      const __m256 q = _mm256_set1_ps(rows[r][f]);
      const __m256 d0 = _mm256_sub_ps(q, c0), d1 = _mm256_sub_ps(q, c1);
      acc[r][0] = _mm256_fmadd_ps(d0, d0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(d1, d1, acc[r][1]);
    }
  }
  for (int r = 0; r < kKnnMicroRows; ++r) {
    _mm256_storeu_ps(out + r * out_stride, acc[r][0]);
    _mm256_storeu_ps(out + r * out_stride + 8, acc[r][1]);
  }
}

// The k smallest (distance, index) of one row, self excluded, sorted.
void select_neighbours(int32_t* idx, float* dist, const float* row, int64_t n, int64_t self, int k) {
  using Entry = std::pair<float, int32_t>;
  std::priority_queue<Entry> worst_on_top;   // lexicographic: ties go to the smaller index
  for (int64_t j = 0; j < n; ++j) {
    if (j == self) continue;
    const Entry e{row[j], int32_t(j)};
    if (int(worst_on_top.size()) < k) {
      worst_on_top.push(e);
    } else if (e < worst_on_top.top()) {
      worst_on_top.pop();
      worst_on_top.push(e);
    }
  }
  for (int m = k - 1; m >= 0; --m) {
    dist[m] = worst_on_top.top().first;
    idx[m] = worst_on_top.top().second;
    worst_on_top.pop();
  }
}

// Barnes-Hut quadtree over the embedding, built from Morton (Z-order) codes: the points are sorted
// by the interleaved bits of their coordinates quantised to kMortonBits per axis, so every cell is a
// contiguous range of the sorted points and its four children split that range at the next two
// bits. A cell of at most kLeafPoints points is a leaf (summed exactly), as are points closer than
// 2^-kMortonBits of the bounding square.
// Single-threaded sort and build: deterministic.
constexpr int kMortonBits = 16;
constexpr int kLeafPoints = 8;

struct QuadCell {
  float com_x, com_y;     // centre of mass
  float width;            // side of the square cell
  int32_t begin, end;     // its points: order[begin, end)
  int32_t first_child;    // children are cells first_child .. first_child + child_count - 1
  int32_t child_count;    // 0: a leaf
};

uint32_t spread_bits(uint32_t v) {   // 16 bits -> the even bits of 32
  v &= 0xffffu;
  v = (v | (v << 8)) & 0x00ff00ffu;
  v = (v | (v << 4)) & 0x0f0f0f0fu;
  v = (v | (v << 2)) & 0x33333333u;
  v = (v | (v << 1)) & 0x55555555u;
  return v;
}

class QuadTree {
 public:
  QuadTree(const float* y, int64_t n) {
    float lo_x = y[0], hi_x = y[0], lo_y = y[1], hi_y = y[1];
    for (int64_t i = 1; i < n; ++i) {
      lo_x = std::min(lo_x, y[2 * i]);
      hi_x = std::max(hi_x, y[2 * i]);
      lo_y = std::min(lo_y, y[2 * i + 1]);
      hi_y = std::max(hi_y, y[2 * i + 1]);
    }
    const double width = std::max(double(hi_x) - lo_x, double(hi_y) - lo_y) * (1 + 1e-6) + 1e-12;
    const double scale = double(1u << kMortonBits) / width;
    std::vector<std::pair<uint32_t, int32_t>> keyed(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const auto qx = uint32_t((double(y[2 * i]) - lo_x) * scale), qy = uint32_t((double(y[2 * i + 1]) - lo_y) * scale);
      keyed[size_t(i)] = {spread_bits(qx) | (spread_bits(qy) << 1), int32_t(i)};
    }
    std::sort(keyed.begin(), keyed.end());
    codes_.resize(static_cast<size_t>(n));
    order_.resize(static_cast<size_t>(n));
    pos_.resize(static_cast<size_t>(2 * n));
    for (int64_t p = 0; p < n; ++p) {
      codes_[size_t(p)] = keyed[size_t(p)].first;
      order_[size_t(p)] = keyed[size_t(p)].second;
      pos_[size_t(2 * p)] = y[2 * int64_t(keyed[size_t(p)].second)];
      pos_[size_t(2 * p + 1)] = y[2 * int64_t(keyed[size_t(p)].second) + 1];
    }
    cells_.reserve(size_t(2 * n));
    cells_.push_back({});
    build(0, 0, int32_t(n), float(width), 2 * kMortonBits);
  }
  const std::vector<QuadCell>& cells() const { return cells_; }
  const std::vector<int32_t>& order() const { return order_; }
  const std::vector<float>& sorted_positions() const { return pos_; }   // [sorted point][2]

 private:
  // Fills cell `id` for the sorted points [begin, end), whose codes agree above bit `level`.
  void build(int32_t id, int32_t begin, int32_t end, float width, int level) {
    double sx = 0, sy = 0;
    for (int32_t p = begin; p < end; ++p) {
      sx += pos_[size_t(2 * p)];
      sy += pos_[size_t(2 * p + 1)];
    }
    QuadCell cell{float(sx / (end - begin)), float(sy / (end - begin)), width, begin, end, 0, 0};
    if (end - begin > kLeafPoints && level > 0) {
      // Split at the quadrant bits (level - 1, level - 2); only non-empty quadrants become cells.
      int32_t bounds[5] = {begin, 0, 0, 0, end};
      for (uint32_t q = 1; q < 4; ++q) {
        const auto first = std::lower_bound(codes_.begin() + bounds[q - 1], codes_.begin() + end, q,
                                            [&](uint32_t code, uint32_t quadrant) {
                                              return ((code >> (level - 2)) & 3u) < quadrant;
                                            });
        bounds[q] = int32_t(first - codes_.begin());
      }
      cell.first_child = int32_t(cells_.size());
      for (int q = 0; q < 4; ++q) cell.child_count += bounds[q + 1] > bounds[q];
      cells_.resize(cells_.size() + size_t(cell.child_count));
      int32_t child = cell.first_child;
      for (int q = 0; q < 4; ++q)
        if (bounds[q + 1] > bounds[q]) build(child++, bounds[q], bounds[q + 1], width / 2, level - 2);
    }
    cells_[size_t(id)] = cell;
  }

  std::vector<uint32_t> codes_;
  std::vector<int32_t> order_;
  std::vector<float> pos_;
  std::vector<QuadCell> cells_;
};

// Barnes-Hut, a group at a time: kBhGroup consecutive points of the Z-order (a compact patch)
// walk the tree together, and a cell is summarised only if sklearn's criterion holds for EVERY
// point of the group (its width is below theta times the distance from the group's bounding
// circle: |c - centre| > width / theta + radius), so no point is approximated more coarsely than by
// sklearn's per-point walk. A group's interactions with a cell are one 8-lane AVX2 step; sums are
// float per point, in traversal order.
constexpr int kBhGroup = 8;   // one AVX2 register of points

void repulsive_barnes_hut(float* repulsion, double* zrow, const float* y, int64_t n, float theta) {
  const QuadTree tree(y, n);
  const std::vector<QuadCell>& cells = tree.cells();
  const std::vector<int32_t>& order = tree.order();
  const float* pos = tree.sorted_positions().data();
  const float inv_theta = 1.f / theta;
  const int64_t groups = (n + kBhGroup - 1) / kBhGroup;
  const __m256 one = _mm256_set1_ps(1.f);
#pragma omp parallel
  {
    std::vector<int32_t> stack;
    stack.reserve(4 * 2 * kMortonBits + 4);
#pragma omp for schedule(static)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t p0 = g * kBhGroup;
      const int count = int(std::min<int64_t>(kBhGroup, n - p0));
      alignas(32) float px[kBhGroup], py[kBhGroup];
      for (int k = 0; k < kBhGroup; ++k) {   // a short last group repeats its last point (discarded)
        const int64_t p = p0 + std::min(k, count - 1);
        px[k] = pos[2 * p];
        py[k] = pos[2 * p + 1];
      }
      float lo_x = px[0], hi_x = px[0], lo_y = py[0], hi_y = py[0];
      for (int k = 1; k < kBhGroup; ++k) {
        lo_x = std::min(lo_x, px[k]);
        hi_x = std::max(hi_x, px[k]);
        lo_y = std::min(lo_y, py[k]);
        hi_y = std::max(hi_y, py[k]);
      }
      const float cx = (lo_x + hi_x) / 2, cy = (lo_y + hi_y) / 2;
      const float radius = std::sqrt((hi_x - lo_x) * (hi_x - lo_x) + (hi_y - lo_y) * (hi_y - lo_y)) / 2;
      const __m256 vx = _mm256_load_ps(px), vy = _mm256_load_ps(py);
      const __m256i lane_ids = _mm256_add_epi32(_mm256_set1_epi32(int(p0)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      __m256 ax = _mm256_setzero_ps(), ay = _mm256_setzero_ps(), az = _mm256_setzero_ps();
      // One interaction of the 8 points with `mass` points at (qx, qy); `keep` masks lanes out.
      auto interact = [&](float qx, float qy, __m256 mass) {
        const __m256 dx = _mm256_sub_ps(vx, _mm256_set1_ps(qx)), dy = _mm256_sub_ps(vy, _mm256_set1_ps(qy));
        const __m256 d2 = _mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dy, dy));
        const __m256 t = _mm256_div_ps(one, _mm256_add_ps(one, d2));
        const __m256 mt = _mm256_mul_ps(mass, t), mtt = _mm256_mul_ps(mt, t);
        az = _mm256_add_ps(az, mt);
        ax = _mm256_add_ps(ax, _mm256_mul_ps(mtt, dx));
        ay = _mm256_add_ps(ay, _mm256_mul_ps(mtt, dy));
      };
      stack.assign(1, 0);
      while (!stack.empty()) {
        const QuadCell& cell = cells[size_t(stack.back())];
        stack.pop_back();
        if (cell.child_count == 0) {   // exact over its points, each point itself skipped
          for (int32_t q = cell.begin; q < cell.end; ++q) {
            const __m256i is_self = _mm256_cmpeq_epi32(lane_ids, _mm256_set1_epi32(q));
            interact(pos[2 * q], pos[2 * q + 1], _mm256_andnot_ps(_mm256_castsi256_ps(is_self), one));
          }
          continue;
        }
        const float gx = cx - cell.com_x, gy = cy - cell.com_y, reach = cell.width * inv_theta + radius;
        if (gx * gx + gy * gy > reach * reach) {   // sklearn's max_width / dist < theta for every point
          interact(cell.com_x, cell.com_y, _mm256_set1_ps(float(cell.end - cell.begin)));
          continue;
        }
        for (int32_t c = cell.first_child + cell.child_count - 1; c >= cell.first_child; --c) stack.push_back(c);
      }
      alignas(32) float rx[kBhGroup], ry[kBhGroup], rz[kBhGroup];
      _mm256_store_ps(rx, ax);
      _mm256_store_ps(ry, ay);
      _mm256_store_ps(rz, az);
      for (int k = 0; k < count; ++k) {
        const int64_t i = order[size_t(p0 + k)];
        repulsion[2 * i] = rx[k];
        repulsion[2 * i + 1] = ry[k];
        zrow[i] = rz[k];
      }
    }
  }
}

void repulsive_exact(float* repulsion, double* zrow, const float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float yx = y[2 * i], yy = y[2 * i + 1];
    double rx = 0, ry = 0, z = 0;
    for (int64_t j0 = 0; j0 < n; j0 += kTsneRepulsionTile) {
      const int64_t j1 = std::min<int64_t>(n, j0 + kTsneRepulsionTile);
      float tile_rx = 0.f, tile_ry = 0.f, tile_z = 0.f;
      for (int64_t j = j0; j < j1; ++j)
        if (j != i) tsne_repulsion_term(yx - y[2 * j], yy - y[2 * j + 1], tile_rx, tile_ry, tile_z);
      rx += tile_rx;
      ry += tile_ry;
      z += tile_z;
    }
    repulsion[2 * i] = float(rx);
    repulsion[2 * i + 1] = float(ry);
    zrow[i] = z;
  }
}

// The kernel's one-block reduction: kTsneStepThreads contiguous chunks, then a halving tree.
double tree_reduce(double* partial) {
  for (int s = kTsneStepThreads / 2; s > 0; s /= 2)
    for (int t = 0; t < s; ++t) partial[t] += partial[t + s];
  return partial[0];
}

// sum of v[0, n) as the kernels' one block sums it: kTsneStepThreads contiguous chunks, each in
// index order, then tree_reduce.
double chunked_tree_sum(const double* v, int64_t n) {
  double partial[kTsneStepThreads];
  const int64_t chunk = (n + kTsneStepThreads - 1) / kTsneStepThreads;
  for (int t = 0; t < kTsneStepThreads; ++t) {
    double s = 0;
    for (int64_t i = t * chunk; i < std::min(n, (t + 1) * chunk); ++i) s += v[i];
    partial[t] = s;
  }
  return tree_reduce(partial);
}

}  // namespace

void tsne_knn(int32_t* idx, float* dist, const float* x, int64_t n, int d, int k) {
  require(n >= 2 && n <= 0x7fffffff, "tsne_knn", "n must be in [2, 2^31 - 1] (got " + std::to_string(n) + ")");
  require(d >= 1, "tsne_knn", "d must be >= 1");
  require(k >= 1 && k <= n - 1, "tsne_knn", "k must be in [1, n - 1] (got " + std::to_string(k) + ")");
  const int64_t n_pad = (n + kKnnColChunk - 1) / kKnnColChunk * kKnnColChunk;
  std::vector<float> xt(size_t(n_pad) * size_t(d), 0.f);   // feature-major, zero padded
  for (int64_t i = 0; i < n; ++i)
    for (int f = 0; f < d; ++f) xt[size_t(f) * size_t(n_pad) + size_t(i)] = x[i * d + f];
  const int64_t row_blocks = (n + kKnnRowBlock - 1) / kKnnRowBlock;
#pragma omp parallel
  {
    std::vector<float> rows_dist(size_t(kKnnRowBlock) * size_t(n_pad));
#pragma omp for schedule(static)
    for (int64_t rb = 0; rb < row_blocks; ++rb) {
      const int64_t r0 = rb * kKnnRowBlock, r_count = std::min<int64_t>(kKnnRowBlock, n - r0);
      for (int64_t c0 = 0; c0 < n_pad; c0 += kKnnColChunk) {
        for (int64_t r = 0; r < r_count; r += kKnnMicroRows) {
          const float* rows[kKnnMicroRows];
          for (int m = 0; m < kKnnMicroRows; ++m) rows[m] = x + std::min(r0 + r + m, n - 1) * d;   // tail rows repeat
          for (int64_t c = c0; c < c0 + kKnnColChunk; c += kKnnMicroCols) {
            float tile[kKnnMicroRows * kKnnMicroCols];
            distance_micro_tile(tile, kKnnMicroCols, rows, xt.data() + c, n_pad, d);
            for (int m = 0; m < kKnnMicroRows && r + m < r_count; ++m)
              std::copy(tile + m * kKnnMicroCols, tile + (m + 1) * kKnnMicroCols,
                        rows_dist.data() + size_t(r + m) * size_t(n_pad) + size_t(c));
          }
        }
      }
      for (int64_t r = 0; r < r_count; ++r)
        select_neighbours(idx + (r0 + r) * k, dist + (r0 + r) * k, rows_dist.data() + size_t(r) * size_t(n_pad), n,
                          r0 + r, k);
    }
  }
}

void tsne_conditional_p(float* cond_p, const float* dist, int64_t n, int k, float perplexity) {
  require(n >= 1 && k >= 1, "tsne_conditional_p", "n and k must be >= 1");
  require(perplexity > 0, "tsne_conditional_p", "perplexity must be > 0");
  const double desired_entropy = std::log(double(perplexity));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) tsne_row_bisection(cond_p + i * k, dist + i * k, k, desired_entropy);
}

void tsne_attractive(float* attraction, double* kl_row, const int32_t* row_ptr, const int32_t* col, const float* val,
                     const float* y, int64_t n, float exaggeration) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    tsne_attractive_row(attraction, kl_row ? kl_row + i : nullptr, col, val, row_ptr[i], row_ptr[i + 1], y, i,
                        exaggeration);
}

void tsne_repulsive(float* repulsion, double* zrow, const float* y, int64_t n, float theta) {
  require(n >= 1, "tsne_repulsive", "n must be >= 1");
  require(theta >= 0, "tsne_repulsive", "theta must be >= 0");
  if (theta > 0)
    repulsive_barnes_hut(repulsion, zrow, y, n, theta);
  else
    repulsive_exact(repulsion, zrow, y, n);
}

void tsne_gradient_step(float* y, float* update, float* gains, double* stats, const float* attraction,
                        const float* repulsion, const double* zrow, int64_t n, float momentum, float learning_rate) {
  const double z = chunked_tree_sum(zrow, n);
  double partial[kTsneStepThreads];
  const float zf = float(z);
  const int64_t count = 2 * n, chunk = (count + kTsneStepThreads - 1) / kTsneStepThreads;
  for (int t = 0; t < kTsneStepThreads; ++t) {
    double s = 0;
    for (int64_t e = t * chunk; e < std::min(count, (t + 1) * chunk); ++e) {
      const float g = tsne_update_coordinate(y[e], update[e], gains[e], attraction[e], repulsion[e], zf, momentum,
                                             learning_rate);
      s += double(g) * double(g);
    }
    partial[t] = s;
  }
  stats[0] = z;
  stats[1] = tree_reduce(partial);
}

void tsne_symmetrize(int32_t* row_ptr, int32_t* col, float* val, double* p_sum, const int32_t* idx,
                     const float* cond_p, int64_t n, int k) {
  require(n >= 2 && k >= 1 && k <= n - 1 && int64_t(k) * n * 2 <= 0x7fffffff, "tsne_symmetrize",
          "sizes out of range");
  const int64_t edges = n * k;
  for (int64_t e = 0; e < edges; ++e)
    require(idx[e] >= 0 && idx[e] < n && idx[e] != e / k, "tsne_symmetrize", "neighbour index out of range");
  // In-lists: a stable counting sort of the edges by target, visited in source order, so each
  // list holds its sources ascending (the kernel gets there by ranking instead).
  std::vector<int32_t> in_ptr(size_t(n) + 1, 0);
  for (int64_t e = 0; e < edges; ++e) ++in_ptr[size_t(idx[e]) + 1];
  for (int64_t i = 0; i < n; ++i) in_ptr[size_t(i) + 1] += in_ptr[size_t(i)];
  std::vector<int32_t> fill(in_ptr.begin(), in_ptr.end() - 1), in_src(static_cast<size_t>(edges));
  std::vector<float> in_val(static_cast<size_t>(edges));
  for (int64_t e = 0; e < edges; ++e) {
    const auto slot = size_t(fill[size_t(idx[e])]++);
    in_src[slot] = int32_t(e / k);
    in_val[slot] = cond_p[e];
  }
  // Out-lists sorted by column (the neighbours of a row are distinct).
  std::vector<int32_t> out_col(static_cast<size_t>(edges));
  std::vector<float> out_val(static_cast<size_t>(edges));
#pragma omp parallel
  {
    std::vector<std::pair<int32_t, float>> row(static_cast<size_t>(k));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      for (int m = 0; m < k; ++m) row[size_t(m)] = {idx[i * k + m], cond_p[i * k + m]};
      std::sort(row.begin(), row.end());
      for (int m = 0; m < k; ++m) std::tie(out_col[size_t(i * k + m)], out_val[size_t(i * k + m)]) = row[size_t(m)];
    }
  }
  // Row lengths, their prefix sums, then the rows.
  const double scale = 1.0 / (2.0 * double(n));
  auto merge = [&](int64_t i, int32_t* c, float* v, double* sum) {
    const int32_t in0 = in_ptr[size_t(i)];
    return tsne_merge_row(c, v, sum, &out_col[size_t(i * k)], &out_val[size_t(i * k)], k, &in_src[size_t(in0)],
                          &in_val[size_t(in0)], in_ptr[size_t(i) + 1] - in0, scale);
  };
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) row_ptr[i + 1] = merge(i, nullptr, nullptr, nullptr);
  row_ptr[0] = 0;
  for (int64_t i = 0; i < n; ++i) row_ptr[i + 1] += row_ptr[i];
  std::vector<double> row_sum(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) merge(i, col + row_ptr[i], val + row_ptr[i], &row_sum[size_t(i)]);
  *p_sum = chunked_tree_sum(row_sum.data(), n);
}

SparseP tsne_symmetric_p(const int32_t* idx, const float* cond_p, int64_t n, int k) {
  SparseP p;
  p.row_ptr.resize(size_t(n) + 1);
  p.col.resize(size_t(2 * n * k));
  p.val.resize(size_t(2 * n * k));
  tsne_symmetrize(p.row_ptr.data(), p.col.data(), p.val.data(), &p.sum, idx, cond_p, n, k);
  p.col.resize(size_t(p.row_ptr[size_t(n)]));
  p.val.resize(size_t(p.row_ptr[size_t(n)]));
  return p;
}

}  // namespace zs::cpu
