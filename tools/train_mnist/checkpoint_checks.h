// Validation of a --resume checkpoint before any of its values reaches the model: a checkpoint is
// user input like any other file, so everything in it is checked, never trusted.
// - metadata: "command" must be there (else it was not written by train_mnist); the integer
//   counters "adam_step" and "epochs_done" must be plain decimal integers within the ranges below
//   (values near a type's limit would wrap the epoch counter or overflow the step);
// - tensors: exactly the model's parameters, optionally with the Adam moments of ALL of them
//   ("adam.m.<name>", "adam.v.<name>"); an unknown tensor means another model or program;
// - values: every weight and moment finite, Adam's second moment never negative.
// Each problem is a zs::UserError "--resume <file>: <problem>; <fix>".
#pragma once
#include <cstdint>
#include <string>

#include "runtime/io/safetensors.h"
#include "runtime/nn/params.h"

namespace zs::driver {

// The largest counters a checkpoint may carry: far above any real run (--epochs <= 100000 per run),
// far below the limits of the int / int64 they are stored in, so resuming can never overflow them.
inline constexpr int64_t kMaxEpochsDone = 1'000'000;
inline constexpr int64_t kMaxAdamStep = int64_t(1) << 40;

struct CheckpointCounters {
  int64_t adam_step = 0;  // 0 when the checkpoint has no Adam state
  int epochs_done = 0;
};

// Refuses a checkpoint without train_mnist's metadata (call it before comparing model options).
void check_checkpoint_origin(const SafetensorsFile& f, const std::string& path);

// Checks metadata, tensor names and values of `f` (read from `path`) against the model in `ps`;
// returns the validated counters.
CheckpointCounters check_checkpoint(const SafetensorsFile& f, const std::string& path, const ParamStore& ps);

// Strictly parses a decimal integer in [lo, hi] (no sign, no spaces, no trailing text); false otherwise.
bool parse_bounded_integer(const std::string& text, int64_t lo, int64_t hi, int64_t* value);

}  // namespace zs::driver
