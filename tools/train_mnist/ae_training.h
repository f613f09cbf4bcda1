// Training the blog's convolutional autoencoder, shared by `ae` and `ae-kmeans`: the options, the
// epoch loop (train_loop.h) with a checkpoint after every epoch, and the outputs every AE run
// writes in --out: loss.csv, loss.png, reconstructions.png, latent_{train,test}.npy with
// latent_{train,test}_labels.npy, latent.png (z_dim 2), model.safetensors (weights + Adam state;
// metadata command "ae", so `ae --resume` continues any of them).
// metrics.json is left to the command (ae writes the returned keys, ae-kmeans nests them).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "runtime/io/safetensors.h"
#include "runtime/models/autoencoder.h"
#include "tools/train_mnist/common.h"
#include "tools/train_mnist/latents.h"

namespace zs::driver {

struct AeTrainOptions {
  int z_dim = 16;
  int epochs = 40;
  int batch = 128;
  double lr = 5e-4;
  std::string loss = "bce";
  std::string decoder_head = "blog";
  std::string resume;
  std::optional<LatentRange> latent_range;  // latent.png axes (ae's --latent-range), z_dim 2 only
};

// --decoder-head blog|sigmoid (ae, vae, ae-kmeans): the decoder's last activation.
void add_decoder_head_option(CLI::App& cmd, std::string& head);
// Throws UserError naming --decoder-head when `name` is not blog or sigmoid.
DecoderHead parse_decoder_head_option(const std::string& name);

// Registers --z-dim, --epochs, --batch, --lr, --loss, --decoder-head, --resume with the defaults `o` holds;
// `epochs_help` explains the --epochs default of the command.
void add_ae_train_options(CLI::App& cmd, AeTrainOptions& o, const std::string& epochs_help = "training epochs");

// Validates the options and reads the --resume checkpoint (empty without --resume), so that bad
// input is reported before --out is created. Throws UserError naming the option.
SafetensorsFile prepare_ae_training(const AeTrainOptions& o);

struct AeRun {
  nlohmann::json metrics;              // TrainLoop::metrics keys + z_dim, loss, batch, lr, latent_stats, peak_device_bytes
  LatentSets z;                        // latents on the host and in backend memory, count x z_dim
};

// Trains (or resumes from `resume`) and writes the outputs listed above; `command` names the run in
// the metrics.
AeRun train_autoencoder(RunContext& ctx, const AeTrainOptions& o, const SafetensorsFile& resume,
                        const std::string& command);

}  // namespace zs::driver
