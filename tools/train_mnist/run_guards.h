// Checks the training loop makes at each step boundary: a pending SIGINT/SIGTERM
// (runtime/core/interrupt.h) and a loss outside its mathematically possible range.
#pragma once
#include <string>

namespace zs::driver {

// Throws zs::Interrupted when a signal is pending. `checkpoint` is the complete checkpoint the
// interrupted run leaves (of epoch `checkpoint_epoch`), or "" when this run has not written one yet.
// Under mpirun a collective: every rank stops at the same boundary when any rank saw a signal.
void throw_if_interrupted(const std::string& checkpoint, int checkpoint_epoch);

// Every loss train_mnist computes (BCE, MSE, BCE + beta * KL) is >= 0; a negative mean is a bug to
// stop at (std::logic_error: an internal error, exit 1), never a number to report. NaN and Inf are
// left to the divergence check (they are the user's --lr's doing).
void check_loss_range(double mean_loss, int epoch, int step);

}  // namespace zs::driver
