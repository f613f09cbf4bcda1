// Atomic file output: a reader (or a crash) never sees a half-written file.
//
// Conventions:
// - Every writer creates a temporary file in the SAME folder as the target (so rename(2) stays
//   on one file system and is atomic), writes it completely, optionally fsyncs it, then renames
//   it over the target. On any failure the temporary file is removed and the old target, if
//   any, is left untouched.
// - Temporary names look like ".<target name>.tmp-<pid>-<counter>": hidden, unique per process.
//   Each is registered with the signal handler (runtime/core/interrupt.h) while it exists, so a
//   SIGINT/SIGTERM that kills the process removes it; a SIGKILL's leftovers are removed by the
//   next run in that folder (remove_stale_temporaries).
// - I/O failures (full disk, read-only folder, missing folder) are zs::UserError naming the file,
//   the OS reason and a fix; misuse of the API (write after commit) is std::logic_error.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace zs {

struct AtomicWriteOptions {
  // fsync the data (and the folder after the rename) before returning: survives a power cut,
  // at the cost of a few milliseconds. Off by default; checkpoints turn it on.
  bool durable = false;
};

// Streaming form, for writers that produce their output in pieces (PNG encoder, large NPY).
// Usage: AtomicFileWriter w(path); w.write(...); ...; w.commit();
// Destroying the writer without commit() discards the temporary file.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::filesystem::path target, AtomicWriteOptions options = {});
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Flushes, optionally fsyncs, closes and renames onto the target.
  void commit();

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  void discard() noexcept;
  [[noreturn]] void fail(const std::string& what, int os_errno, const std::string& fix);

  std::filesystem::path target_;
  std::filesystem::path temp_;
  AtomicWriteOptions options_;
  int fd_ = -1;
  int cleanup_slot_ = -1;  // the temporary's entry in the signal handler's cleanup table
  bool committed_ = false;
};

void write_bytes_atomic(const std::filesystem::path& path, std::span<const std::byte> bytes,
                        AtomicWriteOptions options = {});
void write_text_atomic(const std::filesystem::path& path, std::string_view text,
                       AtomicWriteOptions options = {});
// Pretty-printed with a 2-space indent and a trailing newline.
void write_json_atomic(const std::filesystem::path& path, const nlohmann::json& value,
                       AtomicWriteOptions options = {});

// Makes sure `dir` exists (creating parents) and that files can be created in it.
// `option_name` is how the user named it (e.g. "--out"), so the message points at the fix:
//   "--out /x: cannot create directory: Permission denied; choose a writable folder"
// Called with the target path just before any writer of this file renames a finished temporary
// onto it (output_set.h uses it to replace a previous run's outputs as a set); nullptr: none.
void set_commit_observer(std::function<void(const std::filesystem::path&)> observer);

// Removes the temporaries (".<name>.tmp-<pid>-<n>") that processes other than this one left in
// `dir` when they were killed (SIGKILL, power cut). Call it only while holding dir's lock
// (out_lock.h), so no live writer's file is touched. Returns the names removed.
std::vector<std::string> remove_stale_temporaries(const std::filesystem::path& dir);

void ensure_output_dir(const std::filesystem::path& dir, std::string_view option_name = "--out");

}  // namespace zs
