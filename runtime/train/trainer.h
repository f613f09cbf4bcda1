// Trainer: the one training loop of every model (runtime/models/model.h). It owns
// - the step: forward + loss, backward, Adam (ParamStore::adam_update, whose step counter lives in
//   backend memory: the one copy of it), and the running sums of the loss terms (sum_loss_terms),
//   all as one captured graph replay on backends that capture (StepGraphs: the batch is staged into
//   a fixed input buffer first), or as direct ops;
// - the epoch: a seeded shuffle of the training set done in backend memory (a gather; only the
//   permutation comes from the host), batches in order, the last one partial;
// - evaluation: the mean loss terms over a split, in order.
// The loss sums stay on the device; the host reads them once per progress report (every
// `report_every` steps and at the end of the epoch), never per step, so on a GPU the step graphs
// queue back to back.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/models/model.h"
#include "runtime/nn/step_graphs.h"

namespace zs {

class Trainer {
 public:
  // `row_len`: floats per sample (784 for MNIST images).
  Trainer(Backend& be, Model& model, int row_len);

  // One training step on x[n] in backend memory; returns the per-sample loss terms [term][n] in
  // backend memory (valid until the next pass) and adds them to the running sums.
  const float* step(const float* x, int n, const AdamHyper& h);

  // Called with the images trained so far in the epoch and the mean of each loss term over them.
  // It may throw (e.g. on a non-finite loss): the epoch stops there.
  using Report = std::function<void(int64_t images_done, const std::vector<double>& mean_terms)>;

  // One epoch over data[rows][row_len] (backend memory) in the shuffle of (seed, epoch), in batches
  // of `batch`. Returns the mean loss terms of the epoch. `before_step` (optional) runs before each
  // step and may throw to stop at that step boundary (e.g. on SIGINT).
  std::vector<double> train_epoch(const float* data, int rows, int batch, uint64_t seed, int epoch,
                                  const AdamHyper& h, const Report& report, int report_every = 16,
                                  const std::function<void()>& before_step = {});

  // The mean loss terms of model.evaluate over data[rows] in order, in batches of `batch`.
  std::vector<double> evaluate(const float* data, int rows, int batch, int epoch);

 private:
  void reset_sums();
  std::vector<double> read_sums();

  Backend& be_;
  Model& model_;
  int row_len_;
  size_t terms_;
  DeviceBuffer<double> sums_;      // running sums of the loss terms, on the device
  Buffer staged_input_;            // the fixed input of captured steps
  Buffer shuffled_;                // this epoch's shuffle of the training set
  const float* step_terms_ = nullptr;   // the model's loss-term buffer (fixed: replays return it too)
  StepGraphs graphs_;
};

}  // namespace zs
