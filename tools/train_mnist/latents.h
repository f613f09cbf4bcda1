// Latent-space outputs shared by ae and vae: the .npy files, per-dimension statistics for
// metrics.json, and the 2-D scatter (latent.png) on an optional fixed range so that an AE and a VAE
// can be compared on the same axes (--latent-range).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/plot/plot.h"
#include "tools/train_mnist/train_loop.h"

namespace zs::driver {

struct LatentRange {
  plot::AxisRange x, y;
};
// Parses "xmin,xmax,ymin,ymax"; throws UserError naming --latent-range.
std::optional<LatentRange> parse_latent_range(const std::string& text);

// The latents of both splits (count x dim), in backend memory and on the host. Under mpirun
// (TrainSplit::RankShard) train_device holds this rank's block's, train the whole set's.
struct LatentSets {
  std::vector<float> train, test;
  DeviceBuffer<float> train_device, test_device;
};
// Encodes both splits into backend memory (batch by batch, device to device), downloads each once
// and writes latent_{train,test}.npy and their labels.
LatentSets write_latents(TrainLoop& loop, const std::function<const float*(const float* x, int n)>& encode, int dim);

// Per-dimension mean, std, 1st and 99th percentiles, and the fraction of points with every |z_j| <= 4.
nlohmann::json latent_stats(const std::vector<float>& z, int dim);

// latent.png for 2-D latents coloured by digit.
void draw_latents(TrainLoop& loop, const std::vector<float>& z_test, const std::string& title,
                  const std::optional<LatentRange>& range);

}  // namespace zs::driver
