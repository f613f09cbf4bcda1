// What the emulated device is doing right now on this OS thread: the queued operation being run
// (a kernel, a copy, a memset) and, for work replayed from a graph, the graph launch. Fault
// reports (device_heap.h) name it as the access site of a bad device-memory access.
#pragma once
#include "runtime/simt/diagnostics.h"

namespace zs::simt {

struct Activity {
  const char* kind = nullptr;   // "kernel", "cudaMemcpyAsync", "cudaMemsetAsync", ... ; nullptr: host code
  const char* name = nullptr;   // the kernel's name, for kernels
  Site site;                    // where the operation was issued (LAUNCH, the API call)
  const char* via = nullptr;    // "graph replay" when a graph launch runs it; nullptr otherwise
  Site via_site;                // where that graph was launched
};

// The activity of the calling OS thread (kind == nullptr when no device work runs on it).
Activity& current_activity();

// Sets the calling thread's activity for a scope (nests: restores the previous one).
class ScopedActivity {
 public:
  explicit ScopedActivity(const Activity& a) : saved_(current_activity()) { current_activity() = a; }
  ~ScopedActivity() { current_activity() = saved_; }
  ScopedActivity(const ScopedActivity&) = delete;
  ScopedActivity& operator=(const ScopedActivity&) = delete;

 private:
  Activity saved_;
};

}  // namespace zs::simt
