// The convolution geometries of the blog's autoencoder (MNIST 28x28, 3x3 kernels, TF 'same').
// The decoder mirrors the encoder, so three geometries cover all six layers: each encoder
// Conv2D runs conv2d_forward on it, and the decoder's Conv2DTranspose that undoes it runs
// conv2d_backward_data on the same geometry (ConvGeom::same(n, C_out_of_T, 2H, 2W, C_in_of_T, 3, 2)
// for the stride-2 ones). Training runs all three kernels on every geometry.
#pragma once
#include <vector>

#include "kernels/shapes.h"

namespace zs::bench {

struct BlogConvGeometry {
  const char* name;     // benchmark-name friendly
  const char* layers;   // which layers of the model use it
  ConvGeom g;
};

inline std::vector<BlogConvGeometry> blog_conv_geometries(int batch) {
  return {
      {"g1_1x28x28_k32_s1", "encoder conv 1->32 28x28 s1 | decoder tconv 32->1 28x28 s1",
       ConvGeom::same(batch, 1, 28, 28, 32, 3, 1)},
      {"g2_32x28x28_k64_s2", "encoder conv 32->64 28->14 s2 | decoder tconv 64->32 14->28 s2",
       ConvGeom::same(batch, 32, 28, 28, 64, 3, 2)},
      {"g3_64x14x14_k128_s2", "encoder conv 64->128 14->7 s2 | decoder tconv 128->64 7->14 s2",
       ConvGeom::same(batch, 64, 14, 14, 128, 3, 2)},
  };
}

}  // namespace zs::bench
