// The epoch loop shared by the training commands (ae, vae, ae-kmeans): the data set lives in backend
// memory for the whole run; each epoch trains on a seeded shuffle in batches (the last one partial),
// then evaluates on the test set. Loss terms are averaged per sample, the progress bar updated, NaN
// or Inf stops the run (UserError naming epoch and step; the checkpoint of the last good epoch
// stays), and a checkpoint is written after every epoch.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/io/safetensors.h"
#include "runtime/nn/params.h"
#include "tools/train_mnist/common.h"

namespace zs::driver {

// A step returns the per-sample loss terms in backend memory, laid out [term][n].
using StepFn = std::function<const float*(const float* x, int n)>;

class TrainLoop {
 public:
  TrainLoop(RunContext& ctx, int batch, int epochs, int first_epoch, std::vector<std::string> terms = {"loss"});

  void run(const StepFn& train, const StepFn& evaluate, const std::function<void(int epoch)>& epoch_end);

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
  std::vector<double> mean_terms(const StepFn& fn, bool test_split);

  RunContext& ctx_;
  int batch_, epochs_, first_epoch_;
  std::vector<std::string> terms_;
  Buffer train_x_, test_x_, shuffled_x_;
  std::vector<float> loss_host_;
  std::vector<std::vector<double>> train_hist_, test_hist_;
  int64_t images_trained_ = 0;
  double train_seconds_ = 0;
};

// Checkpoints: the model's parameters and Adam state in safetensors, with metadata "command",
// "adam_step", "epochs_done" and the model options (which a resume must match).
void save_checkpoint(const std::string& path, const ParamStore& ps, int64_t adam_step,
                     const std::map<std::string, std::string>& metadata);
// Restores parameters and Adam state; returns epochs_done. Throws UserError when the file was written
// by another command or with other model options (`must_match` keys of the metadata).
int restore_checkpoint(const SafetensorsFile& f, const std::string& path, ParamStore& ps, int64_t* adam_step,
                       const std::map<std::string, std::string>& must_match);

// loss.csv and loss.png.
void write_loss_outputs(TrainLoop& loop);
// loss.csv, loss.png and metrics.json (written last, with seconds_total).
void write_run_outputs(TrainLoop& loop, nlohmann::json metrics);

}  // namespace zs::driver
