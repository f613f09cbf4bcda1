// The CPU twin of the t-SNE kernels (contract: tsne.h; arithmetic: kernels/tsne_math.h).
#include "kernels/cpu/tsne.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <queue>
#include <stdexcept>
#include <string>
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

// Barnes-Hut quadtree over the embedding: square cells, children in quadrant order, points kept
// in a permutation so each cell owns a contiguous range. Built single-threaded: deterministic.
struct QuadCell {
  double com_x = 0, com_y = 0;   // centre of mass
  double width = 0;              // side of the square cell
  int32_t begin = 0, end = 0;    // its points: perm[begin, end)
  int32_t child[4] = {-1, -1, -1, -1};
  bool leaf = true;
};

class QuadTree {
 public:
  QuadTree(const float* y, int64_t n) : y_(y), perm_(size_t(n)) {
    for (int64_t i = 0; i < n; ++i) perm_[size_t(i)] = int32_t(i);
    float lo_x = y[0], hi_x = y[0], lo_y = y[1], hi_y = y[1];
    for (int64_t i = 1; i < n; ++i) {
      lo_x = std::min(lo_x, y[2 * i]);
      hi_x = std::max(hi_x, y[2 * i]);
      lo_y = std::min(lo_y, y[2 * i + 1]);
      hi_y = std::max(hi_y, y[2 * i + 1]);
    }
    // Slightly enlarged so that the maximum lies strictly inside.
    const double width = std::max(double(hi_x) - lo_x, double(hi_y) - lo_y) * (1 + 1e-6) + 1e-12;
    build(0, int32_t(n), lo_x, lo_y, width, 0);
  }
  const std::vector<QuadCell>& cells() const { return cells_; }
  const std::vector<int32_t>& perm() const { return perm_; }

 private:
  static constexpr int kMaxDepth = 48;   // below this, coincident points share a leaf

  int32_t build(int32_t begin, int32_t end, double x0, double y0, double width, int depth) {
    const int32_t id = int32_t(cells_.size());
    cells_.emplace_back();
    double sx = 0, sy = 0;
    for (int32_t p = begin; p < end; ++p) {
      sx += y_[2 * int64_t(perm_[size_t(p)])];
      sy += y_[2 * int64_t(perm_[size_t(p)]) + 1];
    }
    QuadCell cell;
    cell.com_x = sx / (end - begin);
    cell.com_y = sy / (end - begin);
    cell.width = width;
    cell.begin = begin;
    cell.end = end;
    if (end - begin > 1 && depth < kMaxDepth) {
      cell.leaf = false;
      const double half = width / 2, mid_x = x0 + half, mid_y = y0 + half;
      auto quadrant = [&](int32_t i) {
        return (y_[2 * int64_t(i)] >= mid_x ? 1 : 0) + (y_[2 * int64_t(i) + 1] >= mid_y ? 2 : 0);
      };
      // Stable split into the four quadrants.
      std::vector<int32_t> sorted;
      sorted.reserve(size_t(end - begin));
      int32_t bounds[5] = {begin, 0, 0, 0, 0};
      for (int q = 0; q < 4; ++q) {
        for (int32_t p = begin; p < end; ++p)
          if (quadrant(perm_[size_t(p)]) == q) sorted.push_back(perm_[size_t(p)]);
        bounds[q + 1] = begin + int32_t(sorted.size());
      }
      std::copy(sorted.begin(), sorted.end(), perm_.begin() + begin);
      for (int q = 0; q < 4; ++q) {
        if (bounds[q + 1] == bounds[q]) continue;
        const int32_t c = build(bounds[q], bounds[q + 1], q & 1 ? mid_x : x0, q & 2 ? mid_y : y0, half, depth + 1);
        cell.child[q] = c;
      }
    }
    cells_[size_t(id)] = cell;
    return id;
  }

  const float* y_;
  std::vector<int32_t> perm_;
  std::vector<QuadCell> cells_;
};

void repulsive_barnes_hut(float* repulsion, double* zrow, const float* y, int64_t n, float theta) {
  const QuadTree tree(y, n);
  const std::vector<QuadCell>& cells = tree.cells();
  const std::vector<int32_t>& perm = tree.perm();
  const double theta2 = double(theta) * theta;
#pragma omp parallel
  {
    std::vector<int32_t> stack;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const double yx = y[2 * i], yy = y[2 * i + 1];
      double rx = 0, ry = 0, z = 0;
      stack.assign(1, 0);
      while (!stack.empty()) {
        const QuadCell& cell = cells[size_t(stack.back())];
        stack.pop_back();
        if (cell.leaf) {   // exact over its points (one, or coincident ones), the point itself skipped
          for (int32_t p = cell.begin; p < cell.end; ++p) {
            const int64_t j = perm[size_t(p)];
            if (j == i) continue;
            const double dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
            const double t = 1.0 / (1.0 + dx * dx + dy * dy);
            z += t;
            rx += t * t * dx;
            ry += t * t * dy;
          }
          continue;
        }
        const double dx = yx - cell.com_x, dy = yy - cell.com_y, d2 = dx * dx + dy * dy;
        if (cell.width * cell.width < theta2 * d2) {   // sklearn: max_width^2 / dist^2 < theta^2
          const double count = cell.end - cell.begin, t = 1.0 / (1.0 + d2);
          z += count * t;
          rx += count * t * t * dx;
          ry += count * t * t * dy;
          continue;
        }
        for (int q = 3; q >= 0; --q)
          if (cell.child[q] >= 0) stack.push_back(cell.child[q]);
      }
      repulsion[2 * i] = float(rx);
      repulsion[2 * i + 1] = float(ry);
      zrow[i] = z;
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
      for (int64_t j = j0; j < j1; ++j) {
        if (j == i) continue;
        const float dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
        const float t = tsne_t_kernel(dx, dy);
        const float tt = t * t;
        tile_z += t;
        tile_rx = fmaf(tt, dx, tile_rx);
        tile_ry = fmaf(tt, dy, tile_ry);
      }
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
  for (int64_t i = 0; i < n; ++i) {
    const float yx = y[2 * i], yy = y[2 * i + 1];
    float ax = 0.f, ay = 0.f;
    double kl = 0.0;
    for (int32_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) {
      const int64_t j = col[e];
      const float dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
      const float t = tsne_t_kernel(dx, dy);
      const float p = exaggeration * val[e];
      const float w = p * t;
      ax = fmaf(w, dx, ax);
      ay = fmaf(w, dy, ay);
      if (kl_row && p > 0.f) kl = std::fma(double(p), std::log(double(p) / double(t)), kl);   // 0 log 0 = 0
    }
    attraction[2 * i] = ax;
    attraction[2 * i + 1] = ay;
    if (kl_row) kl_row[i] = kl;
  }
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
  double partial[kTsneStepThreads];
  const int64_t z_chunk = (n + kTsneStepThreads - 1) / kTsneStepThreads;
  for (int t = 0; t < kTsneStepThreads; ++t) {
    double s = 0;
    for (int64_t i = t * z_chunk; i < std::min(n, (t + 1) * z_chunk); ++i) s += zrow[i];
    partial[t] = s;
  }
  const double z = tree_reduce(partial);
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

SparseP tsne_symmetrize(const int32_t* idx, const float* cond_p, int64_t n, int k) {
  require(n >= 2 && k >= 1 && int64_t(k) * n * 2 <= 0x7fffffff, "tsne_symmetrize", "sizes out of range");
  std::vector<int32_t> count(size_t(n) + 1, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int m = 0; m < k; ++m) {
      const int32_t j = idx[i * k + m];
      require(j >= 0 && j < n && j != i, "tsne_symmetrize", "neighbour index out of range");
      ++count[size_t(i) + 1];
      ++count[size_t(j) + 1];
    }
  for (int64_t i = 0; i < n; ++i) count[size_t(i) + 1] += count[size_t(i)];
  // Every directed edge i -> j lands in row i (as p_j|i) and in row j (as p_i|j), in i order.
  std::vector<std::pair<int32_t, double>> entries(size_t(count[size_t(n)]));
  std::vector<int32_t> fill(count.begin(), count.end() - 1);
  for (int64_t i = 0; i < n; ++i)
    for (int m = 0; m < k; ++m) {
      const int32_t j = idx[i * k + m];
      const double p = cond_p[i * k + m];
      entries[size_t(fill[size_t(i)]++)] = {j, p};
      entries[size_t(fill[size_t(j)]++)] = {int32_t(i), p};
    }
  SparseP out;
  out.row_ptr.assign(size_t(n) + 1, 0);
  out.col.reserve(entries.size());
  out.val.reserve(entries.size());
  const double scale = 1.0 / (2.0 * double(n));
  for (int64_t i = 0; i < n; ++i) {
    auto first = entries.begin() + count[size_t(i)], last = entries.begin() + count[size_t(i) + 1];
    std::stable_sort(first, last, [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto e = first; e != last;) {   // a column appears at most twice: p_j|i and p_i|j
      double p = e->second;
      const int32_t j = e->first;
      for (++e; e != last && e->first == j; ++e) p += e->second;
      out.col.push_back(j);
      out.val.push_back(float(p * scale));
    }
    out.row_ptr[size_t(i) + 1] = int32_t(out.col.size());
  }
  return out;
}

}  // namespace zs::cpu
