// Training progress on stderr: a live bar (epoch, loss, img/s, ETA) redrawn in place when stderr
// is a terminal, one plain line per epoch otherwise (logs, CI), nothing with --quiet.
#pragma once
#include <chrono>
#include <string>

namespace zs::driver {

class Progress {
 public:
  Progress(bool quiet, int epochs, int64_t images_per_epoch, int first_epoch = 1);
  // Called after each batch: images done in this epoch and the running mean training loss.
  void batch(int epoch, int64_t images_done, double running_loss, double images_per_second);
  // Called at the end of an epoch; extra is appended to the line (e.g. "test 0.0712").
  void epoch_done(int epoch, double train_loss, double images_per_second, const std::string& extra);

 private:
  std::string eta(int epoch, int64_t images_done, double images_per_second) const;

  bool quiet_, tty_;
  int epochs_, first_epoch_;
  int64_t per_epoch_;
  std::chrono::steady_clock::time_point last_draw_{};
};

std::string format_duration(double seconds);

}  // namespace zs::driver
