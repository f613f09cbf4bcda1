// The driver's side of training (ae, vae, ae-kmeans), around the one Trainer (runtime/train): the
// data set lives in backend memory for the whole run; each epoch is Trainer::train_epoch (a seeded
// shuffle, batches, the loss summed on the device), then an evaluation on the test set. The
// progress bar is updated at each of the trainer's reports, NaN or Inf stops the run (UserError
// naming the epoch and the step it was seen by; the checkpoint of the last good epoch stays), and a
// checkpoint is written after every epoch.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/io/safetensors.h"
#include "runtime/models/model.h"
#include "tools/train_mnist/common.h"

namespace zs::driver {

class TrainLoop {
 public:
  // Resumes from `resume` when it is not empty (path: its file name, for messages): parameters,
  // Adam state and step counter, and the epoch count, after checking that its metadata matches
  // the model's.
  TrainLoop(RunContext& ctx, Model& model, int batch, int epochs, const SafetensorsFile& resume = {},
            const std::string& resume_path = "");

  // Trains the epochs, writing model.safetensors after each.
  void run(double lr);

  // Runs fn over a whole split in order (not shuffled), batch by batch.
  void for_each_batch(bool test_split, const std::function<void(const float* x, int first, int n)>& fn);

  nlohmann::json metrics(const std::string& command) const;
  const std::vector<std::string>& terms() const { return terms_; }
  // history_[epoch index][term] for train and test.
  const std::vector<std::vector<double>>& train_history() const { return train_hist_; }
  const std::vector<std::vector<double>>& test_history() const { return test_hist_; }
  int first_epoch() const { return first_epoch_; }
  int batch() const { return batch_; }
  double images_per_second() const { return train_seconds_ > 0 ? double(images_trained_) / train_seconds_ : 0; }
  const float* test_images() const { return test_x_.data(); }
  RunContext& ctx() { return ctx_; }

 private:
  RunContext& ctx_;
  Model& model_;
  int batch_, epochs_, first_epoch_ = 1;
  std::vector<std::string> terms_;
  Buffer train_x_, test_x_;
  std::vector<std::vector<double>> train_hist_, test_hist_;
  int64_t images_trained_ = 0;
  double train_seconds_ = 0;
};

// Checkpoints: the model's parameters and Adam state in safetensors, with metadata "command",
// "adam_step", "epochs_done" and the model options (Model::checkpoint_metadata, which a resume
// must match).
void save_checkpoint(const std::string& path, Model& model, int epochs_done);
// Restores parameters, Adam state and step counter; returns epochs_done. Throws UserError when the
// file was written by another command or with other model options.
int restore_checkpoint(const SafetensorsFile& f, const std::string& path, Model& model);

// loss.csv and loss.png.
void write_loss_outputs(TrainLoop& loop);
// loss.csv, loss.png and metrics.json (written last, with seconds_total).
void write_run_outputs(TrainLoop& loop, nlohmann::json metrics);

}  // namespace zs::driver
