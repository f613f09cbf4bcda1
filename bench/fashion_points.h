// The KMeans benchmarks' data: the 60,000 Fashion-MNIST training images as a 60,000 x 784 float
// matrix scaled by 1/255, read from $ZS_FASHION_DIR (default /usr/share/datasets/fashion-mnist,
// Debian's dataset-fashion-mnist); when they are missing, uniform noise of the same shape with a
// note on stderr (an assignment's speed does not depend on the values; a fit's does).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/data/idx.h"

namespace zs::bench_data {

inline constexpr int kFashionRows = 60000, kFashionDim = 784;

struct FashionPoints {
  std::vector<float> x;  // [kFashionRows][kFashionDim]
  bool real = false;     // false: noise
};

// Loaded once per process; `who` names the benchmark in the stderr note.
inline const FashionPoints& fashion_points(const char* who) {
  static const FashionPoints points = [who] {
    FashionPoints p;
    const char* env = std::getenv("ZS_FASHION_DIR");
    const std::string dir = env ? env : "/usr/share/datasets/fashion-mnist";
    p.x.resize(size_t(kFashionRows) * kFashionDim);
    try {
      const Dataset fashion = load_dataset_dir(dir, kFashionRows, 1);
      if (fashion.train.count != kFashionRows || fashion.train.pixels_per_image() != kFashionDim)
        throw UserError("not 60,000 images of 28 x 28");
      for (size_t i = 0; i < p.x.size(); ++i) p.x[i] = fashion.train.pixels[i] / 255.0f;
      p.real = true;
    } catch (const UserError& e) {
      std::fprintf(stderr, "%s: no Fashion-MNIST training set in %s (%s); using uniform noise\n", who, dir.c_str(),
                   e.what());
      std::mt19937 rng(1);
      std::uniform_real_distribution<float> u(0.f, 1.f);
      for (float& v : p.x) v = u(rng);
    }
    return p;
  }();
  return points;
}

}  // namespace zs::bench_data
