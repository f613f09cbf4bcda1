#include "runtime/simt/fiber_slot.h"

#include <sanitizer/asan_interface.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace zs::simt {

SlotPool::~SlotPool() {
  if (!mapping_) return;
  // Under AddressSanitizer: a fiber that never returned (every fiber's entry frame, and all of an
  // abandoned block's) leaves its frames' redzones poisoned in the shadow, and munmap does not
  // clear them, so a later mapping at these addresses (the symbolizer's, at exit) would be
  // reported as a stack overflow. A no-op in other builds.
  ASAN_UNPOISON_MEMORY_REGION(mapping_, mapping_bytes_);
  munmap(mapping_, mapping_bytes_);
}

void SlotPool::reserve() {
  guard_bytes_ = std::size_t(sysconf(_SC_PAGESIZE));
  // One extra slot of slack so the first slot can be aligned to kSlotBytes.
  mapping_bytes_ = (kMaxSlots + 1) * kSlotBytes;
  void* p = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    throw std::runtime_error(std::string("zs::simt: cannot reserve fiber stacks: ") + std::strerror(errno));
  mapping_ = static_cast<char*>(p);
  auto addr = reinterpret_cast<std::uintptr_t>(mapping_);
  base_ = mapping_ + ((kSlotBytes - addr % kSlotBytes) % kSlotBytes);
  free_.reserve(kMaxSlots);
}

void SlotPool::prepare(std::size_t count) {
  if (count > kMaxSlots) throw std::runtime_error("zs::simt: a block needs at most 1024 fiber slots");
  if (!mapping_) reserve();
  while (prepared_ < count) {
    // A stack overflow must fault, not scribble over the neighbouring fiber's header.
    if (mprotect(slot_base(prepared_), guard_bytes_, PROT_NONE) != 0)
      throw std::runtime_error(std::string("zs::simt: cannot protect a fiber guard page: ") + std::strerror(errno));
    // New slots go under the free ones: the LIFO keeps handing out the cache-hot slots first.
    free_.insert(free_.begin(), uint32_t(prepared_++));
  }
}

void SlotPool::release(SlotHeader* header) {
  auto offset = reinterpret_cast<char*>(header) - base_;
  free_.push_back(uint32_t(std::size_t(offset) / kSlotBytes));
}

void SlotPool::release_all() {
  // The abandoned fibers' frames stay poisoned under AddressSanitizer: clear them for the slots' next users.
  if (base_) ASAN_UNPOISON_MEMORY_REGION(base_, prepared_ * kSlotBytes);
  free_.clear();
  // Highest index first so acquire() hands out slot 0 next, as after a clean block.
  for (std::size_t i = prepared_; i-- > 0;) free_.push_back(uint32_t(i));
}

bool SlotPool::owns(const void* address) const {
  auto a = static_cast<const char*>(address);
  return base_ && a >= base_ && a < base_ + prepared_ * kSlotBytes;
}

}  // namespace zs::simt
