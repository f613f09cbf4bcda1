// See out_lock.h.
#include "runtime/io/out_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "runtime/core/error.h"
#include "runtime/core/interrupt.h"

namespace zs {

namespace {

std::string read_pid_text(int fd) {
  char buf[32] = {};
  const ssize_t got = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string text = got > 0 ? std::string(buf, size_t(got)) : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.find_first_not_of("0123456789") == std::string::npos ? text : "";
}

}  // namespace

OutLock::OutLock(const std::filesystem::path& dir, const std::string& option_name, std::string* notice) {
  path_ = dir / kFileName;
  notice->clear();
  const std::string who = option_name + " " + dir.string();
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0)
      throw UserError(who + ": cannot create the lock file " + path_.string() + ": " +
                      std::generic_category().message(errno) + "; choose a writable folder");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string owner = read_pid_text(fd_);
      ::close(fd_);
      fd_ = -1;
      if (err == EWOULDBLOCK)
        throw UserError(who + " is in use by another train_mnist run" +
                        (owner.empty() ? std::string() : " (process " + owner + ")") +
                        "; wait for it to finish or choose another --out");
      throw UserError(who + ": cannot lock " + path_.string() + ": " + std::generic_category().message(err) +
                      "; choose a folder on a local file system");
    }
    // Locked: make sure it is still the file at the path (the previous owner may have removed it).
    struct stat held {}, at_path {};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &at_path) == 0 && held.st_ino == at_path.st_ino &&
        held.st_dev == at_path.st_dev) {
      const std::string previous = read_pid_text(fd_);
      if (!previous.empty() && previous != std::to_string(::getpid()))
        *notice = who + ": took over the lock of process " + previous + ", which is no longer running";
      const std::string mine = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, mine.data(), mine.size(), 0) != ssize_t(mine.size()))
        throw UserError(who + ": cannot write the lock file " + path_.string() + ": " +
                        std::generic_category().message(errno) + "; free some space or choose another folder");
      cleanup_slot_ = register_cleanup_path(path_.c_str());
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
  throw UserError(who + ": could not take the lock " + path_.string() + " (it keeps changing); try again");
}

OutLock::~OutLock() {
  if (fd_ < 0) return;
  release_cleanup_path(cleanup_slot_);
  ::unlink(path_.c_str());  // while still locked: see out_lock.h
  ::close(fd_);
}

}  // namespace zs
