// train_mnist ae: the blog's convolutional autoencoder (runtime/models/autoencoder.h), trained by
// ae_training.h. Outputs in --out: metrics.json, loss.csv, loss.png, reconstructions.png,
// latent_{train,test}.npy with latent_{train,test}_labels.npy, latent.png (z_dim 2),
// model.safetensors (weights + Adam state, --resume reads it).
#include <memory>

#include <nlohmann/json.hpp>

#include "runtime/io/atomic_file.h"
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
  RunContext ctx(o.common);
  AeRun run = train_autoencoder(ctx, train, resume, "ae");
  write_tsne_maps(ctx, run.z.train, run.z.test, train.z_dim, o.tsne);
  run.metrics["seconds_total"] = ctx.seconds_since_start();
  write_json_atomic(ctx.out_path("metrics.json"), run.metrics);
}

}  // namespace

void register_ae(CLI::App& app) {
  auto opts = std::make_shared<AeOptions>();
  CLI::App* cmd = app.add_subcommand("ae", "train the blog's convolutional autoencoder");
  add_common_options(*cmd, opts->common);
  add_precision_option(*cmd, opts->common);
  add_ae_train_options(*cmd, opts->train);
  cmd->add_option("--latent-range", opts->latent_range,
                  "xmin,xmax,ymin,ymax of latent.png (z_dim 2), e.g. to match a vae plot");
  add_tsne_maps_option(*cmd, opts->tsne);
  cmd->callback([opts] { run_ae(*opts); });
}

}  // namespace zs::driver
