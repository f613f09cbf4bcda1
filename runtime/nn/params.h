// ParamStore: every trainable tensor of a model in ONE flat backend buffer (and one each for the
// gradients and Adam's two moments), so the optimizer step is a single launch over contiguous memory
// and a checkpoint is a walk over named slices. It also holds the optimizer's step counter, the one
// copy of it: an int64_t in backend memory that the step itself advances (so a replayed graph takes
// consecutive steps) and the host reads only for checkpoints.
//
// Lifecycle: layers declare() their tensors while the model is planned, then allocate() creates the
// buffers once and fills the weights with Glorot-uniform (Keras default) and the biases with zeros.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/io/safetensors.h"

namespace zs {


enum class Init { GlorotUniform, Zeros };

class ParamStore {
 public:
  struct Slot {
    std::string name;
    std::vector<int64_t> shape;
    int64_t offset = 0, count = 0;
    Init init = Init::Zeros;
    int64_t fan_in = 0, fan_out = 0;
  };

  // Returns the slot index; names must be unique ("encoder.conv1.weight").
  int declare(std::string name, std::vector<int64_t> shape, Init init, int64_t fan_in = 0, int64_t fan_out = 0);
  // Allocates params, grads, m, v on `be` and initializes them from `seed`.
  void allocate(Backend& be, uint64_t seed);

  float* param(int slot) const { return params_.data() + slots_[slot].offset; }
  float* grad(int slot) const { return grads_.data() + slots_[slot].offset; }
  const std::vector<Slot>& slots() const { return slots_; }
  int64_t total() const { return total_; }

  float* params() const { return params_.data(); }
  float* grads() const { return grads_.data(); }
  float* adam_m() const { return m_.data(); }
  float* adam_v() const { return v_.data(); }

  // One Adam step on every parameter: advances the step counter, then updates with t = the new
  // count. Enqueues ops only (capturable).
  void adam_update(Backend& be, const AdamHyper& h);
  // The step counter in backend memory (the number of Adam steps taken), and host access to it
  // (synchronizing: for checkpoints and resumes, never per step).
  int64_t* step_counter() const { return step_.data(); }
  int64_t steps_taken() const;
  void set_steps_taken(int64_t steps);

  // Host copies for checkpoints. With_adam adds "adam.m.<name>" and "adam.v.<name>".
  std::map<std::string, NamedTensor> to_host(bool with_adam) const;
  // Loads every parameter (and the Adam moments when present and wanted); throws UserError naming
  // `what` (the file) on a missing tensor or a shape mismatch. Returns true when Adam moments were loaded.
  bool from_host(const std::map<std::string, NamedTensor>& tensors, const std::string& what, bool want_adam);

 private:
  std::vector<Slot> slots_;
  int64_t total_ = 0;
  Backend* be_ = nullptr;
  Buffer params_, grads_, m_, v_;
  DeviceBuffer<int64_t> step_;
};

}  // namespace zs
