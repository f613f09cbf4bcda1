// train_mnist ae-kmeans: the blog's last experiment. Train the convolutional autoencoder with
// z_dim 25 and MSE loss (ae_training.h), then cluster its training latents with KMeans (k 225 by
// default) and use the clusters as a classifier (cluster_report.h), as `kmeans --features` would on
// the latents `ae` writes.
// Outputs in --out: everything `ae` writes (loss.csv, loss.png, reconstructions.png, latent_*.npy,
// model.safetensors) and everything `kmeans` writes (clusters.csv, confusion_train.png,
// confusion_test.png), and metrics.json: {command, ae: {the ae keys}, kmeans: {the kmeans keys},
// seconds_total}.
#include <limits>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/train_mnist/ae_training.h"
#include "tools/train_mnist/cluster_report.h"
#include "tools/train_mnist/commands.h"
#include "tools/train_mnist/common.h"
#include "tools/train_mnist/features.h"
#include "tools/train_mnist/kmeans_options.h"
#include "tools/train_mnist/tsne_maps.h"

namespace zs::driver {
namespace {

struct AeKMeansOptions {
  CommonOptions common;
  AeTrainOptions ae;
  int k = 225;
  KMeansCliOptions kmeans;
  int tsne = 0;

  AeKMeansOptions() {
    ae.z_dim = 25;  // the blog's compression for clustering
    ae.loss = "mse";
    // 10 instead of ae's 40: a few minutes of training on 2 CPU cores for the 8000 default digits;
    // 20 epochs lowered the KMeans test error only from 9.45% to 9.00% (docs/driver.md).
    ae.epochs = 10;
    kmeans.scale = "none";  // latents are not pixel bytes: dividing by 255 would mean nothing
  }
};

void run_ae_kmeans(const AeKMeansOptions& o) {
  // Every option is checked before training starts, so a bad one costs nothing.
  const KMeansSettings s = resolve_kmeans_options(o.kmeans, o.common.seed);
  require_valid_k("--k", o.k, std::numeric_limits<int64_t>::max());
  const SafetensorsFile resume = prepare_ae_training(o.ae);
  RunContext ctx(o.common, /*load_data=*/true, TrainSplit::RankShard);
  require_valid_k("--k", o.k, ctx.data.train_total);

  AeRun ae = train_autoencoder(ctx, o.ae, resume, "ae");
  write_tsne_maps(ctx, ae.z.train, ae.z.test, o.ae.z_dim, o.tsne);
  // KMeans clusters the latents where the encoder left them, in backend memory (the host copies
  // are for the files and the maps).
  const ResidentFeatures resident{{ae.z.train_device.data(), ctx.data.train.count, o.ae.z_dim},
                                  {ae.z.test_device.data(), ctx.data.test.count, o.ae.z_dim}};
  // The host copies are the whole set's; the features are this rank's block (ctx.data.train's rows).
  std::vector<float> block(ae.z.train.begin() + ctx.data.train_rows.begin * o.ae.z_dim,
                           ae.z.train.begin() + ctx.data.train_rows.end * o.ae.z_dim);
  const FeatureSet latents = features_from_arrays(ctx.out_path("latent_train.npy"), o.ae.z_dim, std::move(block),
                                                  std::move(ae.z.test), ctx.train_labels, ctx.data.test.labels);
  nlohmann::json m;
  m["command"] = "ae-kmeans";
  m["ae"] = std::move(ae.metrics);
  m["kmeans"] = cluster_and_classify(ctx, latents, o.k, s, &resident);
  ctx.write_metrics(std::move(m));
}

}  // namespace

void register_ae_kmeans(CLI::App& app) {
  std::shared_ptr<AeKMeansOptions> opts;
  CLI::App* cmd = add_command(app, "ae-kmeans", "train the autoencoder (z_dim 25, MSE), then KMeans on its latents", opts, run_ae_kmeans);
  add_precision_option(*cmd, opts->common);
  add_ae_train_options(*cmd, opts->ae,
                       "training epochs (default 10, not ae's 40: a few minutes on 2 CPU cores for the 8000 default "
                       "digits; more epochs lower the KMeans error only a little, see docs/driver.md)");
  cmd->add_option("--k", opts->k, "number of clusters")->capture_default_str();
  add_kmeans_options(*cmd, opts->kmeans);
  add_tsne_maps_option(*cmd, opts->tsne);
}

}  // namespace zs::driver
