// One run per output folder: OUT/.train_mnist.lock holds the owner's pid under an flock(2).
//
// Why flock: the kernel drops it when its owner dies, however it dies (SIGKILL included), so a
// lock is stale exactly when it can be taken: the pid left in the file then names the dead
// process, and taking it over is announced in one line. A live owner makes the second run fail
// with a UserError naming the pid and the fix, before it writes anything.
// The lock file is removed when the run ends (while still locked; a waiter that locked the removed
// file notices and retries on the new path), so a finished --out holds only the run's outputs.
#pragma once
#include <filesystem>
#include <string>

namespace zs {

class OutLock {
 public:
  // Takes the lock of `dir` (which must exist); `option_name` names it in messages ("--out").
  // *notice receives "took over the lock of process N, which is no longer running" or "".
  OutLock(const std::filesystem::path& dir, const std::string& option_name, std::string* notice);
  ~OutLock();
  OutLock(const OutLock&) = delete;
  OutLock& operator=(const OutLock&) = delete;

  static constexpr const char* kFileName = ".train_mnist.lock";

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  int cleanup_slot_ = -1;
};

}  // namespace zs
