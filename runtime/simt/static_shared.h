// Static shared memory of emulated kernels (STATIC_SHARED in simt.h).
//
// A kernel's static shared variable is a `static thread_local` object: one OS thread runs one
// block at a time with all of its fibers, so that object IS the running block's shared memory.
// Left alone it would start zeroed and then keep the previous block's values, which hides reads
// of elements no thread of the block wrote (a GPU gives garbage there). So every block sees it
// poisoned: BlockScheduler::run counts block starts in tl_block_serial, each variable carries the
// serial of the block it was last poisoned for, and the first fiber of a block to pass the
// declaration poisons it. No fiber of that block can have written it before (it has to pass the
// declaration to name it), and later passes, by that fiber or others, find the stamp current.
// Cost per pass: one thread-local load and a compare.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace zs::simt {

// Blocks started on this OS thread so far (BlockScheduler::run increments it before a block runs).
inline thread_local uint64_t tl_block_serial = 0;

// Floating-point elements read as NaN; integers as 0xA5A5...: recognisable, and neither 0 nor -1,
// the values a forgotten initialisation most often gets away with.
inline constexpr unsigned char kSharedFloatPoison = 0xFF;
inline constexpr unsigned char kSharedIntegerPoison = 0xA5;

namespace detail {

template <class T>
inline void poison_static_shared(T& object, uint64_t& poisoned_for) {
  if (poisoned_for == tl_block_serial) [[likely]]
    return;
  poisoned_for = tl_block_serial;
  using Element = std::remove_cv_t<std::remove_all_extents_t<T>>;
  static_assert(std::is_trivially_copyable_v<Element>, "shared memory holds trivially copyable objects");
  const unsigned char poison = std::is_floating_point_v<Element> ? kSharedFloatPoison : kSharedIntegerPoison;
  std::memset(static_cast<void*>(&object), poison, sizeof object);
}

}  // namespace detail
}  // namespace zs::simt
