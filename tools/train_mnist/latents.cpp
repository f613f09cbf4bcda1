#include "tools/train_mnist/latents.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/io/npy.h"

namespace zs::driver {

std::optional<LatentRange> parse_latent_range(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::vector<double> v;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    try {
      size_t used = 0;
      v.push_back(std::stod(part, &used));
      if (used != part.size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      throw UserError("--latent-range " + text + ": '" + part + "' is not a number; use xmin,xmax,ymin,ymax e.g. -7,7,-9,6");
    }
  }
  if (v.size() != 4 || !(v[0] < v[1]) || !(v[2] < v[3]) ||
      !std::all_of(v.begin(), v.end(), [](double d) { return std::isfinite(d); }))
    throw UserError("--latent-range " + text + ": need four numbers xmin,xmax,ymin,ymax with xmin < xmax and ymin < ymax");
  return LatentRange{{v[0], v[1]}, {v[2], v[3]}};
}

LatentSets write_latents(TrainLoop& loop, const std::function<const float*(const float*, int)>& encode, int dim) {
  RunContext& ctx = loop.ctx();
  LatentSets z;
  for (bool test : {false, true}) {
    const ImageSet& set = test ? ctx.data.test : ctx.data.train;
    DeviceBuffer<float>& device = test ? z.test_device : z.train_device;
    device = DeviceBuffer<float>(*ctx.backend, size_t(set.count) * size_t(dim));
    loop.for_each_batch(test, [&](const float* x, int first, int n) {
      ctx.backend->copy(device.data() + size_t(first) * size_t(dim), encode(x, n), size_t(n) * size_t(dim));
    });
    // Under mpirun the device holds this rank's block's latents; the host copy is the whole set's.
    std::vector<float>& host = test ? z.test : z.train;
    host = test ? device.download() : gather_train_blocks(device.download(), dim, ctx);
    const std::vector<uint8_t>& labels = test ? set.labels : ctx.train_labels;
    std::string split = test ? "_test" : "_train";
    save_npy_matrix(ctx.out_path("latent" + split + ".npy"), host, int64_t(labels.size()), dim);
    save_npy_vector(ctx.out_path("latent" + split + "_labels.npy"), std::span<const uint8_t>(labels));
  }
  return z;
}

nlohmann::json latent_stats(const std::vector<float>& z, int dim) {
  const size_t n = z.size() / size_t(dim);
  nlohmann::json mean = nlohmann::json::array(), stdev = nlohmann::json::array(), p01 = nlohmann::json::array(),
                 p99 = nlohmann::json::array();
  for (int j = 0; j < dim; ++j) {
    std::vector<double> col(n);
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += col[i] = z[i * size_t(dim) + size_t(j)];
    double m = s / double(n), ss = 0;
    for (double v : col) ss += (v - m) * (v - m);
    std::sort(col.begin(), col.end());
    auto pct = [&](double p) { return col[std::min(n - 1, size_t(std::floor(p * double(n - 1) + 0.5)))]; };
    mean.push_back(m);
    stdev.push_back(std::sqrt(ss / double(n)));
    p01.push_back(pct(0.01));
    p99.push_back(pct(0.99));
  }
  size_t inside = 0;
  for (size_t i = 0; i < n; ++i) {
    bool in = true;
    for (int j = 0; j < dim; ++j) in = in && std::abs(z[i * size_t(dim) + size_t(j)]) <= 4.0f;
    inside += in;
  }
  return {{"mean", mean}, {"std", stdev}, {"p01", p01}, {"p99", p99}, {"fraction_within_4", double(inside) / double(n)}};
}

void draw_latents(TrainLoop& loop, const std::vector<float>& z_test, const std::string& title,
                  const std::optional<LatentRange>& range) {
  RunContext& ctx = loop.ctx();
  plot::ScatterOptions o;
  o.title = title;
  if (range) {
    o.x_range = range->x;
    o.y_range = range->y;
  }
  plot::class_scatter(ctx.out_path("latent.png"), z_test, std::span<const uint8_t>(ctx.data.test.labels), o);
}

}  // namespace zs::driver
