// train_mnist ae: the blog's convolutional autoencoder (runtime/models/autoencoder.h).
// Outputs in --out: metrics.json, loss.csv, loss.png, reconstructions.png, latent_{train,test}.npy
// with latent_{train,test}_labels.npy, latent.png (z_dim 2), model.safetensors (weights + Adam state, --resume reads it).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/io/atomic_file.h"
#include "runtime/io/npy.h"
#include "runtime/io/safetensors.h"
#include "runtime/models/autoencoder.h"
#include "tools/train_mnist/commands.h"
#include "tools/train_mnist/common.h"
#include "tools/train_mnist/figures.h"
#include "tools/train_mnist/latents.h"
#include "tools/train_mnist/train_loop.h"

namespace zs::driver {
namespace {

struct AeOptions {
  CommonOptions common;
  int z_dim = 16;
  int epochs = 40;
  int batch = 128;
  double lr = 5e-4;
  std::string loss = "bce";
  std::string resume;
  std::string latent_range;
};

LossKind parse_loss(const std::string& s) {
  if (s == "bce") return LossKind::Bce;
  if (s == "mse") return LossKind::Mse;
  throw UserError("--loss " + s + ": unknown loss; use bce or mse");
}

void run_ae(const AeOptions& o) {
  require_range("--z-dim", o.z_dim, 1, 4096);
  require_range("--epochs", o.epochs, 1, 100000);
  require_range("--batch", o.batch, 1, 65536);
  require_range("--lr", o.lr, 1e-12, 10.0);
  if (o.lr <= 0) throw UserError("--lr: must be positive");
  LossKind loss = parse_loss(o.loss);
  auto range = parse_latent_range(o.latent_range);
  SafetensorsFile resume;
  if (!o.resume.empty()) resume = load_safetensors(o.resume, "--resume");

  RunContext ctx(o.common);
  Backend& be = *ctx.backend;
  Autoencoder model(be, o.z_dim, loss, o.batch, o.common.seed);
  const char* loss_name = loss == LossKind::Bce ? "bce" : "mse";
  const std::map<std::string, std::string> model_meta = {
      {"command", "ae"}, {"z_dim", std::to_string(o.z_dim)}, {"loss", loss_name}};
  int first_epoch = 1;
  if (!o.resume.empty()) {
    int64_t step = 0;
    first_epoch = 1 + restore_checkpoint(resume, o.resume, model.params(), &step, model_meta);
    model.set_steps_taken(step);
  }
  TrainLoop loop(ctx, o.batch, o.epochs, first_epoch);
  loop.run(
      [&](const float* x, int n) {
        model.train_step(x, n, AdamHyper{float(o.lr)});
        return model.loss_per_sample();
      },
      [&](const float* x, int n) {
        model.evaluate(x, n);
        return model.loss_per_sample();
      },
      [&](int epoch) {
        auto meta = model_meta;
        meta["epochs_done"] = std::to_string(epoch);
        save_checkpoint(ctx.out_path("model.safetensors"), model.params(), model.steps_taken(), meta);
      });

  // Latents and reconstructions from the trained model.
  std::vector<float> z_test = write_latents(loop, [&](const float* x, int n) { return model.encode(x, n); }, o.z_dim);
  if (o.z_dim == 2) draw_latents(loop, z_test, "autoencoder latent space (test digits)", range);
  draw_reconstructions(loop, [&](const float* x, int n) {
    model.evaluate(x, n);
    return model.reconstruction();
  });

  nlohmann::json m = loop.metrics("ae");
  m["z_dim"] = o.z_dim;
  m["loss"] = loss_name;
  m["batch"] = o.batch;
  m["lr"] = o.lr;
  m["latent_stats"] = latent_stats(z_test, o.z_dim);
  m["peak_device_bytes"] = be.peak_bytes();
  write_run_outputs(loop, m);
}

}  // namespace

void register_ae(CLI::App& app) {
  auto opts = std::make_shared<AeOptions>();
  CLI::App* cmd = app.add_subcommand("ae", "train the blog's convolutional autoencoder");
  add_common_options(*cmd, opts->common);
  cmd->add_option("--z-dim", opts->z_dim, "latent dimension")->capture_default_str();
  cmd->add_option("--epochs", opts->epochs, "training epochs")->capture_default_str();
  cmd->add_option("--batch", opts->batch, "batch size")->capture_default_str();
  cmd->add_option("--lr", opts->lr, "Adam learning rate")->capture_default_str();
  cmd->add_option("--loss", opts->loss, "bce|mse")->capture_default_str();
  cmd->add_option("--resume", opts->resume, "continue from a model.safetensors written by ae");
  cmd->add_option("--latent-range", opts->latent_range,
                  "xmin,xmax,ymin,ymax of latent.png (z_dim 2), e.g. to match a vae plot");
  cmd->callback([opts] { run_ae(*opts); });
}

}  // namespace zs::driver
