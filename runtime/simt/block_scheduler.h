// Runs one thread block of a grid on the calling OS thread: one fiber per CUDA thread.
//
// Scheduling. A ready queue holds the threads that may run, in the order chosen by the
// settings (forward, reverse, seeded random; a fresh permutation after every barrier). A thread
// runs until it parks at a __syncthreads or a warp op, or exits; a parking fiber switches
// straight to the next ready one, and only when none is ready does control return to the
// scheduler loop (on the OS thread's own stack), which releases a barrier or reports a
// deadlock. Not-yet-started threads need no fiber of their own: a "runner" fiber starts the
// next one each time its current thread exits, so a kernel without barriers pays one fiber
// start per run of threads, not one switch per thread.
//   __syncthreads: park; when nothing can run and every live thread waits at a barrier, the
//     barrier releases (strict mode first checks: same site, no thread exited).
//   warp ops: each lane deposits its value and parks; the last lane of the mask to arrive
//     computes every lane's result and wakes the others, queued in the order policy's order at
//     the front of the queue (random order: front or back, by a coin flip).
//   nothing can run, yet threads wait on warp ops: deadlock, reported with every waiting site.
// Errors are never thrown on a fiber (exceptions cannot cross stacks): the fiber records the
// message and switches away for good; run() then abandons the block's fibers (destructors of
// their locals do not run) and throws KernelError on the OS thread's stack.
//
// What fails a block. Always: a deadlock (warp op whose lanes can never all arrive), lanes
// meeting with one mask at different warp ops, a shuffle width that is not a power of two, an
// exception thrown by device code (e.g. __trap()). Strict mode only (each is undefined
// behaviour in CUDA; the message names the intrinsic's file:line):
//   - threads of a block waiting at different __syncthreads call sites;
//   - a barrier released while some threads of the block have exited;
//   - a warp op whose mask omits the calling lane, names lanes that do not exist or have
//     exited, or a lane that exits while others wait for it in a warp op;
//   - a shuffle reading a lane outside its mask (one that exited, or never joined).
// Without strict mode those proceed the way hardware tends to: barriers count the live threads,
// masks are trimmed to live lanes, undefined shuffle reads return all-ones bits.
//
// One BlockScheduler per OS thread, reused for every block that thread runs, so the `static
// thread_local` storage of STATIC_SHARED variables is the running block's shared memory; run()
// counts block starts in tl_block_serial, which has those variables poisoned for every block.
#pragma once
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include <boost/context/detail/fcontext.hpp>

#include "runtime/simt/diagnostics.h"
#include "runtime/simt/fiber_slot.h"
#include "runtime/simt/settings.h"
#include "runtime/simt/warp_op.h"

namespace zs::simt {

// The type-erased kernel call: body(closure) runs the kernel for the current CUDA thread.
struct KernelBody {
  void (*run)(const void* closure) = nullptr;
  const void* closure = nullptr;
};

// What every block of one launch shares.
struct GridLaunch {
  dim3 grid, block;
  std::size_t dynamic_smem = 0;
  KernelBody body;
  const char* kernel_name = "?";
  Site launch_site;
  Settings settings;
};

// Entry point of every fiber (a "runner": see above).
void runner_entry(boost::context::detail::transfer_t from);

enum class ThreadStatus : uint8_t { NotStarted, Ready, Running, AtBarrier, AtWarpOp, Exited };

struct ThreadState {
  boost::context::detail::fcontext_t context = nullptr;   // valid while parked
  SlotHeader* slot = nullptr;                              // its fiber, once started
  Site site;                        // where it is parked
  uint64_t value = 0;               // warp op: deposited value
  uint64_t result = 0;              // warp op: result
  BarrierResult barrier;            // __syncthreads: result
  int32_t arg = 0;                  // srcLane / delta / laneMask / predicate
  WarpOp op = WarpOp::SyncWarp;
  ThreadStatus status = ThreadStatus::NotStarted;
};

class BlockScheduler {
 public:
  BlockScheduler();
  ~BlockScheduler();
  BlockScheduler(const BlockScheduler&) = delete;
  BlockScheduler& operator=(const BlockScheduler&) = delete;

  // Runs block `block_idx` (dispatch number `sequence`, which seeds the random order) to
  // completion. Throws KernelError when it cannot complete.
  void run(const GridLaunch& launch, uint3 block_idx, uint64_t sequence);

  // ---- called on the fibers, by the intrinsics (device_api.cpp) ----
  BarrierResult barrier(ThreadState& t, Site site, int predicate);
  uint64_t warp_op(ThreadState& t, Site site, WarpOp op, uint32_t mask, uint64_t value, int32_t arg, int width);
  uint32_t live_lanes(const ThreadState& t) const { return warps_[warp_of(t)].live; }
  // True when `address` is on a fiber stack of the block this OS thread is running now.
  static bool running_here_owns(const void* address);
  // The launch of the block running now (fault reports, device_heap.cpp); ask only from its fibers.
  const GridLaunch* running_launch() const { return launch_; }

 private:
  struct Collective {   // a warp op some lanes of a warp wait in
    uint32_t mask = 0, arrived = 0;
    WarpOp op = WarpOp::SyncWarp;
    int width = 32;
    Site site;
  };
  struct WarpState {
    uint32_t exists = 0, live = 0;
    uint32_t pending_count = 0;
    Collective pending[32];   // each lane waits in at most one
  };
  // The threads that may run next; each thread is queued at most once.
  class ReadyQueue {
   public:
    void reset(uint32_t capacity);
    bool empty() const { return head_ == tail_; }
    uint32_t front() const { return ids_[head_ & mask_]; }
    uint32_t pop() { return ids_[head_++ & mask_]; }
    void push(uint32_t id) { ids_[tail_++ & mask_] = id; }
    void push_front(uint32_t id) { ids_[--head_ & mask_] = id; }

   private:
    std::vector<uint32_t> ids_;
    uint32_t mask_ = 0, head_ = 0, tail_ = 0;
  };

  friend void runner_entry(boost::context::detail::transfer_t from);
  [[noreturn]] void run_threads_here();
  void switch_away(boost::context::detail::fcontext_t* save_to);
  void start_thread(uint32_t tid, SlotHeader& slot);
  void thread_exited(uint32_t tid);
  void park(ThreadState& t);
  [[noreturn]] void fail(ThreadState& t);   // message already in error_
  bool release_barrier();                   // false: block done or failed
  void complete(WarpState& w, uint32_t index, uint32_t warp, ThreadState* current);
  void queue_in_order(uint32_t* tids, uint32_t count, bool ahead);
  void queue_all_with(ThreadStatus status);

  uint32_t tid_of(const ThreadState& t) const { return uint32_t(&t - threads_.data()); }
  uint32_t warp_of(const ThreadState& t) const { return tid_of(t) / 32; }
  uint64_t next_random();
  void free_dynamic_smem();

  // messages
  void begin_error(bool strict_only);
  std::string thread_name(uint32_t tid) const;
  std::string whereabouts(uint32_t tid) const;
  void describe_deadlock();

  SlotPool slots_;
  std::vector<ThreadState> threads_;
  std::vector<WarpState> warps_;
  std::vector<uint32_t> scratch_;
  ReadyQueue ready_;
  boost::context::detail::fcontext_t scheduler_context_ = nullptr;
  const void* os_stack_bottom_ = nullptr;   // the scheduler's stack, for AddressSanitizer
  std::size_t os_stack_size_ = 0;
  const GridLaunch* launch_ = nullptr;
  uint3 block_idx_{};
  void* dynamic_smem_ = nullptr;
  std::size_t dynamic_smem_capacity_ = 0;
  uint32_t live_ = 0, at_barrier_ = 0, at_warp_op_ = 0;
  uint64_t rng_ = 0;
  bool strict_ = true;
  bool failed_ = false;
  std::string error_;
  std::exception_ptr thrown_;
};

}  // namespace zs::simt
