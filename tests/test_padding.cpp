// TensorFlow 'same' padding and exact alignment of the blog's convolutions (CPU twin).
//
// Keras/TF rule: out = ceil(in / stride); total = max((out - 1) * stride + k - in, 0);
// top/left = total / 2, bottom/right = the rest. So for a 3x3 kernel:
//   28 -> 14 and 14 -> 7 (stride 2): total 1 -> top 0, bottom 1: output p reads rows 2p, 2p+1, 2p+2,
//                                     and the last output row's third tap falls on the bottom pad;
//   28 -> 28 (stride 1):             total 2 -> top 1, bottom 1: output p reads rows p-1, p, p+1.
// Conv2DTranspose 'same' (7 -> 14, 14 -> 28) is the adjoint of the forward conv 14 -> 7, 28 -> 14:
// input pixel (p, q) spreads w[r][s] onto output (2p + r, 2q + s).
//
// Alignment is checked with one-hot inputs and distinct integer weights (w[r][s] = 1 + 3r + s,
// exact in float), so every output must equal exactly the weight of the one tap that reads the
// hot pixel, or 0. The expected taps are written from the rule above with literal pads, not
// computed from ConvGeom, and every geometry runs with one input channel (the direct path, where
// it applies) and with three (the im2col + GEMM path).
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"

namespace {

using zs::Act;
using zs::ConvGeom;

constexpr int kKernel = 3;
float tap_weight(int r, int s) { return float(1 + 3 * r + s); }

// Forward conv in -> out (square), stride, with the literal top/left pad expected from the rule.
// For every hot input pixel (in the last channel), output (p, q) must be w[r][s] when
// p*stride + r - pad == h and q*stride + s - pad == w for a tap (r, s), else 0.
void check_forward_alignment(int in, int stride, int expected_out, int expected_pad, int channels) {
  const ConvGeom g = ConvGeom::same(1, channels, in, in, 1, kKernel, stride);
  REQUIRE(g.p == expected_out);
  REQUIRE(g.q == expected_out);
  REQUIRE(g.pad_top == expected_pad);
  REQUIRE(g.pad_left == expected_pad);
  const int hot_c = channels - 1;
  std::vector<float> w(g.w_size(), 0.f), x(g.x_size(), 0.f), y(g.y_size());
  for (int r = 0; r < kKernel; ++r)
    for (int s = 0; s < kKernel; ++s) w[(hot_c * kKernel + r) * kKernel + s] = tap_weight(r, s);
  int mismatches = 0;
  std::ostringstream first;
  for (int h = 0; h < in; ++h)
    for (int ww = 0; ww < in; ++ww) {
      const size_t hot = (size_t(hot_c) * in + h) * in + ww;
      x[hot] = 1.f;
      zs::cpu::conv2d_forward(g, y.data(), x.data(), w.data(), nullptr, Act::None);
      x[hot] = 0.f;
      for (int p = 0; p < expected_out; ++p)
        for (int q = 0; q < expected_out; ++q) {
          const int r = h - (p * stride - expected_pad), s = ww - (q * stride - expected_pad);
          const float want = (r >= 0 && r < kKernel && s >= 0 && s < kKernel) ? tap_weight(r, s) : 0.f;
          const float got = y[size_t(p) * expected_out + q];
          if (got != want && mismatches++ < 5)
            first << "\n  hot input (" << h << "," << ww << ") output (" << p << "," << q << "): got " << got
                  << " want " << want;
        }
    }
  INFO("forward " << in << " -> " << expected_out << " stride " << stride << ", " << channels << " channel(s): "
                  << mismatches << " mismatches" << first.str());
  CHECK(mismatches == 0);
}

// Transposed conv in -> out = in * stride: conv2d_backward_data of the forward conv out -> in.
// A hot input pixel (p, q) (in the last of K channels) must land as w[r][s] on output
// (p*stride + r - pad, q*stride + s - pad) of every output channel c (weights differ per c).
void check_transposed_alignment(int in, int stride, int expected_out, int expected_pad, int channels) {
  const int k_channels = 2;
  const ConvGeom g = ConvGeom::same(1, channels, expected_out, expected_out, k_channels, kKernel, stride);
  REQUIRE(g.p == in);
  REQUIRE(g.q == in);
  REQUIRE(g.pad_top == expected_pad);
  REQUIRE(g.pad_left == expected_pad);
  const int hot_k = k_channels - 1;
  auto weight = [](int c, int r, int s) { return tap_weight(r, s) + 10.f * float(c); };
  std::vector<float> w(g.w_size(), 0.f), dy(g.y_size(), 0.f), dx(g.x_size());
  for (int c = 0; c < channels; ++c)
    for (int r = 0; r < kKernel; ++r)
      for (int s = 0; s < kKernel; ++s) w[((hot_k * channels + c) * kKernel + r) * kKernel + s] = weight(c, r, s);
  int mismatches = 0;
  std::ostringstream first;
  for (int p = 0; p < in; ++p)
    for (int q = 0; q < in; ++q) {
      const size_t hot = (size_t(hot_k) * in + p) * in + q;
      dy[hot] = 1.f;
      zs::cpu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), nullptr, Act::None);
      dy[hot] = 0.f;
      for (int c = 0; c < channels; ++c)
        for (int h = 0; h < expected_out; ++h)
          for (int ww = 0; ww < expected_out; ++ww) {
            const int r = h - (p * stride - expected_pad), s = ww - (q * stride - expected_pad);
            const float want = (r >= 0 && r < kKernel && s >= 0 && s < kKernel) ? weight(c, r, s) : 0.f;
            const float got = dx[(size_t(c) * expected_out + h) * expected_out + ww];
            if (got != want && mismatches++ < 5)
              first << "\n  hot input (" << p << "," << q << ") output c" << c << " (" << h << "," << ww
                    << "): got " << got << " want " << want;
          }
    }
  INFO("transposed " << in << " -> " << expected_out << " stride " << stride << ", " << channels
                     << " output channel(s): " << mismatches << " mismatches" << first.str());
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("ConvGeom::same follows the TensorFlow rule", "[cpu][padding]") {
  struct Case {
    int in, k, stride, out, pad_front;
  };
  for (const Case& c : {Case{28, 3, 2, 14, 0}, Case{14, 3, 2, 7, 0}, Case{28, 3, 1, 28, 1}, Case{7, 3, 1, 7, 1},
                        Case{7, 3, 2, 4, 1}, Case{28, 5, 1, 28, 2}, Case{28, 1, 2, 14, 0}, Case{5, 4, 1, 5, 1},
                        Case{2, 5, 2, 1, 1}}) {
    const ConvGeom g = ConvGeom::same(1, 1, c.in, c.in, 1, c.k, c.stride);
    INFO("in " << c.in << " k " << c.k << " stride " << c.stride);
    CHECK(g.p == c.out);
    CHECK(g.q == c.out);
    CHECK(g.pad_top == c.pad_front);
    CHECK(g.pad_left == c.pad_front);
  }
  // Rectangular inputs pad each axis on its own.
  const ConvGeom g = ConvGeom::same(1, 1, 28, 13, 1, 3, 2);
  CHECK(g.p == 14);
  CHECK(g.q == 7);
  CHECK(g.pad_top == 0);
  CHECK(g.pad_left == 1);
}

TEST_CASE("Conv2D 'same' stride 2: 28 -> 14 pads 0 top, 1 bottom", "[cpu][padding]") {
  check_forward_alignment(28, 2, 14, 0, 1);
  check_forward_alignment(28, 2, 14, 0, 3);
}

TEST_CASE("Conv2D 'same' stride 2: 14 -> 7 pads 0 top, 1 bottom", "[cpu][padding]") {
  check_forward_alignment(14, 2, 7, 0, 1);
  check_forward_alignment(14, 2, 7, 0, 3);
}

TEST_CASE("Conv2D 'same' stride 1: 28 -> 28 pads 1 on each side", "[cpu][padding]") {
  check_forward_alignment(28, 1, 28, 1, 1);
  check_forward_alignment(28, 1, 28, 1, 3);
}

TEST_CASE("Conv2DTranspose 'same' stride 2: 7 -> 14", "[cpu][padding]") {
  check_transposed_alignment(7, 2, 14, 0, 1);
  check_transposed_alignment(7, 2, 14, 0, 3);
}

TEST_CASE("Conv2DTranspose 'same' stride 2: 14 -> 28", "[cpu][padding]") {
  check_transposed_alignment(14, 2, 28, 0, 1);
  check_transposed_alignment(14, 2, 28, 0, 3);
}

TEST_CASE("Conv2DTranspose 'same' stride 1: 28 -> 28 (the decoder's last layer)", "[cpu][padding]") {
  check_transposed_alignment(28, 1, 28, 1, 1);
  check_transposed_alignment(28, 1, 28, 1, 3);
}

TEST_CASE("edge pixels: what the first and last outputs read", "[cpu][padding]") {
  // Spelled out for 28 -> 14: output row 0 reads input rows 0..2 (no top pad); output row 13
  // reads rows 26, 27 and the bottom pad. A ones image and ones weights count the real taps.
  const ConvGeom g = ConvGeom::same(1, 1, 28, 28, 1, 3, 2);
  std::vector<float> x(g.x_size(), 1.f), w(9, 1.f), y(g.y_size());
  zs::cpu::conv2d_forward(g, y.data(), x.data(), w.data(), nullptr, Act::None);
  CHECK(y[0] == 9.f);                // (0, 0): 3 x 3 real pixels
  CHECK(y[13] == 6.f);               // (0, 13): right column on the pad
  CHECK(y[13 * 14] == 6.f);          // (13, 0): bottom row on the pad
  CHECK(y[13 * 14 + 13] == 4.f);     // (13, 13): 2 x 2 real pixels
  // And its transpose 14 -> 28: input (13, 13) reaches only output rows/cols 26 and 27.
  std::vector<float> dy(g.y_size(), 0.f), dx(g.x_size());
  dy[13 * 14 + 13] = 1.f;
  zs::cpu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), nullptr, Act::None);
  float total = 0.f;
  for (float v : dx) total += v;
  CHECK(total == 4.f);
  CHECK(dx[26 * 28 + 26] == 1.f);
  CHECK(dx[27 * 28 + 27] == 1.f);
}
