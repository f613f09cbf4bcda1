// Private pieces of the CPU convolutions (kernels/cpu/conv*.cpp only).
//
// Two strategies:
//  * Lowering + GEMM (conv_lowering.cpp, any geometry). A chunk of `nimg` consecutive images is
//    lowered to a column matrix col[C*R*S][nimg*P*Q] (row (c,r,s), column (image, p, q)), so that
//      forward:        Y[K][cols]   = W[K][CRS]   * col
//      backward-data:  col          = W^T[CRS][K] * dY[K][cols], then col2im (a gather: every
//                      dx element sums the columns that read it; zero-inserted inputs are
//                      never built for stride 2)
//      backward-weight dW[K][CRS]  += dY[K][cols] * col^T
//    Chunks hold enough images for a GEMM of >= ~192 columns while col stays in L2.
//    The GEMMs are gemm_panels.h's: im2col writes its columns straight into that GEMM's B panels
//    (as col for forward, as col^T for backward-weight), dy is packed from NCHW directly, and the
//    weights are packed once per op; only backward-data's col output stays a row-major matrix.
//  * Direct loops for single-channel stride-1 geometries (conv_direct.cpp): the first conv of
//    the encoder (C = 1) and the last Conv2DTranspose of the decoder (one output channel). A GEMM
//    with an inner dimension of 9 runs at a tenth of the speed of these loops.
#pragma once
#include <cstdint>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/ops.h"
#include "kernels/shapes.h"

namespace zs::cpu::detail {

// out[offset, offset + count) *= act'(gate.y[same range]) (nothing without a gate): the layer
// backwards (ops.h) call it on each chunk of dx right after writing it.
inline void apply_gate(const ActGate& gate, float* out, int64_t offset, int64_t count) {
  if (gate.act != Act::None) activation_grad(gate.act, out + offset, out + offset, gate.y + offset, count);
}

struct ChunkPlan {
  int images_per_chunk = 1;
  int chunks = 1;
};
ChunkPlan plan_chunks(const ConvGeom& g);

// Where im2col puts the column matrix col (rows C*R*S, columns nimg*P*Q): a row-major matrix
// whose row pitch is `columns`, or the B panels of gemm_panels.h, of B = col (forward) or of
// B = col^T (backward-weight).
struct ColumnTarget {
  enum class Layout { kRowMajor, kPanels, kTransposedPanels };
  Layout layout = Layout::kRowMajor;
  float* data = nullptr;
  int64_t rows = 0;     // C*R*S
  int64_t columns = 0;  // nimg*P*Q
};

// col[(c*R + r)*S + s][j*P*Q + p*Q + q] = x[j][c][p*stride + r - pad_top][q*stride + s - pad_left]
// (0 outside the image) for the nimg images starting at x.
void im2col(const ConvGeom& g, const ColumnTarget& col, const float* x, int nimg);

// The adjoint of im2col followed by bias + activation: dx[j][c][h][w] = act(bias[c] + sum of the
// col entries that im2col would have filled from (j, c, h, w)). Overwrites dx; bias nullable.
// col is scratch: entries that im2col would have set to padding may be zeroed.
void col2im(const ConvGeom& g, float* dx, float* col, int64_t ld, int nimg, const float* bias, Act act);

// The flat versions of both for geometries with W <= stride * Q (every 'same' conv); im2col and
// col2im dispatch to them (conv_lowering_flat.cpp).
bool flat_lowering_applies(const ConvGeom& g);
void im2col_flat(const ConvGeom& g, const ColumnTarget& col, const float* x, int nimg);
void col2im_flat(const ConvGeom& g, float* dx, float* col, int64_t ld, int nimg, const float* bias, Act act);

// Single-channel stride-1 direct paths; *_applies says whether the geometry qualifies. The gate
// (ops.h) is applied to each image's result as it is written.
bool direct_forward_applies(const ConvGeom& g);
void direct_forward(const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act,
                    const ActGate& gate);
bool direct_backward_data_applies(const ConvGeom& g);
void direct_backward_data(const ConvGeom& g, float* dx, const float* dy, const float* w, const float* bias,
                          Act act, const ActGate& gate);
bool direct_backward_weight_applies(const ConvGeom& g);
void direct_backward_weight(const ConvGeom& g, float* dw, const float* x, const float* dy);

}  // namespace zs::cpu::detail
