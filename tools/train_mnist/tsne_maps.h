// t-SNE maps for the driver: `train_mnist tsne` (cmd_tsne.cpp) and `--tsne N` on ae, vae and
// ae-kmeans, which map N random training latents (tsne_train.png) and N random test latents
// (tsne_test.png) after training, as the blog's posts show them, and write tsne_maps.json.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "runtime/embed/tsne.h"
#include "tools/train_mnist/common.h"

namespace zs::driver {

// `count` distinct row indices of [0, available), drawn at random with `seed` (in drawn order).
std::vector<int64_t> random_rows(int64_t available, int64_t count, uint64_t seed);

// Runs t-SNE on the rows `rows` of x [.][dim] and returns the embedding and its metrics
// (n, input_dim, perplexity, method, device, kl_divergence, n_iter, seconds_knn, seconds_p,
// seconds_optimize, trustworthiness_5 on the first up to 5,000 rows, trustworthiness_points).
struct TsneMap {
  std::vector<float> embedding;   // [rows.size()][2]
  std::vector<int32_t> labels;    // the rows' labels
  nlohmann::json metrics;
};
TsneMap make_tsne_map(RunContext& ctx, const float* x, int dim, std::span<const int32_t> labels,
                      const std::vector<int64_t>& rows, const TsneOptions& options);

// The blog's look: one colour per digit, a legend, equal axes.
void draw_tsne_map(const std::string& path, const TsneMap& map, const std::string& title);

// --tsne N on ae, vae and ae-kmeans (0 = off).
void add_tsne_maps_option(CLI::App& cmd, int& n);
// tsne_train.png, tsne_test.png and tsne_maps.json from the latents [count][dim] of the data set's
// train and test images (labels from ctx.data); N is clamped to each split's size.
void write_tsne_maps(RunContext& ctx, const std::vector<float>& z_train, const std::vector<float>& z_test, int dim,
                     int n);

}  // namespace zs::driver
