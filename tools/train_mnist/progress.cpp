#include "tools/train_mnist/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace zs::driver {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  long t = std::lround(s);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

Progress::Progress(bool quiet, int epochs, int64_t images_per_epoch, int first_epoch)
    : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0), epochs_(epochs), first_epoch_(first_epoch),
      per_epoch_(images_per_epoch) {}

std::string Progress::eta(int epoch, int64_t done, double ips) const {
  if (ips <= 0) return "?";
  int64_t left = int64_t(first_epoch_ + epochs_ - 1 - epoch) * per_epoch_ + (per_epoch_ - done);
  return format_duration(double(left) / ips);
}

void Progress::batch(int epoch, int64_t done, double loss, double ips) {
  if (quiet_ || !tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (done < per_epoch_ && now - last_draw_ < std::chrono::milliseconds(100)) return;  // keep redraws cheap
  last_draw_ = now;
  constexpr int kWidth = 24;
  int filled = int(double(done) / double(per_epoch_) * kWidth);
  std::string bar(size_t(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\repoch %d/%d [%s] %3d%%  loss %.5f  %.0f img/s  ETA %s   ", epoch, first_epoch_ + epochs_ - 1,
               bar.c_str(), int(100 * done / per_epoch_), loss, ips, eta(epoch, done, ips).c_str());
  std::fflush(stderr);
}

void Progress::epoch_done(int epoch, double train_loss, double ips, const std::string& extra) {
  if (quiet_) return;
  std::fprintf(stderr, "%sepoch %d/%d  loss %.5f  %s  %.0f img/s  ETA %s\n", tty_ ? "\r\033[K" : "", epoch,
               first_epoch_ + epochs_ - 1, train_loss, extra.c_str(), ips, eta(epoch, per_epoch_, ips).c_str());
}

}  // namespace zs::driver
