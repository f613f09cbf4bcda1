// train_mnist vae: the blog's variational autoencoder (runtime/models/vae.h).
// Outputs in --out: metrics.json (total/recon/kl per epoch, train and test; latent statistics),
// loss.csv, loss.png, reconstructions.png, generated.png (digits decoded from z ~ N(0, I)),
// latent.png and manifold.png (z_dim 2), latent_{train,test}.npy + labels, model.safetensors.
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/io/safetensors.h"
#include "runtime/models/vae.h"
#include "tools/train_mnist/ae_training.h"
#include "tools/train_mnist/commands.h"
#include "tools/train_mnist/common.h"
#include "tools/train_mnist/figures.h"
#include "tools/train_mnist/latents.h"
#include "tools/train_mnist/tsne_maps.h"
#include "tools/train_mnist/train_loop.h"

namespace zs::driver {
namespace {

struct VaeOptions {
  CommonOptions common;
  int z_dim = 2;
  int epochs = 40;
  int batch = 128;
  double lr = 5e-4;
  double kl_weight = 1.0;
  std::string sample_at_inference = "on";
  std::string decoder_head = "blog";
  std::string resume;
  std::string latent_range;
  int tsne = 0;
};

// Keys of eps drawn outside training: negative, so they never collide with a training step's (the
// test set after epoch e uses -1000 - e: runtime/models/vae.h).
constexpr int64_t kLatentKey = -1;
constexpr int64_t kGenerateKey = -2;

void draw_generated(TrainLoop& loop, Vae& model, int z_dim) {
  RunContext& ctx = loop.ctx();
  Backend& be = *ctx.backend;
  const int side = 10, count = side * side, batch = std::min(count, loop.batch());
  // z ~ N(0, I) from the same Philox stream as training: reparameterize mu = 0, log_var = 0.
  Buffer zeros(be, size_t(batch) * 2 * size_t(z_dim));
  be.fill(zeros.data(), 0.0f, zeros.size());
  Buffer z(be, size_t(batch) * size_t(z_dim)), eps(be, size_t(batch) * size_t(z_dim));
  std::vector<float> images(size_t(count) * kPixels);
  for (int first = 0; first < count; first += batch) {
    int n = std::min(batch, count - first);
    be.vae_reparam_forward(z.data(), eps.data(), zeros.data(), n, z_dim, ctx.opt.seed, kGenerateKey - first, true, 0);
    be.to_host(images.data() + size_t(first) * kPixels, model.decode(z.data(), n), size_t(n) * kPixels);
  }
  plot::ImageGridOptions o;
  o.title = "digits decoded from z ~ N(0, I)";
  o.scale = 2;
  plot::image_grid(ctx.out_path("generated.png"), images, side, side, o);
}

void draw_manifold(TrainLoop& loop, Vae& model) {
  RunContext& ctx = loop.ctx();
  Backend& be = *ctx.backend;
  const int side = 15;
  std::vector<double> values(side);
  for (int i = 0; i < side; ++i) values[size_t(i)] = -3.0 + 6.0 * i / (side - 1);
  std::vector<float> images(size_t(side) * side * kPixels);
  Buffer z(be, size_t(side) * 2);
  for (int row = 0; row < side; ++row) {
    std::vector<float> zs;
    for (int col = 0; col < side; ++col) {  // top row = largest z[1], as on a y axis
      zs.push_back(float(values[size_t(col)]));
      zs.push_back(float(values[size_t(side - 1 - row)]));
    }
    be.to_device(z.data(), zs.data(), zs.size());
    for (int first = 0; first < side; first += loop.batch()) {  // the model is planned for --batch codes
      const int n = std::min(loop.batch(), side - first);
      be.to_host(images.data() + (size_t(row) * side + size_t(first)) * kPixels, model.decode(z.data() + 2 * first, n),
                 size_t(n) * kPixels);
    }
  }
  plot::ImageGridOptions o;
  o.title = "decoded latent grid over [-3, 3]^2";
  o.scale = 1;
  o.separator = 0;
  o.column_values = values;
  o.row_values.assign(values.rbegin(), values.rend());
  o.x_label = "z[0]";
  o.y_label = "z[1]";
  plot::image_grid(ctx.out_path("manifold.png"), images, side, side, o);
}

void run_vae(const VaeOptions& o) {
  require_range("--z-dim", o.z_dim, 1, 4096);
  require_range("--epochs", o.epochs, 1, 100000);
  require_range("--batch", o.batch, 1, 65536);
  require_range("--lr", o.lr, 1e-12, 10.0);
  require_range("--kl-weight", o.kl_weight, 0.0, 1e6);
  if (o.sample_at_inference != "on" && o.sample_at_inference != "off")
    throw UserError("--sample-at-inference " + o.sample_at_inference + ": use on or off");
  const bool sample = o.sample_at_inference == "on";
  const DecoderHead head = parse_decoder_head_option(o.decoder_head);
  auto range = parse_latent_range(o.latent_range);
  SafetensorsFile resume;
  if (!o.resume.empty()) resume = load_safetensors(o.resume, "--resume");

  RunContext ctx(o.common, /*load_data=*/true, TrainSplit::RankShard);
  Backend& be = *ctx.backend;
  Vae model(be, o.z_dim, o.kl_weight, sample, o.batch, o.common.seed, head);
  std::ostringstream beta;
  beta << o.kl_weight;
  TrainLoop loop(ctx, model, o.batch, o.epochs, resume, o.resume);
  loop.run(o.lr);

  LatentSets z = write_latents(loop, [&](const float* x, int n) { return model.encode(x, n, kLatentKey); }, o.z_dim);
  const std::vector<float>& z_train = z.train;
  const std::vector<float>& z_test = z.test;
  write_tsne_maps(ctx, z_train, z_test, o.z_dim, o.tsne);
  draw_reconstructions(loop, [&](const float* x, int n) {
    model.evaluate_keyed(x, n, kLatentKey);
    return model.reconstruction();
  });
  draw_generated(loop, model, o.z_dim);
  if (o.z_dim == 2) {
    draw_latents(loop, z_test, "VAE latent space (test digits), KL weight " + beta.str(), range);
    draw_manifold(loop, model);
  }

  nlohmann::json m = loop.metrics("vae");
  m["z_dim"] = o.z_dim;
  m["kl_weight"] = o.kl_weight;
  m["sample_at_inference"] = sample;
  m["decoder_head"] = o.decoder_head;
  m["batch"] = o.batch;
  m["lr"] = o.lr;
  m["loss_terms"] = "loss = recon + kl_weight * kl, per image: recon = BCE summed over the 784 pixels";
  m["latent_stats"] = latent_stats(z_test, o.z_dim);
  m["peak_device_bytes"] = be.peak_bytes();
  write_run_outputs(loop, m);
}

}  // namespace

void register_vae(CLI::App& app) {
  std::shared_ptr<VaeOptions> opts;
  CLI::App* cmd = add_command(app, "vae", "train the blog's variational autoencoder", opts, run_vae);
  add_precision_option(*cmd, opts->common);
  cmd->add_option("--z-dim", opts->z_dim, "latent dimension")->capture_default_str();
  cmd->add_option("--epochs", opts->epochs, "training epochs")->capture_default_str();
  cmd->add_option("--batch", opts->batch, "batch size")->capture_default_str();
  cmd->add_option("--lr", opts->lr, "Adam learning rate")->capture_default_str();
  cmd->add_option("--kl-weight", opts->kl_weight, "beta: weight of the KL term")->capture_default_str();
  cmd->add_option("--sample-at-inference", opts->sample_at_inference,
                  "on: latents and reconstructions sample z; off: use mu")->capture_default_str();
  add_decoder_head_option(*cmd, opts->decoder_head);
  cmd->add_option("--resume", opts->resume, "continue from a model.safetensors written by vae");
  cmd->add_option("--latent-range", opts->latent_range, "xmin,xmax,ymin,ymax of latent.png (z_dim 2)");
  add_tsne_maps_option(*cmd, opts->tsne);
}

}  // namespace zs::driver
