// Convolutions on the device (API and semantics: conv2d.cuh). NCHW float32, weights [K][C][R][S].
//
// Kernel versions (the public entries take `version`; tests and benchmarks run every one):
//   conv2d_forward_kernel1          naive port of the CPU loops: one thread per output element.
//   conv_implicit_gemm_kernel       (forward version 2) implicit GEMM Y[K][N*P*Q] = W * im2col(x):
//                                   tiles of filters x output pixels in shared memory (double
//                                   buffered, one barrier per stage), 8x4, 4x8 or 4x4 register
//                                   blocking (tile picked by channel count and grid size),
//                                   reduction ordered (8-channel chunk, tap), fused bias+activation.
//   conv_direct3x3_kernel           (forward version 3, shipped) stride-1 3x3 convs with at most
//                                   kDirectMaxChannels input channels: input rows with halo staged
//                                   in shared memory, each thread 4 adjacent pixels x up to 8
//                                   filters; other geometries run version 2.
//   conv2d_backward_data_kernel1    naive gather: one thread per dx element, loops over k, r, s.
//   conv_implicit_gemm_kernel       (backward-data version 2) the same GEMM kernel on the transposed
//                                   problem, split into stride-parity classes (blockIdx.z): the
//                                   outputs with h = a (mod stride) only meet the taps r = a + i*stride,
//                                   so no zero of a dilated dy is ever multiplied.
//   conv_direct3x3_kernel           (backward-data version 3, shipped) stride-1 3x3 with at most
//                                   kDirectMaxChannels OUTPUT channels (= a forward conv of dy with
//                                   the flipped kernel); otherwise version 2.
//   conv2d_backward_weight_kernel1  naive: one thread per dw (and db) element, a serial sum.
//   conv_backward_weight_kernel2    (shipped) GEMM dW[K][CRS] = dY[K][NPQ] * im2col(x)^T, the NPQ
//                                   reduction split into a fixed, geometry-derived number of chunks
//                                   written to workspace partials, then
//                                   conv_backward_weight_reduce_kernel sums them in split order; db
//                                   is summed from the dy tiles the first column of blocks loads.
//   bias_grad_kernel1               one thread per channel, a serial sum.
//   bias_grad_kernel2               (shipped) one block per channel, a fixed-shape tree reduction.
// Determinism: every output is summed by one thread (or one fixed tree) in an order that depends
// on the geometry only, so the emulator's thread orders and the GPU all give the same bits for
// a given build (nvcc's FMA contraction makes emu and cuda differ in the last bits).
// Every default path needs compute capability <= 5.2: no tensor cores, no async copies, static
// shared memory <= 48 KiB.
// 32-bit offsets: check_geometry keeps one image (c*h*w, k*p*q), the weights and n*h*w, n*p*q below
// 2^31, so offsets inside one image or the weights, and pixel counts, are ints (64-bit maths costs
// registers in the tiled kernels); only image bases and flat indices over a batch are 64-bit.
// lint: bounded stride, r, s, pad_top, pad_left, tap_step, tap_sign, taps_r, taps_s, u_scale, v_scale,
//       dst_u_scale, dst_v_scale, band_rows, run_rows, row_pitch, chunk, segments, in_w (check_geometry:
//       stride <= 64, r and s <= 1024, pads <= 2^20; a ConvGemmView's scales and steps are 1, -1 or the
//       stride; the direct kernel's rows are at most kDirectMaxWidth + 2 wide, its bands at most
//       kDirectMaxThreads rows, its chunks at most kDirectSmemFloats floats)
#include "kernels/common.cuh"
#include "kernels/activation.cuh"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/conv2d.cuh"
#include "kernels/vector_io.cuh"

namespace zs::ZS_KNS {
namespace {

// ---- tile shapes (each is one template instantiation) ----
// Implicit GEMM of forward / backward-data: BM output channels x BN output pixels per block,
// BK reduction channels per stage, TM x TN outputs per thread.
struct GemmTile64x64 { static constexpr int BM = 64, BN = 64, BK = 8, TM = 8, TN = 4; };
struct GemmTile64x32 { static constexpr int BM = 64, BN = 32, BK = 8, TM = 4, TN = 4; };   // small grids
struct GemmTile32x128 { static constexpr int BM = 32, BN = 128, BK = 8, TM = 4, TN = 8; };  // <= 32 channels
// Backward-weight: BM filters x BN (c, r, s) entries per block, BK pixels per stage.
struct WgradTileLarge { static constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4; };
struct WgradTileSmall { static constexpr int BM = 32, BN = 16, BK = 32, TM = 2, TN = 2; };  // C*R*S <= 16

// Tiled kernels declare __launch_bounds__(threads, kMinResidentThreads / threads): ptxas then caps
// registers at 64K / 512 = 128 per thread instead of guessing an occupancy target (CUDA 13's
// ptxas otherwise picked 48-72 registers for some of them and spilled).
constexpr int kMinResidentThreads = 512;
constexpr int kNaiveBlock = 256;
constexpr int kBiasBlock = 512;   // one block per channel: enough loads in flight for one SM
constexpr int kReduceBlock = 256;
// A grid with fewer blocks than this many per SM leaves SMs idle or latency-bound: pick smaller tiles.
constexpr int kMinBlocksPerSm = 2;
// Direct 3x3 kernel: applies to at most this many channels on the small side, images up to
// kDirectMaxWidth wide; one block is at most kDirectMaxThreads threads (one per 4-pixel segment)
// and stages at most kDirectSmemFloats floats; bands of rows shrink until the grid has
// kDirectTargetBlocks blocks.
constexpr int kDirectMaxChannels = 4;
constexpr int kDirectPixels = 4;
constexpr int kDirectMaxThreads = 256;
constexpr int kDirectMaxWidth = kDirectMaxThreads * kDirectPixels;
constexpr int kDirectSmemFloats = 8192;
constexpr int kDirectTargetBlocks = 512;
// Backward-weight splits: enough blocks to fill a large GPU (the count is fixed by the geometry,
// not queried, so every GPU sums in the same order), but at least kMinStagesPerSplit stages each.
constexpr int kWgradTargetBlocks = 256;
constexpr int kMinStagesPerSplit = 8;
// Column coordinate of a pixel outside the problem: every bounds test on it fails.
constexpr int kOutside = -(1 << 28);

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(op) + ": " + what);
}

int multiprocessor_count() {
  int device = 0, count = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
  return count > 0 ? count : 1;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// device helpers

static __host__ __device__ constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Index (row or column inside a tile of B) of element i of thread t's T-element fragment. With T a
// multiple of 4 the fragment is T/4 runs of 4, spread B/(T/4) apart, so the float4 reads of a
// warp cover consecutive addresses (no bank conflicts); otherwise T consecutive elements.
template <int T, int B>
static __host__ __device__ constexpr int frag_index(int t, int i) {
  if constexpr (T % 4 == 0) {
    return (i / 4) * (B / (T / 4)) + t * 4 + i % 4;
  } else {
    return t * T + i;
  }
}

template <int T, int B>
static __device__ __forceinline__ void load_fragment(float (&f)[T], const float* row, int t) {
  if constexpr (T % 4 == 0) {
#pragma unroll
    for (int run = 0; run < T / 4; ++run) {
      const float4 v = load_float4(row + run * (B / (T / 4)) + t * 4);
      f[4 * run] = v.x;
      f[4 * run + 1] = v.y;
      f[4 * run + 2] = v.z;
      f[4 * run + 3] = v.w;
    }
  } else if constexpr (T % 2 == 0) {
#pragma unroll
    for (int pair = 0; pair < T / 2; ++pair) {
      const float2 v = load_float2(row + t * T + 2 * pair);
      f[2 * pair] = v.x;
      f[2 * pair + 1] = v.y;
    }
  } else {
#pragma unroll
    for (int i = 0; i < T; ++i) f[i] = row[t * T + i];
  }
}

// acc += a (BK x BM, m contiguous) ^T * b (BK x BN): the register-blocked inner product of a stage.
template <int BM, int BN, int BK, int TM, int TN, int kPitchA, int kPitchB>
static __device__ __forceinline__ void multiply_stage(float (&acc)[TM][TN], const float* a, const float* b, int ty,
                                                      int tx) {
#pragma unroll
  for (int kk = 0; kk < BK; ++kk) {
    float af[TM], bf[TN];
    load_fragment<TM, BM>(af, a + kk * kPitchA, ty);
    load_fragment<TN, BN>(bf, b + kk * kPitchB, tx);
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] += af[i] * bf[j];
  }
}

// ---------------------------------------------------------------------------------------------
// version 1: naive ports of the CPU loops (64-bit flat indices)

static __global__ void conv2d_forward_kernel1(float* __restrict__ y, const float* __restrict__ x,
                                              const float* __restrict__ w, const float* __restrict__ b, ConvGeom g,
                                              Act act) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(g.n) * g.k * g.p * g.q) return;
  const int q = int(i % g.q), p = int(i / g.q % g.p), k = int(i / (int64_t(g.q) * g.p) % g.k);
  const int64_t n = i / (int64_t(g.q) * g.p * g.k);
  float acc = 0.f;
  for (int c = 0; c < g.c; ++c) {
    for (int r = 0; r < g.r; ++r) {
      const int h = p * g.stride + r - g.pad_top;
      if (h < 0 || h >= g.h) continue;
      for (int s = 0; s < g.s; ++s) {
        const int wc = q * g.stride + s - g.pad_left;
        if (wc < 0 || wc >= g.w) continue;
        acc += x[((n * g.c + c) * g.h + h) * g.w + wc] * w[((int64_t(k) * g.c + c) * g.r + r) * g.s + s];
      }
    }
  }
  y[i] = activate(act, acc + (b ? b[k] : 0.f));
}

// dx[n][c][h][w] = sum over the (k, r, s) whose output (p, q) reads (h, w):
// p * stride + r - pad_top == h, q * stride + s - pad_left == w.
static __global__ void conv2d_backward_data_kernel1(float* __restrict__ dx, const float* __restrict__ dy,
                                                    const float* __restrict__ w, const float* __restrict__ bias,
                                                    ConvGeom g, Act act) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(g.n) * g.c * g.h * g.w) return;
  const int wc = int(i % g.w), h = int(i / g.w % g.h), c = int(i / (int64_t(g.w) * g.h) % g.c);
  const int64_t n = i / (int64_t(g.w) * g.h * g.c);
  float acc = 0.f;
  for (int k = 0; k < g.k; ++k) {
    for (int r = 0; r < g.r; ++r) {
      const int ph = h + g.pad_top - r;
      if (ph < 0 || ph % g.stride != 0 || ph / g.stride >= g.p) continue;
      for (int s = 0; s < g.s; ++s) {
        const int pw = wc + g.pad_left - s;
        if (pw < 0 || pw % g.stride != 0 || pw / g.stride >= g.q) continue;
        acc += w[((int64_t(k) * g.c + c) * g.r + r) * g.s + s] *
               dy[((n * g.k + k) * g.p + ph / g.stride) * g.q + pw / g.stride];
      }
    }
  }
  dx[i] = activate(act, acc + (bias ? bias[c] : 0.f));
}

// Threads [0, K*C*R*S) compute dw, threads [K*C*R*S, +K) db (when db is given).
static __global__ void conv2d_backward_weight_kernel1(float* __restrict__ dw, float* __restrict__ db,
                                                      const float* __restrict__ x, const float* __restrict__ dy,
                                                      ConvGeom g) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t w_count = int64_t(g.k) * g.c * g.r * g.s, pq = int64_t(g.p) * g.q;
  if (i < w_count) {
    const int s = int(i % g.s), r = int(i / g.s % g.r), c = int(i / (int64_t(g.s) * g.r) % g.c);
    const int k = int(i / (int64_t(g.s) * g.r * g.c));
    float acc = 0.f;
    for (int64_t n = 0; n < g.n; ++n)
      for (int p = 0; p < g.p; ++p) {
        const int h = p * g.stride + r - g.pad_top;
        if (h < 0 || h >= g.h) continue;
        for (int q = 0; q < g.q; ++q) {
          const int wc = q * g.stride + s - g.pad_left;
          if (wc < 0 || wc >= g.w) continue;
          acc += dy[(n * g.k + k) * pq + int64_t(p) * g.q + q] * x[((n * g.c + c) * g.h + h) * g.w + wc];
        }
      }
    dw[i] = acc;
  } else if (db && i < w_count + g.k) {
    const int k = int(i - w_count);
    float acc = 0.f;
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t j = 0; j < pq; ++j) acc += dy[(n * g.k + k) * pq + j];
    db[k] = acc;
  }
}

static __global__ void bias_grad_kernel1(float* __restrict__ db, const float* __restrict__ dy, int n, int c, int hw) {
  const int64_t ch = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  float acc = 0.f;
  for (int64_t img = 0; img < n; ++img)
    for (int j = 0; j < hw; ++j) acc += dy[(img * c + ch) * hw + j];
  db[ch] = acc;
}

// ---------------------------------------------------------------------------------------------
// version 2: implicit GEMM for the forward and (per stride-parity class) the backward-data conv
//
//   out[n][m][dst(u, v)] = act(bias[m] + sum over (ch, tap) of A(m, ch, tap) * B(ch, tap; n, u, v))
//   A(m, ch, tap)        = w[m * a_m_stride + ch * a_ch_stride + r * S + s]
//   B(ch, tap; n, u, v)  = src[n][ch][u0 + dh][v0 + dw]   (0 outside the source plane)
// forward:   m = k, ch = c, columns (n, p, q), u0 = p*stride - pad_top, tap (r, s) = (dh, dw).
// transposed (class a, b): m = c, ch = k, columns = the (n, h, w) with (h + pad_top) % stride == a
//   and (w + pad_left) % stride == b; its taps are r = a + i*stride, s = b + j*stride, which read
//   dy[n][k][hb - i][wb - j] with hb = (h + pad_top - a) / stride.

// Everything the GEMM kernel needs about one problem, derived from the geometry on both sides
// (the host sizes the grid with it, each block rebuilds it for its class).
struct ConvGemmView {
  int rows, red_channels;                          // M and the reduction channels
  int src_h, src_w, src_ch_stride;                 // source planes (x or dy)
  int64_t src_n_stride;
  int dst_w, dst_m_stride;                         // destination planes (y or dx)
  int64_t dst_n_stride;
  int a_m_stride, a_ch_stride;                     // weight strides of m and ch
  int grid_u, grid_v;                              // the class's output columns per image
  int u_scale, u_off, v_scale, v_off;              // source base: u0 = u * u_scale + u_off
  int dst_u_scale, dst_u_off, dst_v_scale, dst_v_off;
  int taps_r, taps_s, r_first, s_first, tap_step, tap_sign;   // tap (i, j): r = r_first + i*tap_step, dh = i*tap_sign
};

static __host__ __device__ ConvGemmView make_gemm_view(const ConvGeom& g, bool transposed, int cls) {
  ConvGemmView v{};
  const int rs = g.r * g.s;
  if (!transposed) {
    v.rows = g.k;
    v.red_channels = g.c;
    v.src_h = g.h;
    v.src_w = g.w;
    v.dst_w = g.q;
    v.dst_m_stride = g.p * g.q;   // lint: 32-bit ok (one plane)
    v.a_m_stride = g.c * rs;
    v.a_ch_stride = rs;
    v.grid_u = g.p;
    v.grid_v = g.q;
    v.u_scale = v.v_scale = g.stride;
    v.u_off = -g.pad_top;
    v.v_off = -g.pad_left;
    v.dst_u_scale = v.dst_v_scale = 1;
    v.dst_u_off = v.dst_v_off = 0;
    v.taps_r = g.r;
    v.taps_s = g.s;
    v.r_first = v.s_first = 0;
    v.tap_step = v.tap_sign = 1;
  } else {
    const int st = g.stride, a = cls / st, b = cls % st;
    // First output row/column of the class, then how many there are.
    const int h_first = ((a - g.pad_top) % st + st) % st, w_first = ((b - g.pad_left) % st + st) % st;
    v.rows = g.c;
    v.red_channels = g.k;
    v.src_h = g.p;
    v.src_w = g.q;
    v.dst_w = g.w;
    v.dst_m_stride = g.h * g.w;   // lint: 32-bit ok (one plane)
    v.a_m_stride = rs;
    v.a_ch_stride = g.c * rs;
    v.grid_u = h_first < g.h ? (g.h - h_first + st - 1) / st : 0;
    v.grid_v = w_first < g.w ? (g.w - w_first + st - 1) / st : 0;
    v.u_scale = v.v_scale = 1;
    v.u_off = (h_first + g.pad_top - a) / st;   // exact: h_first + pad_top = a (mod st)
    v.v_off = (w_first + g.pad_left - b) / st;
    v.dst_u_scale = v.dst_v_scale = st;
    v.dst_u_off = h_first;
    v.dst_v_off = w_first;
    v.taps_r = a < g.r ? (g.r - a + st - 1) / st : 0;
    v.taps_s = b < g.s ? (g.s - b + st - 1) / st : 0;
    v.r_first = a;
    v.s_first = b;
    v.tap_step = st;
    v.tap_sign = -1;
  }
  v.src_ch_stride = v.src_h * v.src_w;   // lint: 32-bit ok (one plane)
  v.src_n_stride = int64_t(v.red_channels) * v.src_ch_stride;
  v.dst_n_stride = int64_t(v.rows) * v.dst_m_stride;
  return v;
}

struct ConvGemmArgs {
  float* out;
  const float* src;   // x (forward) or dy (transposed)
  const float* w;
  const float* bias;  // [rows] or null
  ConvGeom g;
  Act act;
  bool transposed;
};

template <class Tile>
static __global__ void __launch_bounds__((Tile::BM / Tile::TM) * (Tile::BN / Tile::TN),
                                         kMinResidentThreads / ((Tile::BM / Tile::TM) * (Tile::BN / Tile::TN)))
    conv_implicit_gemm_kernel(ConvGemmArgs args) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  constexpr int kThreads = (BM / TM) * (BN / TN);
  constexpr int kPitchA = BM + 4;   // +4: the transposing stores of A hit 32 different banks
  constexpr int kBRowStep = kThreads / BN, kBLoads = BK / kBRowStep;
  constexpr int kARowStep = kThreads / BK, kALoads = BM / kARowStep;
  static_assert(kThreads % BN == 0 && BK % kBRowStep == 0 && kThreads % BK == 0 && BM % kARowStep == 0,
                "each thread must load whole rows of the stage");
  STATIC_SHARED(float, a_tile, [2][BK][kPitchA]);
  STATIC_SHARED(float, b_tile, [2][BK][BN]);

  const ConvGeom& g = args.g;
  const ConvGemmView v = make_gemm_view(g, args.transposed, blockIdx.z);
  // lint: 32-bit ok (the class's pixels per image and in the batch, below n*h*w or n*p*q; tile origins)
  const int class_cols = v.grid_u * v.grid_v, cols = g.n * class_cols, col0 = blockIdx.x * BN, m0 = blockIdx.y * BM;
  if (col0 >= cols) return;   // the whole block: classes differ in size

  const int tid = threadIdx.x;
  // This thread loads column b_col of every B stage, rows b_row0 + i * kBRowStep: its pixel's
  // source coordinates are decoded once.
  const int b_col = tid % BN, b_row0 = tid / BN;
  const float* src_n = args.src;
  int u0 = kOutside, v0 = kOutside;
  if (col0 + b_col < cols) {
    const int col = col0 + b_col, n = col / class_cols, rem = col - n * class_cols;   // lint: 32-bit ok (<= col)
    const int u = rem / v.grid_v, vv = rem - u * v.grid_v;                              // lint: 32-bit ok (<= rem)
    src_n += n * v.src_n_stride;
    u0 = u * v.u_scale + v.u_off;
    v0 = vv * v.v_scale + v.v_off;
  }
  // ...and element a_ch of rows a_row0 + i * kARowStep of every A stage.
  const int a_ch = tid % BK, a_row0 = tid / BK;

  float a_regs[kALoads], b_regs[kBLoads];
  // Stage (c0, ti, tj): reduction channels [c0, c0 + BK) at tap (ti, tj).
  auto load_stage = [&](int c0, int ti, int tj) {
    const int h = u0 + ti * v.tap_sign, wc = v0 + tj * v.tap_sign;
    const bool inside = unsigned(h) < unsigned(v.src_h) && unsigned(wc) < unsigned(v.src_w);
    // h is kOutside-based off the problem: no overflow. lint: 32-bit ok (one plane)
    const int spatial = inside ? h * v.src_w + wc : 0;
#pragma unroll
    for (int i = 0; i < kBLoads; ++i) {
      const int ch = c0 + b_row0 + i * kBRowStep;
      // lint: 32-bit ok (inside one image)
      b_regs[i] = inside && ch < v.red_channels ? __ldg(src_n + ch * v.src_ch_stride + spatial) : 0.f;
    }
    const int tap = (v.r_first + ti * v.tap_step) * g.s + v.s_first + tj * v.tap_step;
    const int ch = c0 + a_ch;
#pragma unroll
    for (int i = 0; i < kALoads; ++i) {
      const int m = m0 + a_row0 + i * kARowStep;
      // lint: 32-bit ok (inside the weights)
      a_regs[i] = m < v.rows && ch < v.red_channels ? __ldg(args.w + m * v.a_m_stride + ch * v.a_ch_stride + tap)
                                                    : 0.f;
    }
  };
  auto store_stage = [&](int buf) {
#pragma unroll
    for (int i = 0; i < kBLoads; ++i) b_tile[buf][b_row0 + i * kBRowStep][b_col] = b_regs[i];
#pragma unroll
    for (int i = 0; i < kALoads; ++i) a_tile[buf][a_ch][a_row0 + i * kARowStep] = a_regs[i];
  };

  const int tx = tid % (BN / TN), ty = tid / (BN / TN);
  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  // Stages run (channel chunk, tap row, tap column) in that nesting: a chunk's input stays in L1
  // while its taps go by. One barrier per stage: stage s + 1 is stored into the other buffer,
  // whose last readers (stage s - 1) finished before the previous barrier.
  const int stages = int(ceil_div(v.red_channels, BK)) * v.taps_r * v.taps_s;
  if (stages > 0) {
    int c0 = 0, ti = 0, tj = 0;
    load_stage(c0, ti, tj);
    store_stage(0);
    __syncthreads();
    for (int stage = 0; stage < stages; ++stage) {
      const bool more = stage + 1 < stages;
      if (more) {
        if (++tj == v.taps_s) {
          tj = 0;
          if (++ti == v.taps_r) {
            ti = 0;
            c0 += BK;
          }
        }
        load_stage(c0, ti, tj);   // global loads in flight during the multiply
      }
      multiply_stage<BM, BN, BK, TM, TN, kPitchA, BN>(acc, &a_tile[stage & 1][0][0], &b_tile[stage & 1][0][0], ty, tx);
      if (more) store_stage((stage + 1) & 1);
      __syncthreads();
    }
  }

  // Epilogue: bias, activation, scatter to NCHW (columns of a class are strided in dx).
  float bias[TM];
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + frag_index<TM, BM>(ty, i);
    bias[i] = args.bias && m < v.rows ? __ldg(args.bias + m) : 0.f;
  }
#pragma unroll
  for (int j = 0; j < TN; ++j) {
    const int col = col0 + frag_index<TN, BN>(tx, j);
    if (col >= cols) continue;
    const int n = col / class_cols, rem = col - n * class_cols;   // lint: 32-bit ok (<= col)
    const int u = rem / v.grid_v, vv = rem - u * v.grid_v;          // lint: 32-bit ok (<= rem)
    // lint: 32-bit ok (a row of one plane)
    float* out = args.out + n * v.dst_n_stride + (u * v.dst_u_scale + v.dst_u_off) * v.dst_w +
                 vv * v.dst_v_scale + v.dst_v_off;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int m = m0 + frag_index<TM, BM>(ty, i);
      if (m < v.rows) out[int64_t(m) * v.dst_m_stride] = activate(args.act, acc[i][j] + bias[i]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// version 3: direct stride-1 3x3 convolution for few channels on one side
//
//   out[n][o][y][x] = act(bias[o] + sum over i, r, s of in[n][i][y + r - pad_top][x + s - pad_left] * W(o, i, r, s))
// forward:    in = x, out = y, W(o, i, r, s) = w[o][i][r][s], pads = the conv's.
// transposed: in = dy, out = dx, W(o, i, r, s) = w[i][o][2 - r][2 - s], pads = 2 - the conv's.
// A block owns a band of rows of one image and OBT output channels; each thread 4 adjacent pixels
// of one row. Input channels are staged `chunk` at a time (as many as kDirectSmemFloats holds):
// band rows + 2 halo rows, zero padded, in shared memory, with the chunk's weights laid out
// [i][tap][o] for broadcast reads. The small side is the point: its GEMM would be 1-4 rows tall
// (transposed) or 9-36 deep (forward), and this kernel is bound by memory instead.

struct DirectArgs {
  float* out;
  const float* in;
  const float* w;
  const float* bias;   // [out_ch] or null
  Act act;
  int n, in_ch, in_h, in_w, out_ch, out_h, out_w;
  int pad_top, pad_left;   // may be negative
  int band_rows, bands, chunk, row_pitch, weight_floats;
  bool vector_rows;   // stage whole input rows with float4 loads (in_w % 4 == 0, aligned, rows fit)
  bool vector_out;    // store 4 pixels with one float4 (out_w % 4 == 0, aligned)
};

// Copies the interior of a chunk's staged rows: count channels x run_rows input rows starting at
// `first` (input row first_row of channel c0), V floats per load; input column iw lands at
// column iw + pad_left of staged row stage_row0 + row. Columns outside [col_lo, col_hi) are not
// needed (V == 4 only runs when every column is). Flat over (channel, row, column) with loads
// unrolled, so a block keeps many independent loads in flight.
template <int V>
static __device__ __forceinline__ void stage_input_rows(float* in_stage, const float* first, const DirectArgs& a,
                                                        int count, int run_rows, int stage_row0, int col_lo,
                                                        int col_hi) {
  const int width = a.in_w / V, per_channel = run_rows * width, total = count * per_channel;
  const int channel_stride = a.in_h * a.in_w, staged_channel = (a.band_rows + 2) * a.row_pitch;
#pragma unroll 4
  for (int t = threadIdx.x; t < total; t += blockDim.x) {
    const int ci = t / per_channel, e = t - ci * per_channel, row = e / width, iw = (e - row * width) * V;
    const float* src = first + ci * channel_stride + row * a.in_w + iw;   // lint: 32-bit ok (inside one image)
    const int dst = ci * staged_channel + (stage_row0 + row) * a.row_pitch + a.pad_left + iw;
    if constexpr (V == 4) {
      const float4 v = load_global_float4(src);
      in_stage[dst] = v.x;
      in_stage[dst + 1] = v.y;
      in_stage[dst + 2] = v.z;
      in_stage[dst + 3] = v.w;
    } else {
      if (iw >= col_lo && iw < col_hi) in_stage[dst] = __ldg(src);
    }
  }
}

template <int OBT, bool kTransposed>
static __global__ void __launch_bounds__(kDirectMaxThreads, kMinResidentThreads / kDirectMaxThreads)
    conv_direct3x3_kernel(DirectArgs a) {
  DYNAMIC_SHARED(float, smem);
  float* w_stage = smem;                       // [chunk][9][OBT]
  float* in_stage = smem + a.weight_floats;    // [chunk][band_rows + 2][row_pitch]
  const int segments = (a.out_w + kDirectPixels - 1) / kDirectPixels;
  const int n = blockIdx.x / a.bands, y0 = (blockIdx.x % a.bands) * a.band_rows;
  const int o0 = blockIdx.y * OBT;   // lint: 32-bit ok (below out_ch + OBT)
  const int tid = threadIdx.x, ty = tid / segments, x0 = (tid % segments) * kDirectPixels;
  const bool active = ty < a.band_rows && y0 + ty < a.out_h;
  const int rows = a.band_rows + 2;
  // The band's input rows inside the image and the staged row the first one lands on; the
  // columns iw with 0 <= iw + pad_left < row_pitch.
  const int first_row = max(0, y0 - a.pad_top), end_row = min(a.in_h, y0 + rows - a.pad_top);
  const int run_rows = max(0, end_row - first_row), stage_row0 = first_row - (y0 - a.pad_top);
  const int col_lo = max(0, -a.pad_left), col_hi = min(a.in_w, a.row_pitch - a.pad_left);

  // Zero the staging area once: padding rows and columns are never written again, the interior
  // is overwritten by every chunk.
  for (int e = tid; e < a.chunk * rows * a.row_pitch; e += blockDim.x) in_stage[e] = 0.f;

  float acc[OBT][kDirectPixels];
#pragma unroll
  for (int o = 0; o < OBT; ++o)
#pragma unroll
    for (int px = 0; px < kDirectPixels; ++px) acc[o][px] = 0.f;

  for (int c0 = 0; c0 < a.in_ch; c0 += a.chunk) {
    const int count = min(a.chunk, a.in_ch - c0);
    __syncthreads();   // the zeroing, or the previous chunk's readers, are done
    if (run_rows > 0) {
      const float* first = a.in + ((int64_t(n) * a.in_ch + c0) * a.in_h + first_row) * a.in_w;
      if (a.vector_rows)
        stage_input_rows<4>(in_stage, first, a, count, run_rows, stage_row0, col_lo, col_hi);
      else
        stage_input_rows<1>(in_stage, first, a, count, run_rows, stage_row0, col_lo, col_hi);
    }
    for (int e = tid; e < count * 9 * OBT; e += blockDim.x) {
      const int ob = e % OBT, tap = e / OBT % 9, ci = e / (OBT * 9), o = o0 + ob, i = c0 + ci;
      float wv = 0.f;
      if (o < a.out_ch)
        wv = kTransposed ? __ldg(a.w + (int64_t(i) * a.out_ch + o) * 9 + 8 - tap)
                         : __ldg(a.w + (int64_t(o) * a.in_ch + i) * 9 + tap);
      w_stage[e] = wv;
    }
    __syncthreads();
    if (active) {
      for (int ci = 0; ci < count; ++ci) {
#pragma unroll
        for (int r = 0; r < 3; ++r) {
          // The 6 inputs the 4 pixels' 3 taps of row r read (row_pitch and x0 are multiples of 4).
          const float* line = in_stage + (ci * rows + ty + r) * a.row_pitch + x0;
          const float4 head = load_float4(line);
          const float2 tail = load_float2(line + 4);
          const float seg[6] = {head.x, head.y, head.z, head.w, tail.x, tail.y};
#pragma unroll
          for (int s = 0; s < 3; ++s) {
            float wv[OBT];
            const float* wsrc = w_stage + (ci * 9 + r * 3 + s) * OBT;
            if constexpr (OBT % 4 == 0) {
#pragma unroll
              for (int o = 0; o < OBT; o += 4) {
                const float4 q = load_float4(wsrc + o);
                wv[o] = q.x;
                wv[o + 1] = q.y;
                wv[o + 2] = q.z;
                wv[o + 3] = q.w;
              }
            } else {
#pragma unroll
              for (int o = 0; o < OBT; ++o) wv[o] = wsrc[o];
            }
#pragma unroll
            for (int o = 0; o < OBT; ++o)
#pragma unroll
              for (int px = 0; px < kDirectPixels; ++px) acc[o][px] += seg[px + s] * wv[o];
          }
        }
      }
    }
  }

  if (!active) return;
  const int y = y0 + ty;
#pragma unroll
  for (int o = 0; o < OBT; ++o) {
    if (o0 + o >= a.out_ch) continue;
    const float bias = a.bias ? __ldg(a.bias + o0 + o) : 0.f;
    float* dst = a.out + ((int64_t(n) * a.out_ch + o0 + o) * a.out_h + y) * a.out_w + x0;
    if (a.vector_out) {
      store_float4(dst, make_float4(activate(a.act, acc[o][0] + bias), activate(a.act, acc[o][1] + bias),
                                    activate(a.act, acc[o][2] + bias), activate(a.act, acc[o][3] + bias)));
    } else {
#pragma unroll
      for (int px = 0; px < kDirectPixels; ++px)
        if (x0 + px < a.out_w) dst[px] = activate(a.act, acc[o][px] + bias);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// backward-weight version 2: split-reduction GEMM, then a fixed-order sum of the splits

struct WgradArgs {
  float* dw_out;   // dw itself (one split) or the workspace: [splits][K*C*R*S]
  float* db_out;   // db itself (one split), the workspace's [splits][K], or null
  const float* x;
  const float* dy;
  ConvGeom g;
  int pixels_per_split;
};

template <class Tile>
static __global__ void __launch_bounds__((Tile::BM / Tile::TM) * (Tile::BN / Tile::TN),
                                         kMinResidentThreads / ((Tile::BM / Tile::TM) * (Tile::BN / Tile::TN)))
    conv_backward_weight_kernel2(WgradArgs args) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  constexpr int kThreads = (BM / TM) * (BN / TN);
  constexpr int kGroups = kThreads / BK, kALoads = BM / kGroups, kBLoads = BN / kGroups;
  constexpr int kPad = TM % 4 == 0 ? 4 : 2;   // keeps the fragment loads aligned, spreads stores over banks
  constexpr int kPitchA = BM + kPad, kPitchB = BN + kPad;
  static_assert(kThreads % BK == 0 && BM % kGroups == 0 && BN % kGroups == 0, "whole rows per thread");
  STATIC_SHARED(float, a_tile, [2][BK][kPitchA]);   // dy: [pixel][k]
  STATIC_SHARED(float, b_tile, [2][BK][kPitchB]);   // x:  [pixel][(c, r, s)]

  const ConvGeom& g = args.g;
  // lint: 32-bit ok (planes, tile origins and pixel counts: below the weights' size or n*p*q, both checked)
  const int rs = g.r * g.s, crs = g.c * rs, pq = g.p * g.q, hw = g.h * g.w;
  const int crs0 = blockIdx.x * BN, k0 = blockIdx.y * BM, split = blockIdx.z;   // lint: 32-bit ok (as above)
  const int pix_begin = split * args.pixels_per_split;                         // lint: 32-bit ok (as above)
  const int pix_end = min(g.n * pq, pix_begin + args.pixels_per_split);        // lint: 32-bit ok (as above)
  const int tid = threadIdx.x, lane = tid % BK, group = tid / BK;

  // This thread's B rows (c, r, s) never change: their x offsets and taps are decoded once.
  int b_offset[kBLoads], b_r[kBLoads], b_s[kBLoads];
#pragma unroll
  for (int i = 0; i < kBLoads; ++i) {
    const int e = crs0 + group + i * kGroups;
    const int c = e / rs, r = e % rs / g.s, s = e % g.s;
    const bool valid = e < crs;
    b_offset[i] = valid ? c * hw + r * g.w + s : 0;   // lint: 32-bit ok (inside one image)
    b_r[i] = valid ? r : kOutside;
    b_s[i] = s;
  }
  // This thread's pixel of each stage: pix_begin + lane, advancing by BK.
  int pix = pix_begin + lane, n = 0, p = 0, q = 0;
  if (pix < pix_end) {
    n = pix / pq;
    p = pix % pq / g.q;
    q = pix % g.q;
  }

  float a_regs[kALoads], b_regs[kBLoads];
  auto load_stage = [&]() {
    const bool valid = pix < pix_end;
    const int u0 = p * g.stride - g.pad_top, v0 = q * g.stride - g.pad_left;
    // x_offset may be negative: padding. lint: 32-bit ok (one plane)
    const int dy_offset = p * g.q + q, x_offset = u0 * g.w + v0;
    const float* dy_n = args.dy + (valid ? int64_t(n) * g.k * pq : 0);
    const float* x_n = args.x + (valid ? int64_t(n) * g.c * hw : 0);
#pragma unroll
    for (int i = 0; i < kALoads; ++i) {
      const int k = k0 + group + i * kGroups;
      a_regs[i] = valid && k < g.k ? __ldg(dy_n + (k * pq + dy_offset)) : 0.f;
    }
#pragma unroll
    for (int i = 0; i < kBLoads; ++i) {
      const bool inside = unsigned(u0 + b_r[i]) < unsigned(g.h) && unsigned(v0 + b_s[i]) < unsigned(g.w);
      b_regs[i] = valid && inside ? __ldg(x_n + (b_offset[i] + x_offset)) : 0.f;
    }
  };
  auto advance = [&]() {
    pix += BK;
    q += BK;
    while (q >= g.q) {
      q -= g.q;
      ++p;
    }
    while (p >= g.p) {
      p -= g.p;
      ++n;
    }
  };
  auto store_stage = [&](int buf) {
#pragma unroll
    for (int i = 0; i < kALoads; ++i) a_tile[buf][lane][group + i * kGroups] = a_regs[i];
#pragma unroll
    for (int i = 0; i < kBLoads; ++i) b_tile[buf][lane][group + i * kGroups] = b_regs[i];
  };

  const int tx = tid % (BN / TN), ty = tid / (BN / TN);
  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;
  // db comes from the dy tiles of the first column of blocks: thread t < BM sums row k0 + t.
  const bool sums_db = args.db_out && blockIdx.x == 0 && tid < BM;
  float db_acc = 0.f;

  const int stages = pix_end > pix_begin ? int(ceil_div(pix_end - pix_begin, BK)) : 0;
  if (stages > 0) {
    load_stage();
    store_stage(0);
    __syncthreads();
    for (int stage = 0; stage < stages; ++stage) {
      const bool more = stage + 1 < stages;
      if (more) {
        advance();
        load_stage();
      }
      const int buf = stage & 1;
      multiply_stage<BM, BN, BK, TM, TN, kPitchA, kPitchB>(acc, &a_tile[buf][0][0], &b_tile[buf][0][0], ty, tx);
      if (sums_db)
        for (int kk = 0; kk < BK; ++kk) db_acc += a_tile[buf][kk][tid];
      if (more) store_stage(buf ^ 1);
      __syncthreads();
    }
  }

  float* dw_out = args.dw_out + int64_t(split) * g.k * crs;
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int k = k0 + frag_index<TM, BM>(ty, i);
    if (k >= g.k) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int e = crs0 + frag_index<TN, BN>(tx, j);
      if (e < crs) dw_out[int64_t(k) * crs + e] = acc[i][j];
    }
  }
  if (sums_db && k0 + tid < g.k) args.db_out[int64_t(split) * g.k + k0 + tid] = db_acc;
}

// dw[e] = sum over splits s (in order) of partial[s][e]; then db likewise from partial_db.
static __global__ void conv_backward_weight_reduce_kernel(float* __restrict__ dw, float* __restrict__ db,
                                                          const float* __restrict__ partial_dw,
                                                          const float* __restrict__ partial_db, int splits,
                                                          int w_count, int k) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e < w_count) {
    float acc = 0.f;
    for (int s = 0; s < splits; ++s) acc += partial_dw[int64_t(s) * w_count + e];
    dw[e] = acc;
  } else if (db && e < w_count + k) {
    const int ch = int(e - w_count);
    float acc = 0.f;
    for (int s = 0; s < splits; ++s) acc += partial_db[int64_t(s) * k + ch];
    db[ch] = acc;
  }
}

// ---------------------------------------------------------------------------------------------
// bias gradient version 2: one block per channel

static __global__ void __launch_bounds__(kBiasBlock)
    bias_grad_kernel2(float* __restrict__ db, const float* __restrict__ dy, int n, int c, int hw, bool vectorized) {
  STATIC_SHARED(float, partial, [kBiasBlock]);
  const int ch = blockIdx.x, tid = threadIdx.x;
  // Thread t sums (groups of 4) elements t, t + kBiasBlock, ... of the channel's n x hw values,
  // image-major; unrolled so each thread has several loads in flight.
  float acc = 0.f;
  if (vectorized) {   // hw % 4 == 0 and dy 16-byte aligned
    const int hw4 = hw / 4, total = n * hw4;   // lint: 32-bit ok (bias_grad_nchw checks n*c*hw)
#pragma unroll 4
    for (int e = tid; e < total; e += kBiasBlock) {
      const int img = e / hw4, j = e - img * hw4;   // lint: 32-bit ok (<= e)
      const float4 v = load_global_float4(dy + (int64_t(img) * c + ch) * hw + 4 * j);
      acc += (v.x + v.y) + (v.z + v.w);
    }
  } else {
    const int total = n * hw;   // lint: 32-bit ok (bias_grad_nchw checks n*c*hw)
#pragma unroll 4
    for (int e = tid; e < total; e += kBiasBlock) {
      const int img = e / hw, j = e - img * hw;   // lint: 32-bit ok (<= e)
      acc += __ldg(dy + (int64_t(img) * c + ch) * hw + j);
    }
  }
  partial[tid] = acc;
  __syncthreads();
  for (int half = kBiasBlock / 2; half > 0; half /= 2) {
    if (tid < half) partial[tid] += partial[tid + half];
    __syncthreads();
  }
  if (tid == 0) db[ch] = partial[0];
}

// ---------------------------------------------------------------------------------------------
// launchers: raw pointers, sizes, stream; arguments already checked

namespace {

unsigned naive_grid(int64_t threads, const char* op) {
  const int64_t blocks = ceil_div(threads, kNaiveBlock);
  require(blocks <= INT_MAX, op, "too many elements for kernel version 1");
  return unsigned(blocks);
}

template <class Tile>
void launch_gemm_tile(const ConvGemmArgs& args, int64_t max_class_cols, int rows, int classes, cudaStream_t stream) {
  const dim3 grid(unsigned(ceil_div(max_class_cols, Tile::BN)), unsigned(ceil_div(rows, Tile::BM)), unsigned(classes));
  const int threads = (Tile::BM / Tile::TM) * (Tile::BN / Tile::TN);
  LAUNCH(conv_implicit_gemm_kernel<Tile>, grid, threads, 0, stream)(args);
}

void launch_implicit_gemm(const ConvGemmArgs& args, cudaStream_t stream) {
  const ConvGeom& g = args.g;
  const int classes = args.transposed ? g.stride * g.stride : 1;
  int64_t max_cols = 0;
  int rows = 0;
  for (int cls = 0; cls < classes; ++cls) {
    const ConvGemmView v = make_gemm_view(g, args.transposed, cls);
    max_cols = std::max(max_cols, int64_t(g.n) * v.grid_u * v.grid_v);
    rows = v.rows;
  }
  if (rows <= GemmTile32x128::BM) {
    launch_gemm_tile<GemmTile32x128>(args, max_cols, rows, classes, stream);
  } else {
    const int64_t blocks = ceil_div(rows, GemmTile64x64::BM) * ceil_div(max_cols, GemmTile64x64::BN) * classes;
    if (blocks >= int64_t(kMinBlocksPerSm) * multiprocessor_count())
      launch_gemm_tile<GemmTile64x64>(args, max_cols, rows, classes, stream);
    else
      launch_gemm_tile<GemmTile64x32>(args, max_cols, rows, classes, stream);
  }
}

// Version 3 takes the direct kernel for stride-1 3x3 convs whose small side (the forward's input
// channels, the transposed conv's output channels = the forward's C) is at most kDirectMaxChannels.
bool direct_applies(const ConvGeom& g, bool transposed) {
  const int out_w = transposed ? g.w : g.q;
  return g.stride == 1 && g.r == 3 && g.s == 3 && g.c <= kDirectMaxChannels && out_w <= kDirectMaxWidth;
}

template <int OBT, bool kTransposed>
void launch_direct_obt(DirectArgs a, cudaStream_t stream) {
  const int segments = int(ceil_div(a.out_w, kDirectPixels));
  const int out_groups = int(ceil_div(a.out_ch, OBT));
  a.band_rows = std::max(1, std::min(a.out_h, kDirectMaxThreads / segments));
  a.bands = int(ceil_div(a.out_h, a.band_rows));
  while (int64_t(a.n) * a.bands * out_groups < kDirectTargetBlocks && a.band_rows > 1) {
    a.band_rows = (a.band_rows + 1) / 2;
    a.bands = int(ceil_div(a.out_h, a.band_rows));
  }
  a.row_pitch = segments * kDirectPixels + 4;   // + the 2 halo columns, rounded to keep float4 alignment
  const int per_channel = (a.band_rows + 2) * a.row_pitch + 9 * OBT;
  a.chunk = std::max(1, std::min(a.in_ch, kDirectSmemFloats / per_channel));
  a.weight_floats = (a.chunk * 9 * OBT + 3) / 4 * 4;
  a.vector_rows = a.in_w % 4 == 0 && aligned_to(a.in, 16) && a.pad_left >= 0 && a.in_w + a.pad_left <= a.row_pitch;
  a.vector_out = a.out_w % 4 == 0 && aligned_to(a.out, 16);
  const size_t smem = sizeof(float) * (size_t(a.weight_floats) + size_t(a.chunk) * (a.band_rows + 2) * a.row_pitch);
  const int threads = int(ceil_div(a.band_rows * segments, 32)) * 32;
  require(int64_t(a.n) * a.bands <= INT_MAX, "conv2d", "too many images for the direct kernel");
  const dim3 grid(unsigned(int64_t(a.n) * a.bands), unsigned(out_groups));
  LAUNCH((conv_direct3x3_kernel<OBT, kTransposed>), grid, threads, smem, stream)(a);
}

template <bool kTransposed>
void launch_direct(const DirectArgs& a, cudaStream_t stream) {
  if (a.out_ch == 1)
    launch_direct_obt<1, kTransposed>(a, stream);
  else if (a.out_ch <= 4)
    launch_direct_obt<4, kTransposed>(a, stream);
  else
    launch_direct_obt<8, kTransposed>(a, stream);
}

void launch_forward(int version, const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act,
                    cudaStream_t stream) {
  if (version == 1) {
    LAUNCH(conv2d_forward_kernel1, naive_grid(g.y_size(), "conv2d_forward"), kNaiveBlock, 0, stream)(y, x, w, b, g,
                                                                                                      act);
  } else if (version == 3 && direct_applies(g, false)) {
    DirectArgs a{};
    a.out = y;
    a.in = x;
    a.w = w;
    a.bias = b;
    a.act = act;
    a.n = g.n;
    a.in_ch = g.c;
    a.in_h = g.h;
    a.in_w = g.w;
    a.out_ch = g.k;
    a.out_h = g.p;
    a.out_w = g.q;
    a.pad_top = g.pad_top;
    a.pad_left = g.pad_left;
    launch_direct<false>(a, stream);
  } else {
    launch_implicit_gemm(ConvGemmArgs{y, x, w, b, g, act, false}, stream);
  }
  KERNEL_CHECK();
}

void launch_backward_data(int version, const ConvGeom& g, float* dx, const float* dy, const float* w,
                          const float* bias, Act act, cudaStream_t stream) {
  if (version == 1) {
    LAUNCH(conv2d_backward_data_kernel1, naive_grid(g.x_size(), "conv2d_backward_data"), kNaiveBlock, 0, stream)(
        dx, dy, w, bias, g, act);
  } else if (version == 3 && direct_applies(g, true)) {
    DirectArgs a{};
    a.out = dx;
    a.in = dy;
    a.w = w;
    a.bias = bias;
    a.act = act;
    a.n = g.n;
    a.in_ch = g.k;
    a.in_h = g.p;
    a.in_w = g.q;
    a.out_ch = g.c;
    a.out_h = g.h;
    a.out_w = g.w;
    a.pad_top = g.r - 1 - g.pad_top;
    a.pad_left = g.s - 1 - g.pad_left;
    launch_direct<true>(a, stream);
  } else {
    launch_implicit_gemm(ConvGemmArgs{dx, dy, w, bias, g, act, true}, stream);
  }
  KERNEL_CHECK();
}

// The backward-weight split: a function of the geometry alone (so is the sum order).
struct WgradPlan {
  bool small_tile = false;
  int tiles_x = 1, tiles_y = 1;   // over C*R*S and K
  int splits = 1, pixels_per_split = 1;
};

template <class Tile>
WgradPlan plan_wgrad_tile(const ConvGeom& g, bool small_tile) {
  WgradPlan plan;
  plan.small_tile = small_tile;
  const int64_t crs = int64_t(g.c) * g.r * g.s, pixels = int64_t(g.n) * g.p * g.q;
  plan.tiles_x = int(ceil_div(crs, Tile::BN));
  plan.tiles_y = int(ceil_div(g.k, Tile::BM));
  const int64_t tiles = int64_t(plan.tiles_x) * plan.tiles_y;
  const int64_t max_splits = std::max<int64_t>(1, pixels / (int64_t(Tile::BK) * kMinStagesPerSplit));
  const int64_t splits = std::max<int64_t>(1, std::min(kWgradTargetBlocks / tiles, max_splits));
  plan.pixels_per_split = int(ceil_div(ceil_div(pixels, splits), Tile::BK) * Tile::BK);
  plan.splits = int(ceil_div(pixels, plan.pixels_per_split));
  return plan;
}

WgradPlan plan_wgrad(const ConvGeom& g) {
  const bool small_tile = int64_t(g.c) * g.r * g.s <= WgradTileSmall::BN;
  return small_tile ? plan_wgrad_tile<WgradTileSmall>(g, true) : plan_wgrad_tile<WgradTileLarge>(g, false);
}

size_t wgrad_workspace_floats(const ConvGeom& g, const WgradPlan& plan) {
  return plan.splits > 1 ? size_t(plan.splits) * (size_t(g.w_size()) + size_t(g.k)) : 0;
}

template <class Tile>
void launch_wgrad_tile(const WgradArgs& args, const WgradPlan& plan, cudaStream_t stream) {
  const dim3 grid(unsigned(plan.tiles_x), unsigned(plan.tiles_y), unsigned(plan.splits));
  const int threads = (Tile::BM / Tile::TM) * (Tile::BN / Tile::TN);
  LAUNCH(conv_backward_weight_kernel2<Tile>, grid, threads, 0, stream)(args);
}

void launch_backward_weight(int version, const ConvGeom& g, float* dw, float* db, const float* x, const float* dy,
                            float* workspace, cudaStream_t stream) {
  if (version == 1) {
    LAUNCH(conv2d_backward_weight_kernel1, naive_grid(g.w_size() + g.k, "conv2d_backward_weight"), kNaiveBlock, 0,
           stream)(dw, db, x, dy, g);
    KERNEL_CHECK();
    return;
  }
  const WgradPlan plan = plan_wgrad(g);
  const int w_count = int(g.w_size());
  float* partial_dw = workspace;
  float* partial_db = plan.splits > 1 ? workspace + int64_t(plan.splits) * w_count : nullptr;
  WgradArgs args{};
  args.dw_out = plan.splits > 1 ? partial_dw : dw;
  args.db_out = db ? (plan.splits > 1 ? partial_db : db) : nullptr;
  args.x = x;
  args.dy = dy;
  args.g = g;
  args.pixels_per_split = plan.pixels_per_split;
  if (plan.small_tile)
    launch_wgrad_tile<WgradTileSmall>(args, plan, stream);
  else
    launch_wgrad_tile<WgradTileLarge>(args, plan, stream);
  KERNEL_CHECK();
  if (plan.splits > 1) {
    const unsigned blocks = unsigned(ceil_div(int64_t(w_count) + g.k, kReduceBlock));
    LAUNCH(conv_backward_weight_reduce_kernel, blocks, kReduceBlock, 0, stream)(dw, db, partial_dw, partial_db,
                                                                                plan.splits, w_count, g.k);
    KERNEL_CHECK();
  }
}

// ---------------------------------------------------------------------------------------------
// public entries: argument checks

void check_version(int version, int versions, const char* op) {
  require(version >= 1 && version <= versions, op,
          "kernel version " + std::to_string(version) + " does not exist (1.." + std::to_string(versions) + ")");
}

void check_act(Act act, const char* op) {
  require(is_known_act(act), op, "unknown activation " + std::to_string(int(act)));
}

// The CPU twin's rules, plus the 32-bit limits of the kernels' per-image offsets and pixel counts.
void check_geometry(const ConvGeom& g, const char* op) {
  const char* problem = g.invalid();
  require(problem == nullptr, op, problem ? problem : "");
  require(g.stride <= 64 && g.r <= 1024 && g.s <= 1024 && g.pad_top <= 1 << 20 && g.pad_left <= 1 << 20, op,
          "stride, kernel size or padding is implausibly large");
  const int64_t limit = INT_MAX;
  require(int64_t(g.c) * g.h * g.w <= limit && int64_t(g.k) * g.p * g.q <= limit && g.w_size() <= limit - g.k &&
              int64_t(g.n) * g.h * g.w <= limit && int64_t(g.n) * g.p * g.q <= limit,
          op, "tensor too large: one image, the weights and n*h*w must each stay below 2^31 elements");
}

}  // namespace

void conv2d_forward(const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act,
                    cudaStream_t stream, int version) {
  check_version(version, kConvForwardKernelVersions, "conv2d_forward");
  check_act(act, "conv2d_forward");
  check_geometry(g, "conv2d_forward");
  require(y && x && w, "conv2d_forward", "y, x and w must not be null");
  launch_forward(version, g, y, x, w, b, act, stream);
}

void conv2d_backward_data(const ConvGeom& g, float* dx, const float* dy, const float* w, const float* bias, Act act,
                          cudaStream_t stream, int version) {
  check_version(version, kConvBackwardDataKernelVersions, "conv2d_backward_data");
  check_act(act, "conv2d_backward_data");
  check_geometry(g, "conv2d_backward_data");
  require(dx && dy && w, "conv2d_backward_data", "dx, dy and w must not be null");
  launch_backward_data(version, g, dx, dy, w, bias, act, stream);
}

size_t conv2d_backward_weight_workspace(const ConvGeom& g, int version) {
  check_version(version, kConvBackwardWeightKernelVersions, "conv2d_backward_weight_workspace");
  check_geometry(g, "conv2d_backward_weight_workspace");
  return version == 1 ? 0 : wgrad_workspace_floats(g, plan_wgrad(g));
}

void conv2d_backward_weight(const ConvGeom& g, float* dw, float* db, const float* x, const float* dy,
                            float* workspace, cudaStream_t stream, int version) {
  check_version(version, kConvBackwardWeightKernelVersions, "conv2d_backward_weight");
  check_geometry(g, "conv2d_backward_weight");
  require(dw && x && dy, "conv2d_backward_weight", "dw, x and dy must not be null");
  require(workspace || conv2d_backward_weight_workspace(g, version) == 0, "conv2d_backward_weight",
          "this geometry needs a workspace of conv2d_backward_weight_workspace(g) floats; workspace is null");
  launch_backward_weight(version, g, dw, db, x, dy, workspace, stream);
}

void bias_grad_nchw(float* db, const float* dy, int n, int c, int hw, cudaStream_t stream, int version) {
  check_version(version, kBiasGradKernelVersions, "bias_grad_nchw");
  require(db && dy, "bias_grad_nchw", "db and dy must not be null");
  require(n >= 1 && c >= 1 && hw >= 1, "bias_grad_nchw", "n, c and hw must be >= 1");
  require(int64_t(n) * c * hw <= INT_MAX, "bias_grad_nchw", "n * c * hw must stay below 2^31");
  if (version == 1)
    LAUNCH(bias_grad_kernel1, unsigned(ceil_div(c, kNaiveBlock)), kNaiveBlock, 0, stream)(db, dy, n, c, hw);
  else
    LAUNCH(bias_grad_kernel2, unsigned(c), kBiasBlock, 0, stream)(db, dy, n, c, hw,
                                                                  hw % 4 == 0 && aligned_to(dy, 16));
  KERNEL_CHECK();
}

}  // namespace zs::ZS_KNS
