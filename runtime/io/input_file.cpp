// The gate for input files; see input_file.h.
#include "runtime/io/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "runtime/core/error.h"

namespace zs {
namespace fs = std::filesystem;

namespace {

std::string type_reason(mode_t mode) {
  if (S_ISREG(mode)) return "";
  if (S_ISDIR(mode)) return "is a folder, not a file";
  if (S_ISFIFO(mode)) return "is a FIFO (named pipe), not a regular file";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "is a device, not a regular file";
  if (S_ISSOCK(mode)) return "is a socket, not a regular file";
  return "is not a regular file";
}

std::string errno_reason(const fs::path& path, int err) {
  switch (err) {
    case ENOENT: {
      struct stat link {};
      if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
        return "is a dangling symlink (its target is gone)";
      return "no such file";
    }
    case ELOOP: return "is a symlink loop (following its links never reaches a file)";
    case ENOTDIR: return "a folder in this path is a file, so the path does not exist";
    case EACCES: return "permission denied";
    case ENAMETOOLONG: return "the path is too long";
    default: return std::generic_category().message(err);
  }
}

}  // namespace

std::string non_regular_reason(const fs::path& path) {
  if (path.empty()) return "empty path";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_reason(path, errno);
  return type_reason(st.st_mode);
}

InputFile::InputFile(const fs::path& path, std::string role, std::string fix)
    : path_(path), role_(std::move(role)), fix_(std::move(fix)) {
  if (std::string why = non_regular_reason(path_); !why.empty()) fail(why);
  // O_NONBLOCK: if the path was swapped for a FIFO after the check, open must not hang on it;
  // the fstat below then refuses it.
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) fail(errno_reason(path_, errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail(errno_reason(path_, errno));
  if (std::string why = type_reason(st.st_mode); !why.empty()) fail(why);
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
  size_ = uint64_t(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

int InputFile::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void InputFile::fail(const std::string& problem) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  throw UserError(role_ + " " + path_.string() + ": " + problem + "; " + fix_);
}

std::vector<char> InputFile::read_all() {
  std::vector<char> bytes(size_);
  uint64_t done = 0;
  while (done < size_) {
    const ssize_t got = ::read(fd_, bytes.data() + done, size_t(size_ - done));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("read failed: " + std::generic_category().message(errno));
    }
    if (got == 0) fail("the file shrank while it was read (another program is writing it)");
    done += uint64_t(got);
  }
  char extra;
  if (::read(fd_, &extra, 1) > 0) fail("the file grew while it was read (another program is writing it)");
  return bytes;
}

}  // namespace zs
