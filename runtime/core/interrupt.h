// SIGINT / SIGTERM: never leave a half-written file behind, and stop training cleanly.
//
// Two modes, chosen by whether a GracefulStopScope is alive:
// - inside one (the training loop), the first signal only sets a flag; the loop checks it at each
//   step boundary and after each checkpoint, and stops by throwing Interrupted, so every file being
//   written is completed or discarded by the normal unwinding and the last complete checkpoint stays;
// - outside one (loading, KMeans, figures), or at a second signal, the handler unlinks every
//   registered temporary file (and the --out lock) and dies of the signal at once.
// SIGKILL cannot be caught: its leftovers are removed by the next run (atomic_file.h,
// remove_stale_temporaries).
#pragma once
#include <stdexcept>
#include <string>

namespace zs {

// Installs the SIGINT and SIGTERM handlers (once; later calls do nothing).
void install_interrupt_handlers();

// True once SIGINT or SIGTERM arrived inside a GracefulStopScope; the signal's number.
bool interrupt_requested();
int interrupt_signal();

class GracefulStopScope {
 public:
  GracefulStopScope();
  ~GracefulStopScope();
  GracefulStopScope(const GracefulStopScope&) = delete;
  GracefulStopScope& operator=(const GracefulStopScope&) = delete;
};

// Thrown at a step boundary after a signal; the driver prints what() and exits 128 + signal.
struct Interrupted : std::runtime_error {
  Interrupted(const std::string& what, int sig) : std::runtime_error(what), signal(sig) {}
  int signal;
};

// Files the handler unlinks before dying (temporaries being written, the --out lock).
// register_cleanup_path returns a slot (or -1 when the table is full: the file is then only
// cleaned by the next run); release_cleanup_path frees it. Async-signal-safe on the handler side.
int register_cleanup_path(const char* path);
void release_cleanup_path(int slot);

}  // namespace zs
