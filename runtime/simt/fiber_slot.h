// Fiber stacks of the emulator, and how device code finds "its" CUDA thread.
//
// Every CUDA thread runs on a fiber whose stack lives in a 64 KiB slot aligned to 64 KiB:
//
//   slot base                                                      slot base + 64 KiB
//   | guard page (PROT_NONE) | stack, growing down ...  | SlotHeader |
//
// Device code reads threadIdx & co. from the header of the slot its stack pointer is in
// (mask the stack pointer, add a constant): the values belong to the RUNNING fiber, whichever
// OS thread runs it, with nothing to rewrite at a context switch. A fiber never changes slot.
// (Staggering the header and stack top per slot, to spread them over cache sets, was measured:
// no gain, as a fiber's hot lines then straddle two pages and cost TLB misses instead.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include <vector_types.h>   // uint3, dim3 (CUDA headers, compiled as plain C++)

namespace zs::simt {

struct ThreadState;
class BlockScheduler;

inline constexpr std::size_t kSlotBytes = 64 * 1024;
inline constexpr std::size_t kSlotHeaderBytes = 128;

struct SlotHeader {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  void* dynamic_smem;
  ThreadState* thread;         // the CUDA thread that owns this fiber now
  BlockScheduler* scheduler;   // the block it belongs to
};
static_assert(sizeof(SlotHeader) <= kSlotHeaderBytes);

inline std::uintptr_t stack_address() {
#if defined(__x86_64__)
  std::uintptr_t sp;
  asm("movq %%rsp, %0" : "=r"(sp));   // not volatile: the slot never changes within a call
  return sp;
#elif defined(__aarch64__)
  std::uintptr_t sp;
  asm("mov %0, sp" : "=r"(sp));
  return sp;
#else
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
#endif
}

inline std::uintptr_t header_address(std::uintptr_t slot_base) { return slot_base + kSlotBytes - kSlotHeaderBytes; }

// The header of the fiber running this code. Only valid inside a kernel launched by LAUNCH.
inline SlotHeader& current_slot() {
  return *reinterpret_cast<SlotHeader*>(header_address(stack_address() & ~std::uintptr_t(kSlotBytes - 1)));
}

// Per OS thread pool of slots, reserved once (MAP_NORESERVE: untouched pages cost nothing) and
// reused LIFO across blocks so a barrier-free kernel keeps running on one cache-hot stack.
class SlotPool {
 public:
  static constexpr std::size_t kMaxSlots = 1024 + 1;   // a block's threads + one spare

  SlotPool() = default;
  ~SlotPool();
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  // Makes sure `count` slots exist (guard pages set up). Throws std::runtime_error when the
  // system refuses; called on the OS thread's own stack, so that acquire() never fails.
  void prepare(std::size_t count);
  SlotHeader* acquire() {   // at most prepare()'s count slots may be in use
    uint32_t i = free_.back();
    free_.pop_back();
    return header_of(i);
  }
  void release(SlotHeader* header);
  void release_all();                    // after a failed block: abandon every fiber

  // The region a fiber's stack may use, for make_fcontext: [top - size, top).
  static void* stack_top(SlotHeader* header) { return header; }
  const void* stack_bottom(SlotHeader* header) const {
    return reinterpret_cast<const char*>(header) + kSlotHeaderBytes - kSlotBytes + guard_bytes_;
  }
  std::size_t stack_size() const { return kSlotBytes - kSlotHeaderBytes - guard_bytes_; }
  // True when `address` lies in one of this pool's slots.
  bool owns(const void* address) const;

 private:
  void reserve();
  char* slot_base(std::size_t i) const { return base_ + i * kSlotBytes; }
  SlotHeader* header_of(std::size_t i) const {
    return reinterpret_cast<SlotHeader*>(header_address(reinterpret_cast<std::uintptr_t>(slot_base(i))));
  }

  char* mapping_ = nullptr;      // what mmap returned (unaligned)
  std::size_t mapping_bytes_ = 0;
  char* base_ = nullptr;         // first 64 KiB-aligned slot
  std::size_t guard_bytes_ = 0;
  std::size_t prepared_ = 0;     // slots whose guard page is set up
  std::vector<uint32_t> free_;   // LIFO
};

}  // namespace zs::simt
