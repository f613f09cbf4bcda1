// Shapes and small enums shared by the CPU twin (kernels/cpu), the CUDA kernels (kernels/*.cu,
// built by nvcc and by g++ for the emulator) and the runtime. Plain data: no CUDA, no STL.
//
// Conventions: tensors are float32, NCHW, densely packed. Conv weights are [K][C][R][S]
// (out-channels, in-channels, kernel rows, kernel cols) of the FORWARD convolution; a
// Conv2DTranspose layer stores the weights of the forward conv it is the adjoint of.
#pragma once
#include <cstdint>

namespace zs {

// LeakyReluSigmoid is sigmoid(leaky_relu(x)): the blog decoder's head, Conv2DTranspose ->
// LeakyReLU -> sigmoid, fused into one epilogue.
enum class Act : int { None = 0, LeakyRelu = 1, Sigmoid = 2, LeakyReluSigmoid = 3 };
inline constexpr float kLeakyAlpha = 0.3f;  // Keras LeakyReLU default
constexpr bool is_known_act(Act act) {
  return act == Act::None || act == Act::LeakyRelu || act == Act::Sigmoid || act == Act::LeakyReluSigmoid;
}

// Geometry of one forward convolution x[N][C][H][W] (*) w[K][C][R][S] -> y[N][K][P][Q].
struct ConvGeom {
  int n = 0, c = 0, h = 0, w = 0;   // input
  int k = 0, r = 0, s = 0;          // filters
  int stride = 1;
  int pad_top = 0, pad_left = 0;    // the rest of the 'same' padding goes bottom/right
  int p = 0, q = 0;                 // output

  // TensorFlow 'same': out = ceil(in / stride); total = max((out-1)*stride + k - in, 0);
  // top/left = total / 2 (floor), bottom/right = the rest.
  static constexpr ConvGeom same(int n, int c, int h, int w, int k, int ksize, int stride) {
    ConvGeom g;
    g.n = n; g.c = c; g.h = h; g.w = w; g.k = k; g.r = ksize; g.s = ksize; g.stride = stride;
    g.p = (h + stride - 1) / stride;
    g.q = (w + stride - 1) / stride;
    int th = (g.p - 1) * stride + ksize - h;
    int tw = (g.q - 1) * stride + ksize - w;
    g.pad_top = (th > 0 ? th : 0) / 2;
    g.pad_left = (tw > 0 ? tw : 0) / 2;
    return g;
  }
  constexpr int64_t x_size() const { return int64_t(n) * c * h * w; }
  constexpr int64_t y_size() const { return int64_t(n) * k * p * q; }
  constexpr int64_t w_size() const { return int64_t(k) * c * r * s; }
  // Multiply-adds of the forward pass (= of each backward pass).
  constexpr int64_t macs() const { return int64_t(n) * k * p * q * c * r * s; }
  // What makes a geometry invalid for every implementation (the twin's rules; the kernels add
  // their 32-bit limits), or nullptr when nothing does.
  constexpr const char* invalid() const {
    if (n < 1 || c < 1 || h < 1 || w < 1) return "input sizes n, c, h, w must be >= 1";
    if (k < 1 || r < 1 || s < 1) return "filter sizes k, r, s must be >= 1";
    if (stride < 1) return "stride must be >= 1";
    if (p < 1 || q < 1) return "output sizes p, q must be >= 1";
    if (pad_top < 0 || pad_left < 0) return "padding must be >= 0";
    return nullptr;
  }
};

// The VAE clamps log_var to this range wherever it is used (reparameterization and KL), so that
// exp() can neither overflow nor vanish; the gradient is zero where the clamp is active.
inline constexpr float kLogVarMin = -30.0f;
inline constexpr float kLogVarMax = 20.0f;

// Adam with Keras defaults. step is 1-based (the step being taken).
struct AdamHyper {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-7f;
};

}  // namespace zs
