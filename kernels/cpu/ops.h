// The CPU twin of every op: the fast fallback backend AND the oracle the CUDA kernels are
// tested against. Same signatures as the CUDA launchers minus the stream.
// Argument order: outputs, inputs, sizes. Every output is OVERWRITTEN unless noted.
// Layouts: NCHW; conv weights [K][C][R][S]; dense weights [in][out] (Keras), y = x W + b.
//
// Threading: every op runs on omp_get_max_threads() OpenMP threads and calls OpenBLAS
// single-threaded inside them (the caller's OpenBLAS thread count is restored on return); do not
// call these ops from inside an OpenMP parallel region of your own. Results are bitwise
// reproducible; the conv, activation, loss and Adam ops give the same bits for any thread count,
// the dense ops may change the last bits with it. Implementation notes: kernels/cpu/conv_impl.h.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/shapes.h"

namespace zs::cpu {

// ---- convolution (three kernels serve Conv2D and Conv2DTranspose) ----
// y = act(conv(x, w) + b); b: [K] or nullptr.
void conv2d_forward(const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act);
// dx = conv-transpose(dy, w) (+ bias[c], then act, when given: this is Conv2DTranspose's forward).
// bias: [C] or nullptr.
void conv2d_backward_data(const ConvGeom& g, float* dx, const float* dy, const float* w,
                          const float* bias, Act act);
// dw[K][C][R][S] = sum_n,p,q dy * x; db[K] = sum dy (db may be nullptr).
void conv2d_backward_weight(const ConvGeom& g, float* dw, float* db, const float* x, const float* dy);
// db[c] = sum over n, spatial of dy[n][c][hw] (bias gradient of a Conv2DTranspose layer).
void bias_grad_nchw(float* db, const float* dy, int n, int c, int hw);

// The derivative of an activation, taken at its OUTPUT y (same shape as the gradient it gates).
struct ActGate {
  Act act = Act::None;
  const float* y = nullptr;
};
// A conv layer's whole backward, chunk by chunk of images: each chunk's weight gradient, bias sums
// and input gradient are computed one after the other while its x and dy are in cache, and dx is
// multiplied by dx_gate's derivative as it is written (the activation that produced the layer's
// input: a chain applies it here instead of in a pass of its own). dx may be nullptr (skip).
// The same bits as the separate ops (backward-weight, bias_grad_nchw, the input-gradient conv)
// followed by activation_backward(dx_gate.act, dx, dx, dx_gate.y).
//   Conv2D (geometry g, x [N][C][H][W], dy [N][K][P][Q]):
//     dw, db[K] = conv2d_backward_weight(g, x, dy); dx = conv2d_backward_data(g, dy, w) * gate.
void conv2d_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x, const float* dy,
                           const float* w, const ActGate& dx_gate);
//   Conv2DTranspose, the adjoint of the conv g (layer x and dx [N][K][P][Q], dy [N][C][H][W]):
//     dw = conv2d_backward_weight(g, x = dy, dy = x); db[C] = bias_grad_nchw(dy);
//     dx = conv2d_forward(g, dy, w) * gate.
void conv2d_transpose_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x,
                                     const float* dy, const float* w, const ActGate& dx_gate);

// ---- dense ----
// y[n][out] = act(x[n][in] * w[in][out] + b[out]); b may be nullptr.
void dense_forward(float* y, const float* x, const float* w, const float* b, int n, int in, int out, Act act);
// dw = x^T dy; db = column sums of dy (nullable); dx = dy w^T (nullable: skip).
void dense_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                    int n, int in, int out);

// ---- elementwise ----
void activation_forward(Act act, float* y, const float* x, int64_t count);  // y may alias x
// dx = dy * act'(.), expressed through the activation's OUTPUT y; dx may alias dy.
void activation_backward(Act act, float* dx, const float* dy, const float* y, int64_t count);
// dst[r][.] = src[indices[r]][.] for r < rows: the per-epoch shuffle of a resident data set.
// indices must lie in [0, source rows) (callers validate them); dst must not overlap src.
void gather_rows(float* dst, const float* src, const int32_t* indices, int64_t rows, int row_len);

// ---- losses: per-sample loss[n] and gradient of the BATCH MEAN loss w.r.t. pred ----
// BCE (Keras): probabilities clamped to [1e-7, 1-1e-7]; per-sample = mean over dim.
// The gradient is zero where the clamp is active (as the clamp's derivative is).
// dpred may be nullptr (loss only) for both losses.
void bce_loss(float* loss, float* dpred, const float* pred, const float* target, int n, int dim);
// MSE: per-sample = mean over dim of (pred - target)^2.
void mse_loss(float* loss, float* dpred, const float* pred, const float* target, int n, int dim);

// Running sums of per-sample loss terms [n_terms][n]: sums[t] += terms[t][i] for i = 0..n-1 in
// order, in double (the order the driver used to sum on the host, so results keep their bits).
void sum_loss_terms(double* sums, const float* terms, int n, int n_terms);

// ---- optimizer ----
// Keras Adam: m,v updated in place; lr_t = lr*sqrt(1-b2^t)/(1-b1^t); p -= lr_t*m/(sqrt(v)+eps).
void adam_step(float* param, float* m, float* v, const float* grad, int64_t count, const AdamHyper& h,
               int64_t step);

}  // namespace zs::cpu
