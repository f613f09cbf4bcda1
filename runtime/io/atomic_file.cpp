// Atomic file output; see atomic_file.h for the conventions.
#include "runtime/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "runtime/core/error.h"
#include "runtime/core/interrupt.h"

namespace zs {
namespace fs = std::filesystem;

namespace {

std::string os_reason(int os_errno) { return std::generic_category().message(os_errno); }

// Folder that holds `path`; "" (a bare file name) means the working directory.
fs::path folder_of(const fs::path& path) {
  fs::path parent = path.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// Unique within this process (counter) and across processes (pid).
fs::path temp_name_for(const fs::path& target, unsigned long serial) {
  // Built with += : GCC 12 gives a false -Wrestrict for "literal" + std::string at -O3.
  std::string name = ".";
  name += target.filename().string();
  name += ".tmp-";
  name += std::to_string(::getpid());
  name += '-';
  name += std::to_string(serial);
  return target.parent_path() / name;
}

std::atomic<unsigned long> g_temp_serial{0};
std::function<void(const fs::path&)> g_commit_observer;

const std::string kSpaceFix = "free some space or choose another folder";

void fsync_folder(const fs::path& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // Some file systems refuse: durability is best effort beyond the data.
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(fs::path target, AtomicWriteOptions options)
    : target_(std::move(target)), options_(options) {
  if (target_.empty() || !target_.has_filename())
    throw UserError("cannot write '" + target_.string() + "': not a file path; give a file name");
  for (;;) {
    temp_ = temp_name_for(target_, g_temp_serial.fetch_add(1));
    // Registered BEFORE it exists, so there is no moment a signal could leave it behind.
    cleanup_slot_ = register_cleanup_path(temp_.c_str());
    // 0666 minus the umask: the final file gets ordinary permissions (mkstemp would give 0600).
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) return;
    const int err = errno;
    release_cleanup_path(cleanup_slot_);  // not ours: never unlink another process's file
    cleanup_slot_ = -1;
    if (err == EEXIST) continue;  // A stale temp from a crashed run of a recycled pid.
    throw UserError("cannot write " + target_.string() + ": " + os_reason(err) +
                    "; check that the folder " + folder_of(target_).string() +
                    " exists and is writable");
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) discard();
}

void AtomicFileWriter::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_.empty()) {
    ::unlink(temp_.c_str());
    temp_.clear();
  }
  release_cleanup_path(cleanup_slot_);
  cleanup_slot_ = -1;
}

void AtomicFileWriter::fail(const std::string& what, int os_errno, const std::string& fix) {
  discard();
  throw UserError("cannot write " + target_.string() + ": " + what + ": " + os_reason(os_errno) + "; " + fix);
}

void AtomicFileWriter::write(const void* data, std::size_t size) {
  if (committed_ || fd_ < 0) throw std::logic_error("AtomicFileWriter::write after commit");
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, bytes, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno, kSpaceFix);
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  if (committed_ || fd_ < 0) throw std::logic_error("AtomicFileWriter::commit called twice");
  if (options_.durable && ::fsync(fd_) != 0) fail("fsync failed", errno, kSpaceFix);
  // close() can be the first to report a deferred write error (NFS, quota): check it.
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail("close failed", errno, kSpaceFix);
  if (g_commit_observer) {
    try {
      g_commit_observer(target_);
    } catch (...) {
      discard();
      throw;
    }
  }
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    fail("rename failed", errno, "check that the path is not a folder and that its folder is writable");
  temp_.clear();
  release_cleanup_path(cleanup_slot_);
  cleanup_slot_ = -1;
  committed_ = true;
  if (options_.durable) fsync_folder(folder_of(target_));
}

void write_bytes_atomic(const fs::path& path, std::span<const std::byte> bytes,
                        AtomicWriteOptions options) {
  AtomicFileWriter writer(path, options);
  writer.write(bytes.data(), bytes.size());
  writer.commit();
}

void write_text_atomic(const fs::path& path, std::string_view text, AtomicWriteOptions options) {
  AtomicFileWriter writer(path, options);
  writer.write(text);
  writer.commit();
}

void write_json_atomic(const fs::path& path, const nlohmann::json& value,
                       AtomicWriteOptions options) {
  write_text_atomic(path, value.dump(2) + "\n", options);
}

void set_commit_observer(std::function<void(const fs::path&)> observer) { g_commit_observer = std::move(observer); }

std::vector<std::string> remove_stale_temporaries(const fs::path& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  const std::string own_pid = std::to_string(::getpid());
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    // ".<target>.tmp-<pid>-<serial>" with all-digit pid and serial.
    const size_t tag = name.rfind(".tmp-");
    if (name.size() < 2 || name[0] != '.' || tag == std::string::npos || tag == 0) continue;
    const std::string rest = name.substr(tag + 5);
    const size_t dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == rest.size()) continue;
    const std::string pid = rest.substr(0, dash), serial = rest.substr(dash + 1);
    auto digits = [](const std::string& s) { return s.find_first_not_of("0123456789") == std::string::npos; };
    if (!digits(pid) || !digits(serial) || pid == own_pid) continue;
    std::error_code rm_ec;
    if (entry.is_regular_file(rm_ec) && fs::remove(entry.path(), rm_ec)) removed.push_back(name);
  }
  return removed;
}

void ensure_output_dir(const fs::path& dir, std::string_view option_name) {
  const std::string who = std::string(option_name) + " " + dir.string();
  if (dir.empty()) throw UserError(std::string(option_name) + ": empty path; give a folder");

  std::error_code ec;
  fs::file_status status = fs::status(dir, ec);
  if (fs::exists(status) && !fs::is_directory(status))
    throw UserError(who + ": exists and is not a directory; choose a folder path");
  if (!fs::exists(status)) {
    fs::create_directories(dir, ec);
    if (ec)
      throw UserError(who + ": cannot create directory: " + ec.message() +
                      "; choose a writable folder");
  }

  // access(W_OK) misjudges root, read-only mounts and ACLs: creating a file is the real test.
  fs::path probe = dir / (".zs-write-probe-" + std::to_string(::getpid()));
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    throw UserError(who + ": cannot write into directory: " + os_reason(err) +
                    "; choose a writable folder");
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace zs
