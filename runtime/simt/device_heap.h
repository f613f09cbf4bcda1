// The emulated device's global memory: what cudaMalloc hands out and cudaFree takes back, laid
// out so that the bad accesses a GPU would fault on (or silently get away with) fault here too,
// with a report naming the allocation and the access.
//
// Each allocation is its own mmap region, its data flush against a guard page at the END:
//
//   | guard page | slack (0xFF) | data .......................... | guard page |
//                ^ page boundary ^ start = end - bytes              ^ end: a page boundary
//
//   - A read or write of even one element past the end faults (a kernel that reads x[n] and
//     masks the value out is caught without AddressSanitizer). The guard in front catches
//     underruns of page-multiple buffers; the slack in front of smaller ones is 0xFF (reads as
//     NaN) and, under AddressSanitizer, poisoned.
//   - Alignment: the start is aligned to the largest power of two dividing `bytes` (up to the
//     page size). cudaMalloc promises 256 bytes; a flush placement cannot keep that for sizes
//     that are not multiples of 256 (12 bytes start 4-aligned), but it keeps the natural
//     alignment of n elements of any type. Vectorised kernels check their pointers' alignment at
//     run time anyway (the tests misalign buffers on purpose), so they take the scalar path.
//     Host code must not carve a cudaMalloc'd buffer assuming 256-byte alignment.
//   - New memory is 0xFF bytes: uninitialised device memory reads as NaN.
//   - cudaFree makes the whole region PROT_NONE (its pages go back to the system) and keeps it
//     reserved in a quarantine, so a later access (a kernel, a copy, a graph replaying a stale
//     pointer) faults. The quarantine holds the most recent 16384 allocations, 16 GiB of address
//     space at most; older ones are unmapped (and their addresses may be reused). A live region
//     is at most 3 kernel mappings and a freed one 1 (neighbouring guards merge), well within
//     vm.max_map_count.
//   - Each allocation records its origin and, once freed, its free site: a short backtrace,
//     symbolised only when a report is printed (dladdr: exported symbols, module+offset for
//     `addr2line -e module offset` otherwise).
//   - A SIGSEGV/SIGBUS handler, installed (again, if someone replaced it, e.g. Catch2 between
//     test cases) at each allocation, reports a fault inside a guard page or a quarantined
//     region to stderr and calls abort(): the address, the allocation (size, origin, free site)
//     and the access site: the thread's current_activity() (activity.h) and, on a kernel fiber,
//     the kernel, its LAUNCH site and blockIdx/threadIdx. Other faults go to the handler that was
//     there before (AddressSanitizer's, Catch2's, the default). The handler runs on an alternate
//     signal stack (prepare_thread()) so a fault on a 64 KiB fiber stack can still be reported.
//
// Thread-safe. Sizes are charged against the emulated device memory (rounded up to 256 bytes,
// as a GPU's allocator does): ZS_EMU_DEVICE_MEM_MIB, default 2 GiB (the GTX 960's).
#pragma once
#include <cstddef>
#include <string>

namespace zs::simt::device_heap {

// `bytes` (> 0) of fresh device memory; nullptr when the emulated device memory would be
// exceeded or the system refuses the mapping. Throws zs::UserError if ZS_EMU_DEVICE_MEM_MIB is
// not valid.
void* allocate(std::size_t bytes);
// Moves the allocation starting at `p` to the quarantine; false when p is not the start of a
// live allocation (nothing happens then).
bool release(void* p);

// True when [p, p + bytes) lies inside one live allocation.
bool contains(const void* p, std::size_t bytes);
// "" when contains(p, bytes); otherwise one message saying what is wrong, e.g. "12 bytes at 0x..
// (offset 0) lie in device memory freed by cudaFree: the allocation of 4096 bytes at 0x.., made
// at: <frames> and freed at: <frames>", "... lie past the end of the allocation of 8 bytes ...",
// or "... are not device memory ...".
std::string describe(const void* p, std::size_t bytes);
// True when some byte of [p, p + bytes) lies in a quarantined (freed) allocation.
bool touches_freed(const void* p, std::size_t bytes);

// For API calls that take a device range (copies, memsets): contains(p, bytes). When the range
// touches freed memory, also prints a report to stderr: `call`, describe(), the calling thread's
// activity and backtrace. (Overruns and host pointers are only refused, as CUDA does: the
// caller returns cudaErrorInvalidValue, and tests provoke that on purpose.)
bool check_range(const void* p, std::size_t bytes, const char* call);
// The report check_range prints, for callers that detect a bad range some other way.
void report_if_freed(const void* p, std::size_t bytes, const char* call);

std::size_t bytes_in_use();   // live allocations, each rounded up to 256 bytes
std::size_t limit();          // the emulated device memory: ZS_EMU_DEVICE_MEM_MIB or 2 GiB

// Gives the calling OS thread an alternate signal stack if it has none, so the fault handler
// can run when a fiber's stack is nearly full. The emulator's block-running threads call it
// when they start; allocate() calls it for the allocating thread.
void prepare_thread();
// Reinstalls the fault handler if something replaced it (Catch2 does around each test case); the
// device queue calls it before running queued work, so a kernel touching memory allocated before
// the replacement is still reported.
void arm_fault_handler();

}  // namespace zs::simt::device_heap
