#include "runtime/simt/block_scheduler.h"

#include "runtime/simt/static_shared.h"

#include <pthread.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "runtime/simt/device_heap.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace zs::simt {

using boost::context::detail::fcontext_t;
using boost::context::detail::jump_fcontext;
using boost::context::detail::make_fcontext;
using boost::context::detail::transfer_t;

namespace {

constexpr std::size_t kSharedAlignment = 256;
constexpr unsigned char kSharedPoisonByte = 0xFF;   // float NaN, int -1
constexpr uint64_t kPoisonBits = ~uint64_t(0);      // what a bad (non-strict) shuffle read returns

bool same_site(Site a, Site b) {
  return a.line == b.line && (a.file == b.file || std::strcmp(a.file, b.file) == 0);
}

std::string where(Site s) { return std::string(s.file) + ":" + std::to_string(s.line); }

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// "0-15,17,20-21"
std::string lane_list(uint32_t lanes) {
  std::string out;
  for (int l = 0; l < 32;) {
    if (!(lanes >> l & 1u)) {
      ++l;
      continue;
    }
    int end = l;
    while (end + 1 < 32 && (lanes >> (end + 1) & 1u)) ++end;
    if (!out.empty()) out += ',';
    out += std::to_string(l);
    if (end > l) {
      out += '-';
      out += std::to_string(end);
    }
    l = end + 1;
  }
  return out.empty() ? "none" : out;
}

thread_local BlockScheduler* tl_running = nullptr;   // the block this OS thread runs now

#if defined(__SANITIZE_ADDRESS__)
void asan_switch_start(void** fake_stack, const void* bottom, std::size_t size) {
  __sanitizer_start_switch_fiber(fake_stack, bottom, size);
}
void asan_switch_finish(void* fake_stack) { __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr); }
// A reused slot still carries the shadow of the frames its last fiber never returned from.
void asan_fresh_stack(const void* bottom, std::size_t size) { __asan_unpoison_memory_region(bottom, size); }
// Only the first `used` bytes of a `capacity`-byte buffer may be touched.
void asan_fence(void* buffer, std::size_t used, std::size_t capacity) {
  __asan_unpoison_memory_region(buffer, used);
  __asan_poison_memory_region(static_cast<char*>(buffer) + used, capacity - used);
}
#else
void asan_switch_start(void**, const void*, std::size_t) {}
void asan_switch_finish(void*) {}
void asan_fresh_stack(const void*, std::size_t) {}
void asan_fence(void*, std::size_t, std::size_t) {}
#endif

// The bounds of the calling OS thread's own stack (AddressSanitizer needs them).
void os_thread_stack(const void*& bottom, std::size_t& size) {
  pthread_attr_t attr;
  void* address = nullptr;
  size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &address, &size);
    pthread_attr_destroy(&attr);
  }
  bottom = address;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ready queue

void BlockScheduler::ReadyQueue::reset(uint32_t capacity) {
  uint32_t size = 1;
  while (size < capacity) size <<= 1;
  if (ids_.size() < size) ids_.resize(size);
  mask_ = uint32_t(ids_.size()) - 1;
  head_ = tail_ = 0;
}

// ---------------------------------------------------------------------------------------------
// block lifetime

BlockScheduler::BlockScheduler() {
  os_thread_stack(os_stack_bottom_, os_stack_size_);
  // A bad device-memory access faults on a fiber's small stack: report it from a signal stack.
  device_heap::prepare_thread();
}

bool BlockScheduler::running_here_owns(const void* address) {
  return tl_running && tl_running->slots_.owns(address);
}

BlockScheduler::~BlockScheduler() { free_dynamic_smem(); }

void BlockScheduler::free_dynamic_smem() {
  if (dynamic_smem_) asan_fence(dynamic_smem_, dynamic_smem_capacity_, dynamic_smem_capacity_);
  std::free(dynamic_smem_);
  dynamic_smem_ = nullptr;
  dynamic_smem_capacity_ = 0;
}

uint64_t BlockScheduler::next_random() { return splitmix64(rng_); }

void BlockScheduler::run(const GridLaunch& launch, uint3 block_idx, uint64_t sequence) {
  struct RunningHere {
    explicit RunningHere(BlockScheduler* s) { tl_running = s; }
    ~RunningHere() { tl_running = nullptr; }
  } running_here(this);
  ++tl_block_serial;   // STATIC_SHARED variables are poisoned afresh for this block
  launch_ = &launch;
  block_idx_ = block_idx;
  strict_ = launch.settings.strict;
  failed_ = false;
  error_.clear();
  thrown_ = nullptr;
  rng_ = launch.settings.seed * 0x9E3779B97F4A7C15ull ^ (sequence + 1) * 0xD1B54A32D192ED03ull;

  const uint32_t n = launch.block.x * launch.block.y * launch.block.z;
  threads_.assign(n, ThreadState{});
  const uint32_t warps = (n + 31) / 32;
  warps_.resize(warps);
  for (uint32_t w = 0; w < warps; ++w) {
    uint32_t lanes = n - w * 32 >= 32 ? 32 : n - w * 32;
    warps_[w].exists = warps_[w].live = lanes == 32 ? ~0u : (1u << lanes) - 1;
    warps_[w].pending_count = 0;
  }
  live_ = n;
  at_barrier_ = at_warp_op_ = 0;

  if (launch.dynamic_smem > 0) {
    // At least kSharedAlignment bytes past the end: a red zone AddressSanitizer watches.
    if (launch.dynamic_smem + kSharedAlignment > dynamic_smem_capacity_) {
      free_dynamic_smem();
      std::size_t bytes = (launch.dynamic_smem / kSharedAlignment + 2) * kSharedAlignment;
      dynamic_smem_ = std::aligned_alloc(kSharedAlignment, bytes);
      if (!dynamic_smem_) throw std::bad_alloc();
      dynamic_smem_capacity_ = bytes;
    }
    asan_fence(dynamic_smem_, launch.dynamic_smem, dynamic_smem_capacity_);
    // Poison: a read of shared memory no thread wrote shows up as NaN / -1.
    std::memset(dynamic_smem_, kSharedPoisonByte, launch.dynamic_smem);
  }

  ready_.reset(n);
  queue_all_with(ThreadStatus::NotStarted);
  slots_.prepare(n);

  // The scheduler only steps in when no thread is ready: fibers hand over to each other.
  for (;;) {
    if (failed_) break;
    if (ready_.empty()) {
      if (!release_barrier()) break;
      continue;
    }
    switch_away(&scheduler_context_);
  }

  if (failed_) {
    slots_.release_all();   // abandon the parked fibers; their stacks are reused
    if (thrown_) {
      try {
        std::rethrow_exception(thrown_);
      } catch (const std::exception& e) {
        error_ += e.what();
      } catch (...) {
        error_ += "an exception that is not a std::exception";
      }
    }
    throw KernelError(error_);
  }
}

// Context switches. Whoever switches passes where its own context must be stored (its
// ThreadState, or scheduler_context_), or null when it is finished; whoever resumes stores it.
// Under AddressSanitizer every switch is announced with the target's stack bounds.
void BlockScheduler::switch_away(fcontext_t* save_to) {
  void* fake_stack = nullptr;
  void** keep_fake_stack = save_to ? &fake_stack : nullptr;   // a finished fiber drops its own
  transfer_t back;
  if (failed_ || ready_.empty()) {
    asan_switch_start(keep_fake_stack, os_stack_bottom_, os_stack_size_);
    back = jump_fcontext(scheduler_context_, save_to);
  } else if (ThreadState& next = threads_[ready_.front()]; next.status == ThreadStatus::NotStarted) {
    SlotHeader* slot = slots_.acquire();
    slot->scheduler = this;
    asan_fresh_stack(slots_.stack_bottom(slot), slots_.stack_size());
    asan_switch_start(keep_fake_stack, slots_.stack_bottom(slot), slots_.stack_size());
    back = jump_fcontext(make_fcontext(SlotPool::stack_top(slot), slots_.stack_size(), &runner_entry), save_to);
  } else {
    ready_.pop();
    next.status = ThreadStatus::Running;
    asan_switch_start(keep_fake_stack, slots_.stack_bottom(next.slot), slots_.stack_size());
    back = jump_fcontext(next.context, save_to);
  }
  asan_switch_finish(fake_stack);
  if (back.data) *static_cast<fcontext_t*>(back.data) = back.fctx;
}

// The fiber entry: starts not-yet-started threads one after another on this fiber.
void runner_entry(transfer_t from) {
  asan_switch_finish(nullptr);
  if (from.data) *static_cast<boost::context::detail::fcontext_t*>(from.data) = from.fctx;
  current_slot().scheduler->run_threads_here();
}

void BlockScheduler::run_threads_here() {
  SlotHeader& slot = current_slot();
  while (!ready_.empty() && threads_[ready_.front()].status == ThreadStatus::NotStarted) {
    uint32_t tid = ready_.pop();
    start_thread(tid, slot);
    bool threw = false;
    try {
      launch_->body.run(launch_->body.closure);
    } catch (...) {
      thrown_ = std::current_exception();
      threw = true;
    }
    if (threw) {   // leave the catch block first: never switch fibers inside one
      begin_error(false);
      error_ += thread_name(tid) + " threw: ";
      fail(threads_[tid]);
    }
    thread_exited(tid);
  }
  // Nothing left to start here, so switch_away() cannot hand this very slot to a new runner
  // (it only starts one when the queue's front has not started).
  slots_.release(&slot);
  switch_away(nullptr);
  __builtin_unreachable();
}

void BlockScheduler::start_thread(uint32_t tid, SlotHeader& slot) {
  const dim3 b = launch_->block;
  slot.thread_idx = uint3{tid % b.x, tid / b.x % b.y, tid / (b.x * b.y)};
  slot.block_idx = block_idx_;
  slot.block_dim = b;
  slot.grid_dim = launch_->grid;
  slot.dynamic_smem = launch_->dynamic_smem ? dynamic_smem_ : nullptr;   // none requested: fault on use
  slot.thread = &threads_[tid];
  threads_[tid].slot = &slot;
  threads_[tid].status = ThreadStatus::Running;
}

void BlockScheduler::thread_exited(uint32_t tid) {
  ThreadState& t = threads_[tid];
  t.status = ThreadStatus::Exited;
  --live_;
  WarpState& w = warps_[tid / 32];
  const uint32_t bit = 1u << (tid % 32);
  w.live &= ~bit;
  for (uint32_t i = 0; i < w.pending_count; ++i) {
    Collective& c = w.pending[i];
    if (!(c.mask & bit)) continue;
    if (strict_) {
      begin_error(true);
      error_ += thread_name(tid) + " (lane " + std::to_string(tid % 32) + ") exited while lanes " +
                lane_list(c.arrived) + " of its warp wait for it in " + warp_op_name(c.op) + " (mask " +
                hex(c.mask) + ") at " + where(c.site);
      fail(t);
    }
    if ((c.arrived & w.live & c.mask) == (w.live & c.mask)) {
      complete(w, i, tid / 32, nullptr);
      --i;   // complete() moved the last pending collective into slot i
    }
  }
}

void BlockScheduler::park(ThreadState& t) { switch_away(&t.context); }

void BlockScheduler::fail(ThreadState& t) {
  failed_ = true;
  switch_away(&t.context);   // to the scheduler, which never resumes this fiber
  __builtin_unreachable();
}

// ---------------------------------------------------------------------------------------------
// ordering

// Queues `tids` (ascending) in the order policy's order, behind the queued threads, or ahead
// of them when `ahead`.
void BlockScheduler::queue_in_order(uint32_t* tids, uint32_t count, bool ahead) {
  if (launch_->settings.order == Order::Random)
    for (uint32_t i = count; i > 1; --i) std::swap(tids[i - 1], tids[next_random() % i]);
  const bool reverse = launch_->settings.order == Order::Reverse;
  // Pushing at the front reverses a sequence, so walk it the other way round.
  if (reverse != ahead) {
    for (uint32_t i = count; i-- > 0;) ahead ? ready_.push_front(tids[i]) : ready_.push(tids[i]);
  } else {
    for (uint32_t i = 0; i < count; ++i) ahead ? ready_.push_front(tids[i]) : ready_.push(tids[i]);
  }
}

void BlockScheduler::queue_all_with(ThreadStatus status) {
  scratch_.clear();
  for (uint32_t tid = 0; tid < threads_.size(); ++tid)
    if (threads_[tid].status == status) scratch_.push_back(tid);
  queue_in_order(scratch_.data(), uint32_t(scratch_.size()), false);
}

// ---------------------------------------------------------------------------------------------
// __syncthreads

BarrierResult BlockScheduler::barrier(ThreadState& t, Site site, int predicate) {
  t.site = site;
  t.arg = predicate != 0;
  t.status = ThreadStatus::AtBarrier;
  ++at_barrier_;
  park(t);
  return t.barrier;
}

// Called by the scheduler when no thread can run.
bool BlockScheduler::release_barrier() {
  if (live_ == 0) return false;
  if (at_warp_op_ > 0) {
    describe_deadlock();
    failed_ = true;
    return false;
  }
  // Every live thread waits at a barrier.
  const uint32_t n = uint32_t(threads_.size());
  uint32_t first = 0;
  while (threads_[first].status != ThreadStatus::AtBarrier) ++first;
  const Site site = threads_[first].site;
  if (strict_) {
    for (uint32_t tid = first + 1; tid < n; ++tid) {
      const ThreadState& t = threads_[tid];
      if (t.status == ThreadStatus::AtBarrier && !same_site(t.site, site)) {
        uint32_t here = 0, there = 0;
        for (const ThreadState& u : threads_)
          if (u.status == ThreadStatus::AtBarrier) (same_site(u.site, site) ? here : there)++;
        begin_error(true);
        error_ += "threads wait at different __syncthreads: " + std::to_string(here) + " at " + where(site) +
                  " (e.g. " + thread_name(first) + "), " + std::to_string(there) + " elsewhere, e.g. " +
                  thread_name(tid) + " at " + where(t.site) +
                  "; every thread of a block must reach the same barrier";
        failed_ = true;
        return false;
      }
    }
    if (live_ < n) {
      uint32_t exited = 0;
      while (threads_[exited].status != ThreadStatus::Exited) ++exited;
      begin_error(true);
      error_ += std::to_string(n - live_) + " of " + std::to_string(n) + " threads exited (e.g. " +
                thread_name(exited) + ") before the others reached __syncthreads at " + where(site) +
                "; every thread of a block must reach each barrier (return after it, not before)";
      failed_ = true;
      return false;
    }
  }
  BarrierResult result;
  for (const ThreadState& t : threads_)
    if (t.status == ThreadStatus::AtBarrier) {
      ++result.total;
      result.count += t.arg;
    }
  for (ThreadState& t : threads_)
    if (t.status == ThreadStatus::AtBarrier) {
      t.barrier = result;
      t.status = ThreadStatus::Ready;
    }
  at_barrier_ = 0;
  queue_all_with(ThreadStatus::Ready);
  return true;
}

// ---------------------------------------------------------------------------------------------
// warp ops

uint64_t BlockScheduler::warp_op(ThreadState& t, Site site, WarpOp op, uint32_t mask, uint64_t value,
                                 int32_t arg, int width) {
  const uint32_t tid = tid_of(t), warp = tid / 32, lane = tid % 32, bit = 1u << lane;
  WarpState& w = warps_[warp];
  t.site = site;
  t.op = op;
  t.value = value;
  t.arg = arg;

  // Error messages are built in error_ before fail(): a temporary alive across the switch
  // would never be destroyed (the fiber is abandoned).
  auto violation = [&](bool strict_only) {
    begin_error(strict_only);
    error_ += thread_name(tid) + " (lane " + std::to_string(lane) + ") at " + where(site) + ": " +
              warp_op_name(op) + " ";
  };
  if (is_shuffle(op) && (width < 1 || width > 32 || (width & (width - 1)))) {
    violation(false);
    error_ += "width " + std::to_string(width) + " is not a power of two from 1 to 32";
    fail(t);
  }
  if (!(mask & bit)) {
    if (strict_) {
      violation(true);
      error_ += "with mask " + hex(mask) + ", which does not name the calling lane";
      fail(t);
    }
    mask |= bit;
  }
  if (mask & ~w.exists) {
    if (strict_) {
      violation(true);
      error_ += "with mask " + hex(mask) + ", which names lanes " + lane_list(mask & ~w.exists) +
                " that do not exist (the block has " + std::to_string(threads_.size()) + " threads)";
      fail(t);
    }
    mask &= w.exists;
  }
  if (strict_ && (mask & ~w.live)) {
    violation(true);
    error_ += "with mask " + hex(mask) + ", which names lanes " + lane_list(mask & ~w.live) +
              " that have already exited";
    fail(t);
  }

  uint32_t index = 0;
  while (index < w.pending_count && w.pending[index].mask != mask) ++index;
  if (index == w.pending_count) {
    w.pending[index] = Collective{mask, 0, op, width, site};
    ++w.pending_count;
  }
  Collective& c = w.pending[index];
  if (c.op != op || c.width != width) {
    begin_error(false);
    error_ += "lanes of warp " + std::to_string(warp) + " meet with mask " + hex(mask) + " at different warp ops: " +
              warp_op_name(c.op) + " (width " + std::to_string(c.width) + ") at " + where(c.site) + " and " +
              warp_op_name(op) + " (width " + std::to_string(width) + ") at " + where(site) + " (" +
              thread_name(tid) + ")";
    fail(t);
  }
  c.arrived |= bit;
  const uint32_t needed = mask & w.live;
  if ((c.arrived & needed) == needed) {
    complete(w, index, warp, &t);
  } else {
    t.status = ThreadStatus::AtWarpOp;
    ++at_warp_op_;
    park(t);
  }
  return t.result;
}

// Computes the results of pending collective `index` of warp `warp` and wakes its lanes.
// `current` is the lane that arrived last (it goes on running), or null when the collective
// completes because a lane exited (non-strict mode).
void BlockScheduler::complete(WarpState& w, uint32_t index, uint32_t warp, ThreadState* current) {
  const Collective c = w.pending[index];
  w.pending[index] = w.pending[--w.pending_count];
  ThreadState* lanes = &threads_[warp * 32];

  if (is_shuffle(c.op)) {
    for (uint32_t l = 0; l < 32; ++l) {
      if (!(c.arrived >> l & 1u)) continue;
      ThreadState& t = lanes[l];
      const int64_t segment = l & ~uint32_t(c.width - 1), me = l;
      int64_t src = me;
      switch (c.op) {
        case WarpOp::ShflIdx: src = segment + (t.arg & (c.width - 1)); break;
        case WarpOp::ShflUp: src = me - int64_t(uint32_t(t.arg)); if (src < segment) src = me; break;
        case WarpOp::ShflDown: src = me + int64_t(uint32_t(t.arg)); if (src >= segment + c.width) src = me; break;
        case WarpOp::ShflXor: src = me ^ int64_t(uint32_t(t.arg) & 31u); if (src >= segment + c.width) src = me; break;
        default: break;
      }
      if (src == me) {
        t.result = t.value;
      } else if (c.arrived >> src & 1u) {
        t.result = lanes[src].value;
      } else {
        // Reads a lane outside the mask (or one that exited, in non-strict mode): undefined.
        if (strict_ && current) {
          const uint32_t src_tid = warp * 32 + uint32_t(src);
          const char* why = !(w.exists >> src & 1u) ? "does not exist"
                          : !(w.live >> src & 1u)   ? "has exited"
                                                    : "is not in the mask";
          begin_error(true);
          error_ += thread_name(warp * 32 + l) + " (lane " + std::to_string(l) + ") at " + where(t.site) + ": " +
                    warp_op_name(c.op) + " with mask " + hex(c.mask) + " reads lane " + std::to_string(src) +
                    ", which " + why;
          if (w.exists >> src & 1u) error_ += " (" + thread_name(src_tid) + ")";
          error_ += "; a shuffle may only read lanes of its mask";
          fail(*current);
        }
        t.result = kPoisonBits;
      }
    }
  } else if (c.op != WarpOp::SyncWarp) {
    uint32_t ballot = 0;
    for (uint32_t l = 0; l < 32; ++l)
      if ((c.arrived >> l & 1u) && lanes[l].arg != 0) ballot |= 1u << l;
    uint64_t r = ballot;
    if (c.op == WarpOp::Any) r = ballot != 0;
    if (c.op == WarpOp::All) r = ballot == (c.arrived & w.live);
    for (uint32_t l = 0; l < 32; ++l)
      if (c.arrived >> l & 1u) lanes[l].result = r;
  }

  uint32_t woken[32];
  uint32_t count = 0;
  for (uint32_t l = 0; l < 32; ++l) {
    ThreadState& t = lanes[l];
    if ((c.arrived >> l & 1u) && &t != current && t.status == ThreadStatus::AtWarpOp) {
      t.status = ThreadStatus::Ready;
      woken[count++] = warp * 32 + l;
    }
  }
  at_warp_op_ -= count;
  // The lanes go on at once, as the warp would on a GPU: only 32 fibers stay hot between two
  // warp ops instead of the whole block. The random order also lets other warps cut in.
  const bool ahead = launch_->settings.order != Order::Random || next_random() % 2 == 0;
  queue_in_order(woken, count, ahead);
}

// ---------------------------------------------------------------------------------------------
// messages

void BlockScheduler::begin_error(bool strict_only) {
  const GridLaunch& L = *launch_;
  error_ = "zs::simt: kernel " + std::string(L.kernel_name) + " launched at " + where(L.launch_site) +
           ", block (" + std::to_string(block_idx_.x) + "," + std::to_string(block_idx_.y) + "," +
           std::to_string(block_idx_.z) + ") of grid (" + std::to_string(L.grid.x) + "," +
           std::to_string(L.grid.y) + "," + std::to_string(L.grid.z) + "), order " +
           to_string(L.settings.order, L.settings.seed) + ": ";
  if (strict_only) error_ += "[strict mode] ";
}

std::string BlockScheduler::thread_name(uint32_t tid) const {
  const dim3 b = launch_->block;
  return "thread (" + std::to_string(tid % b.x) + "," + std::to_string(tid / b.x % b.y) + "," +
         std::to_string(tid / (b.x * b.y)) + ")";
}

std::string BlockScheduler::whereabouts(uint32_t tid) const {
  const ThreadState& t = threads_[tid];
  switch (t.status) {
    case ThreadStatus::AtBarrier: return "wait at __syncthreads " + where(t.site);
    case ThreadStatus::AtWarpOp: return std::string("wait in ") + warp_op_name(t.op) + " at " + where(t.site);
    case ThreadStatus::Exited: return "have exited";
    default: return "can run";
  }
}

void BlockScheduler::describe_deadlock() {
  begin_error(false);
  error_ += "deadlock: no thread can run.";
  int reported = 0;
  for (uint32_t wi = 0; wi < warps_.size() && reported < 4; ++wi) {
    const WarpState& w = warps_[wi];
    for (uint32_t i = 0; i < w.pending_count && reported < 4; ++i, ++reported) {
      const Collective& c = w.pending[i];
      error_ += " Warp " + std::to_string(wi) + ": lanes " + lane_list(c.arrived) + " wait in " +
                warp_op_name(c.op) + " (mask " + hex(c.mask) + ") at " + where(c.site) + ", but";
      // The missing lanes, grouped by where they are.
      std::vector<std::pair<std::string, uint32_t>> groups;
      for (uint32_t l = 0; l < 32; ++l) {
        if (!((c.mask & ~c.arrived) >> l & 1u)) continue;
        std::string story = whereabouts(wi * 32 + l);
        auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == story; });
        if (it == groups.end()) groups.emplace_back(std::move(story), 1u << l);
        else it->second |= 1u << l;
      }
      for (std::size_t g = 0; g < groups.size(); ++g)
        error_ += (g ? "; lanes " : " lanes ") + lane_list(groups[g].second) + " " + groups[g].first;
      error_ += ".";
    }
  }
  if (at_barrier_ > 0)
    for (uint32_t tid = 0; tid < threads_.size(); ++tid)
      if (threads_[tid].status == ThreadStatus::AtBarrier) {
        error_ += " In all, " + std::to_string(at_barrier_) + " thread(s) wait at __syncthreads, e.g. " +
                  thread_name(tid) + " at " + where(threads_[tid].site) + ".";
        break;
      }
}

}  // namespace zs::simt
