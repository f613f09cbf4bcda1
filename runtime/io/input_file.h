// Opening a file the user named, as the one gate every reader goes through (IDX, safetensors, NPY).
//
// Why: a folder, a FIFO, a device, a socket, a dangling symlink or a symlink loop where a file
// should be must each be refused BEFORE any read, with a message naming what the path really is
// (a FIFO would block forever, a device never ends, a folder fails deep inside a stream with an
// internal error). Only regular files pass, and the caller learns the file's size, so every read
// is bounded by it (a header claiming more than the file holds is refused without allocating).
//
// Errors are zs::UserError "<role> <path>: <problem>; <fix>", e.g.
//   "checkpoint out/ckpt: is a folder, not a file; pass the model.safetensors inside it to --resume"
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace zs {

// Describes why `path` cannot be read as a regular file ("is a folder, not a file", "is a symlink
// loop", ...) or returns "" when it is a readable-looking regular file (following symlinks).
std::string non_regular_reason(const std::filesystem::path& path);

// An open, read-only descriptor of a regular file and the size it had when opened.
class InputFile {
 public:
  // role: what the file is to the user ("checkpoint", "NPY file", "IDX file");
  // fix: what to do about a bad path ("pass another --resume file").
  InputFile(const std::filesystem::path& path, std::string role, std::string fix);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  // Reads the whole file (exactly size() bytes; a file that shrinks or grows meanwhile is refused).
  std::vector<char> read_all();
  // Hands the descriptor to the caller (e.g. gzdopen), who then owns and closes it.
  int release();

  // Throws "<role> <path>: <problem>; <fix>".
  [[noreturn]] void fail(const std::string& problem);

 private:
  std::filesystem::path path_;
  std::string role_, fix_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace zs
