// See interrupt.h. The handler only touches lock-free atomics and calls unlink, signal and raise,
// all async-signal-safe.
#include "runtime/core/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

namespace zs {
namespace {

constexpr int kSlots = 64;
enum SlotState : int { kFree = 0, kFilling = 1, kReady = 2 };

std::atomic<int> g_slot_state[kSlots];
char g_slot_path[kSlots][PATH_MAX];
std::atomic<int> g_graceful_depth{0};
std::atomic<int> g_signal{0};
std::atomic<bool> g_installed{false};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");

void unlink_registered() {
  for (int i = 0; i < kSlots; ++i)
    if (g_slot_state[i].load() == kReady) ::unlink(g_slot_path[i]);
}

extern "C" void on_interrupt(int sig) {
  const int saved_errno = errno;
  const bool first = g_signal.exchange(sig) == 0;
  if (first && g_graceful_depth.load() > 0) {
    errno = saved_errno;
    return;  // the training loop stops at its next step boundary
  }
  unlink_registered();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void install_interrupt_handlers() {
  if (g_installed.exchange(true)) return;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // a read or write the signal interrupts resumes: files stay complete
  for (int sig : {SIGINT, SIGTERM}) ::sigaction(sig, &sa, nullptr);
}

bool interrupt_requested() { return g_signal.load() != 0; }
int interrupt_signal() { return g_signal.load(); }

GracefulStopScope::GracefulStopScope() { g_graceful_depth.fetch_add(1); }
GracefulStopScope::~GracefulStopScope() { g_graceful_depth.fetch_sub(1); }

int register_cleanup_path(const char* path) {
  if (std::strlen(path) >= size_t(PATH_MAX)) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (g_slot_state[i].compare_exchange_strong(expected, kFilling)) {
      std::strcpy(g_slot_path[i], path);
      g_slot_state[i].store(kReady);
      return i;
    }
  }
  return -1;
}

void release_cleanup_path(int slot) {
  if (slot >= 0 && slot < kSlots) g_slot_state[slot].store(kFree);
}

}  // namespace zs
