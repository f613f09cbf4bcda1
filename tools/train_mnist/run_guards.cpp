#include "tools/train_mnist/run_guards.h"

#include <signal.h>

#include <sstream>
#include <stdexcept>

#include "runtime/core/interrupt.h"
#include "tools/train_mnist/common.h"

namespace zs::driver {

void throw_if_interrupted(const std::string& checkpoint, int checkpoint_epoch) {
  int sig = interrupt_requested() ? interrupt_signal() : 0;
  Communicator& comm = world();
  if (distributed(&comm)) {
    // Under mpirun every rank calls this at the same step boundaries; they agree to stop at the
    // same one (the lowest rank's signal), so none is left waiting in the next step's reduction
    // and rank 0 names its own, the real, checkpoint.
    const int32_t mine = sig;
    sig = 0;
    for (int32_t s : comm.allgather(std::span<const int32_t>(&mine, 1)))
      if (s != 0) {
        sig = s;
        break;
      }
  }
  if (sig == 0) return;
  std::string msg = std::string("interrupted by ") + (sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal");
  if (checkpoint.empty())
    msg += " before this run finished an epoch, so it wrote no checkpoint; run the same command again";
  else
    msg += "; the checkpoint of epoch " + std::to_string(checkpoint_epoch) + " is complete: resume with --resume " +
           checkpoint;
  throw Interrupted(msg, sig);
}

void check_loss_range(double mean_loss, int epoch, int step) {
  if (!(mean_loss < 0)) return;
  std::ostringstream msg;
  msg << "the mean training loss is " << mean_loss << " at epoch " << epoch << ", step " << step
      << ", outside its possible range [0, inf): the loss computation is wrong";
  throw std::logic_error(msg.str());
}

}  // namespace zs::driver
