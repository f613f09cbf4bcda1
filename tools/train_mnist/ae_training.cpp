#include "tools/train_mnist/ae_training.h"

#include <map>

#include "runtime/core/error.h"
#include "runtime/models/autoencoder.h"
#include "tools/train_mnist/figures.h"
#include "tools/train_mnist/train_loop.h"

namespace zs::driver {
namespace {

LossKind parse_loss(const std::string& s) {
  if (s == "bce") return LossKind::Bce;
  if (s == "mse") return LossKind::Mse;
  throw UserError("--loss " + s + ": unknown loss; use bce or mse");
}

}  // namespace

void add_decoder_head_option(CLI::App& cmd, std::string& head) {
  cmd.add_option("--decoder-head", head,
                 "blog: LeakyReLU(0.3) then sigmoid, as the blog's decoder; sigmoid: a plain sigmoid (the head of "
                 "checkpoints written before the blog's became the default)")
      ->capture_default_str();
}

DecoderHead parse_decoder_head_option(const std::string& name) {
  if (auto head = parse_decoder_head(name)) return *head;
  throw UserError("--decoder-head " + name + ": unknown head; use blog (LeakyReLU then sigmoid) or sigmoid");
}

void add_ae_train_options(CLI::App& cmd, AeTrainOptions& o, const std::string& epochs_help) {
  cmd.add_option("--z-dim", o.z_dim, "latent dimension")->capture_default_str();
  cmd.add_option("--epochs", o.epochs, epochs_help)->capture_default_str();
  cmd.add_option("--batch", o.batch, "training batch size")->capture_default_str();
  cmd.add_option("--lr", o.lr, "Adam learning rate")->capture_default_str();
  cmd.add_option("--loss", o.loss, "bce|mse")->capture_default_str();
  add_decoder_head_option(cmd, o.decoder_head);
  cmd.add_option("--resume", o.resume, "continue from a model.safetensors written by ae or ae-kmeans");
}

SafetensorsFile prepare_ae_training(const AeTrainOptions& o) {
  require_range("--z-dim", o.z_dim, 1, 4096);
  require_range("--epochs", o.epochs, 1, 100000);
  require_range("--batch", o.batch, 1, 65536);
  require_range("--lr", o.lr, 1e-12, 10.0);
  if (o.lr <= 0) throw UserError("--lr: must be positive");
  parse_loss(o.loss);
  parse_decoder_head_option(o.decoder_head);
  SafetensorsFile resume;
  if (!o.resume.empty()) resume = load_safetensors(o.resume, "--resume");
  return resume;
}

AeRun train_autoencoder(RunContext& ctx, const AeTrainOptions& o, const SafetensorsFile& resume,
                        const std::string& command) {
  Backend& be = *ctx.backend;
  const LossKind loss = parse_loss(o.loss);
  Autoencoder model(be, o.z_dim, loss, o.batch, ctx.opt.seed, parse_decoder_head_option(o.decoder_head));
  const char* loss_name = loss == LossKind::Bce ? "bce" : "mse";
  TrainLoop loop(ctx, model, o.batch, o.epochs, resume, o.resume);
  loop.run(o.lr);

  // Latents and reconstructions from the trained model.
  AeRun run;
  run.z = write_latents(loop, [&](const float* x, int n) { return model.encode(x, n); }, o.z_dim);
  if (o.z_dim == 2) draw_latents(loop, run.z.test, "autoencoder latent space (test digits)", o.latent_range);
  draw_reconstructions(loop, [&](const float* x, int n) {
    model.forward_loss(x, n, 0);
    return model.reconstruction();
  });
  write_loss_outputs(loop);

  run.metrics = loop.metrics(command);
  run.metrics["z_dim"] = o.z_dim;
  run.metrics["loss"] = loss_name;
  run.metrics["decoder_head"] = o.decoder_head;
  run.metrics["batch"] = o.batch;
  run.metrics["lr"] = o.lr;
  run.metrics["latent_stats"] = latent_stats(run.z.test, o.z_dim);
  run.metrics["peak_device_bytes"] = be.peak_bytes();
  return run;
}

}  // namespace zs::driver
