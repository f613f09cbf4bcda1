#include "runtime/simt/intrinsics.h"

#include "runtime/simt/block_scheduler.h"

#include <cstdio>
#include <string>

namespace zs::simt::detail {
namespace {

// The calling CUDA thread. Device code may only run inside a launch: called from host code,
// the stack pointer is in no slot, and this says so instead of reading a random address.
SlotHeader& calling_thread(const char* intrinsic, Site site) {
  if (!BlockScheduler::running_here_owns(reinterpret_cast<const void*>(stack_address())))
    throw std::logic_error(std::string("zs::simt: ") + intrinsic + " at " + site.file + ":" +
                           std::to_string(site.line) + " called outside a kernel launched with LAUNCH");
  return current_slot();
}

}  // namespace

BarrierResult sync_block(Site site, int predicate) {
  SlotHeader& h = calling_thread("__syncthreads", site);
  return h.scheduler->barrier(*h.thread, site, predicate);
}

uint64_t warp_exchange(Site site, WarpOp op, unsigned mask, uint64_t bits, int32_t arg, int width) {
  SlotHeader& h = calling_thread(warp_op_name(op), site);
  return h.scheduler->warp_op(*h.thread, site, op, mask, bits, arg, width);
}

void misaligned_access(Site site, const char* access, const void* address, std::size_t alignment) {
  const auto bits = reinterpret_cast<std::uintptr_t>(address);
  char where[64];
  std::snprintf(where, sizeof where, "%#zx", std::size_t(bits));
  throw std::runtime_error(std::string(access) + " at " + site.file + ":" + std::to_string(site.line) + ": address " +
                           where + " is " + std::to_string(bits % alignment) + " bytes past a " +
                           std::to_string(alignment) + "-byte boundary; a GPU faults on a misaligned " +
                           std::to_string(alignment) + "-byte access (take the scalar path for such pointers)");
}

unsigned active_mask() {
  SlotHeader& h = calling_thread("__activemask", Site{});
  return h.scheduler->live_lanes(*h.thread);
}

}  // namespace zs::simt::detail
