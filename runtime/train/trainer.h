// Trainer: the one training loop of every model (runtime/models/model.h). It owns
// - the step: forward + loss, backward, Adam (ParamStore::adam_update, whose step counter lives in
//   backend memory: the one copy of it), and the running sums of the loss terms (sum_loss_terms),
//   all as one captured graph replay on backends that capture (StepGraphs: the batch is staged into
//   a fixed input buffer first), or as direct ops;
// - the epoch: a seeded shuffle of the training set done in backend memory (a gather; only the
//   permutation comes from the host), batches in order, the last one partial;
// - evaluation: the mean loss terms over a split, in order;
// - data parallelism (set_communicator, runtime/dist): each rank holds only its contiguous block of
//   the training set (rank 0 the first rows, then rank 1, ...; blocks may differ in size) and
//   train_epoch trains exactly as one process on their concatenation: every rank walks the same
//   permutation of the GLOBAL rows (epoch_permutation(total, seed, epoch); the blocks' sizes come
//   from one reduction, shard_layout), so the global batches are one process's; each step the
//   batch's rows are fetched from their owners (fetch_rows, runtime/dist/row_exchange.h: every rank
//   receives the batch, n x row_len floats through one rank-order reduction) and rank r trains on
//   its slice of it (shard_of: rows [n r / R, n (r + 1) / R) of the batch). The model is told
//   where the slice starts (forward_loss's first_row), so per-row randomness (the VAE's eps) is
//   one process's. The gradients are combined as sum_r (n_r / n) * grad_r (each rank's gradient
//   is the mean over its slice, so this is the mean over the whole batch) before Adam, and every
//   rank takes the same Adam step: R ranks train the model one process trains, to float rounding.
//   Steps then run as direct ops (no capture: the reduction sits between backward and Adam). Loss
//   sums and evaluation (whose data every rank holds whole) are reduced too. One process
//   (no communicator, or size 1) takes none of this: its path is unchanged, captured where the
//   backend captures.
// The loss sums stay on the device; the host reads them once per progress report (every
// `report_every` steps and at the end of the epoch), never per step, so on a GPU the step graphs
// queue back to back.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/dist/communicator.h"
#include "runtime/models/model.h"
#include "runtime/nn/step_graphs.h"

namespace zs {

class Trainer {
 public:
  // `row_len`: floats per sample (784 for MNIST images).
  Trainer(Backend& be, Model& model, int row_len);

  // Data-parallel training over comm's ranks (null or size 1: one process, unchanged).
  void set_communicator(Communicator* comm) { comm_ = comm; }

  // One training step on x[n] in backend memory; returns the per-sample loss terms [term][n] in
  // backend memory (valid until the next pass) and adds them to the running sums. Data-parallel:
  // x[n] is the global batch (the same on every rank), the terms returned are the rank's slice's
  // (train_epoch does not use this form: it fetches and uploads the slice alone).
  const float* step(const float* x, int n, const AdamHyper& h);

  // Called with the images trained so far in the epoch and the mean of each loss term over them.
  // It may throw (e.g. on a non-finite loss): the epoch stops there.
  using Report = std::function<void(int64_t images_done, const std::vector<double>& mean_terms)>;

  // One epoch over data[rows][row_len] (backend memory) in the shuffle of (seed, epoch), in batches
  // of `batch`. Returns the mean loss terms of the epoch. `before_step` (optional) runs before each
  // step and may throw to stop at that step boundary (e.g. on SIGINT). Data-parallel: data[rows]
  // is this rank's block of the training set (a collective: every rank calls it with its block);
  // the epoch, the report's images and the means are the whole set's.
  std::vector<double> train_epoch(const float* data, int rows, int batch, uint64_t seed, int epoch,
                                  const AdamHyper& h, const Report& report, int report_every = 16,
                                  const std::function<void()>& before_step = {});

  // The mean loss terms of model.evaluate over data[rows] in order, in batches of `batch`.
  // Data-parallel: data[rows] is the whole split on every rank; each rank evaluates its slices.
  std::vector<double> evaluate(const float* data, int rows, int batch, int epoch);

 private:
  void reset_sums();
  std::vector<double> read_sums();
  // The data-parallel step on this rank's slice of a global batch of n: mine[slice.rows()].
  const float* step_slice(const float* mine, Shard slice, int n, const AdamHyper& h);
  std::vector<double> run_epoch(int total, int batch, const Report& report, int report_every,
                                const std::function<void()>& before_step,
                                const std::function<void(int first, int n)>& step_at);
  std::vector<double> train_sharded_epoch(const float* data, int rows, int batch, uint64_t seed, int epoch,
                                          const AdamHyper& h, const Report& report, int report_every,
                                          const std::function<void()>& before_step);

  Communicator* comm_ = nullptr;
  Backend& be_;
  Model& model_;
  int row_len_;
  size_t terms_;
  DeviceBuffer<double> sums_;      // running sums of the loss terms, on the device
  Buffer staged_input_;            // the fixed input of captured steps
  Buffer shuffled_;                // this epoch's shuffle of the training set (one process)
  Buffer slice_input_;             // data-parallel: this rank's slice of the fetched batch
  Buffer picked_;                  // data-parallel: the rows of the batch this rank's block holds
  const float* step_terms_ = nullptr;   // the model's loss-term buffer (fixed: replays return it too)
  StepGraphs graphs_;
};

}  // namespace zs
