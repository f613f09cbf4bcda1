// train_mnist ae: the blog's convolutional autoencoder (runtime/models/autoencoder.h), trained by
// ae_training.h. Outputs in --out: metrics.json, loss.csv, loss.png, reconstructions.png,
// latent_{train,test}.npy with latent_{train,test}_labels.npy, latent.png (z_dim 2),
// model.safetensors (weights + Adam state, --resume reads it).
#include <memory>

#include <nlohmann/json.hpp>

#include "tools/train_mnist/ae_training.h"
#include "tools/train_mnist/commands.h"
#include "tools/train_mnist/common.h"
#include "tools/train_mnist/latents.h"
#include "tools/train_mnist/tsne_maps.h"

namespace zs::driver {
namespace {

struct AeOptions {
  CommonOptions common;
  AeTrainOptions train;
  std::string latent_range;
  int tsne = 0;
};

void run_ae(const AeOptions& o) {
  AeTrainOptions train = o.train;
  const SafetensorsFile resume = prepare_ae_training(train);
  train.latent_range = parse_latent_range(o.latent_range);
  RunContext ctx(o.common, /*load_data=*/true, TrainSplit::RankShard);
  AeRun run = train_autoencoder(ctx, train, resume, "ae");
  write_tsne_maps(ctx, run.z.train, run.z.test, train.z_dim, o.tsne);
  ctx.write_metrics(std::move(run.metrics));
}

}  // namespace

void register_ae(CLI::App& app) {
  std::shared_ptr<AeOptions> opts;
  CLI::App* cmd = add_command(app, "ae", "train the blog's convolutional autoencoder", opts, run_ae);
  add_precision_option(*cmd, opts->common);
  add_ae_train_options(*cmd, opts->train);
  cmd->add_option("--latent-range", opts->latent_range,
                  "xmin,xmax,ymin,ymax of latent.png (z_dim 2), e.g. to match a vae plot");
  add_tsne_maps_option(*cmd, opts->tsne);
}

}  // namespace zs::driver
