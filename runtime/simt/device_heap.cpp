#include "runtime/simt/device_heap.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string_view>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/simt/activity.h"
#include "runtime/simt/block_scheduler.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace zs::simt::device_heap {
namespace {

constexpr std::size_t kChargeGranule = 256;                             // what a GPU allocator rounds to
constexpr unsigned char kPoisonByte = 0xFF;                             // uninitialised memory reads as NaN
constexpr std::size_t kDefaultLimit = std::size_t(2) << 30;             // GTX 960: 2 GiB
constexpr std::size_t kQuarantineEntries = 16384;                       // freed regions kept reserved...
constexpr std::size_t kQuarantineBytes = std::size_t(16) << 30;         // ... and their address space
constexpr int kFrames = 12;                                             // per recorded backtrace
constexpr std::size_t kAltStackBytes = 64 * 1024;

std::size_t page_size() {
  static const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
  return page;
}
std::size_t round_up(std::size_t n, std::size_t granule) { return (n + granule - 1) / granule * granule; }

// ---- backtraces ----

struct Trace {
  void* pc[kFrames];
  int depth = 0;
};

// The caller's caller and up: frame 0 is the function that called the one calling this.
__attribute__((noinline)) Trace capture_trace() {
  void* raw[kFrames + 2];
  const int n = backtrace(raw, kFrames + 2);
  Trace t;
  t.depth = std::max(0, n - 2);
  std::copy(raw + 2, raw + 2 + t.depth, t.pc);
  return t;
}

// printf into a fixed buffer, silently truncating: allocates nothing, so the fault handler can use it.
class Text {
 public:
  Text(char* buffer, std::size_t capacity) : buffer_(buffer), capacity_(capacity) { buffer_[0] = '\0'; }
  __attribute__((format(printf, 2, 3))) void add(const char* format, ...) {
    if (size_ + 1 >= capacity_) return;
    va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(buffer_ + size_, capacity_ - size_, format, args);
    va_end(args);
    if (n > 0) size_ = std::min(capacity_ - 1, size_ + std::size_t(n));
  }
  const char* data() const { return buffer_; }
  std::size_t size() const { return size_; }

 private:
  char* buffer_;
  std::size_t capacity_;
  std::size_t size_ = 0;
};

// "    #3 test_emu_conv+0x4a3b1 zs::emu::conv2d(...)+0x51": module+offset is what addr2line takes.
// `return_address`: pc is where a call returns to, so the call itself is at pc - 1. Demangling
// allocates, so the fault handler prints mangled names.
void add_frame(Text& t, int index, const void* pc, bool return_address, bool demangle) {
  const auto where = reinterpret_cast<std::uintptr_t>(pc) - (return_address ? 1 : 0);
  Dl_info info{};
  if (!dladdr(reinterpret_cast<const void*>(where), &info) || !info.dli_fname) {
    t.add("    #%d 0x%" PRIxPTR "\n", index, where);
    return;
  }
  const char* slash = std::strrchr(info.dli_fname, '/');
  const char* module = slash ? slash + 1 : info.dli_fname;
  const std::uintptr_t base = reinterpret_cast<std::uintptr_t>(info.dli_fbase);
  t.add("    #%d %s+0x%" PRIxPTR, index, *module ? module : "?", where - base);
  if (info.dli_sname) {
    char* demangled = demangle ? abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, nullptr) : nullptr;
    t.add(" %s+0x%" PRIxPTR, demangled ? demangled : info.dli_sname,
          where - reinterpret_cast<std::uintptr_t>(info.dli_saddr));
    std::free(demangled);
  }
  t.add("\n");
}

void add_frames(Text& t, const Trace& trace, bool demangle) {
  for (int i = 0; i < trace.depth; ++i) add_frame(t, i, trace.pc[i], true, demangle);
  if (trace.depth == 0) t.add("    (no backtrace)\n");
}

// ---- the heap ----

struct Block {
  std::uintptr_t region = 0;   // the mmap region: front guard, data pages, back guard
  std::size_t region_bytes = 0;
  std::uintptr_t data = 0;     // what cudaMalloc returned: region end - page - bytes
  std::size_t bytes = 0;
  bool live = true;            // false: quarantined (PROT_NONE)
  Trace made, freed;
};

struct Heap {
  std::mutex mutex;
  std::map<std::uintptr_t, Block> blocks;   // region start -> block, live and quarantined
  std::deque<std::uintptr_t> quarantine;     // region starts, oldest first
  std::size_t quarantined_bytes = 0;
  std::size_t in_use = 0;                    // charged bytes of the live blocks
};

// Never destroyed: static destructors elsewhere may still free device memory at exit.
Heap& heap() {
  static Heap* h = new Heap;
  return *h;
}

// The block whose region holds address a (mutex held).
const Block* find_region(const Heap& h, std::uintptr_t a) {
  auto it = h.blocks.upper_bound(a);
  if (it == h.blocks.begin()) return nullptr;
  --it;
  return a < it->first + it->second.region_bytes ? &it->second : nullptr;
}

// The first quarantined block with a byte in [a, a + bytes) (mutex held).
const Block* find_freed(const Heap& h, std::uintptr_t a, std::size_t bytes) {
  auto it = h.blocks.upper_bound(a);
  if (it != h.blocks.begin()) --it;
  for (; it != h.blocks.end() && it->first < a + std::max<std::size_t>(bytes, 1); ++it)
    if (!it->second.live && a < it->first + it->second.region_bytes) return &it->second;
  return nullptr;
}

bool inside(const Block& b, std::uintptr_t a, std::size_t bytes) {
  return b.live && a >= b.data && bytes <= b.bytes && a - b.data <= b.bytes - bytes;
}

void asan_poison(std::uintptr_t p, std::size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
  __asan_poison_memory_region(reinterpret_cast<void*>(p), bytes);
#else
  (void)p, (void)bytes;
#endif
}
// Before a region is made PROT_NONE or unmapped: the shadow would outlive it and flag whatever
// is mapped at these addresses next.
void asan_unpoison(std::uintptr_t p, std::size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(reinterpret_cast<void*>(p), bytes);
#else
  (void)p, (void)bytes;
#endif
}

void evict_oldest(Heap& h) {   // mutex held
  const std::uintptr_t region = h.quarantine.front();
  h.quarantine.pop_front();
  auto it = h.blocks.find(region);
  h.quarantined_bytes -= it->second.region_bytes;
  munmap(reinterpret_cast<void*>(region), it->second.region_bytes);
  h.blocks.erase(it);
}

// What is wrong with [a, a + bytes) (bytes 0: an access of unknown size) that touches block b.
void explain(Text& t, const Block& b, std::uintptr_t a, std::size_t bytes, bool demangle) {
  if (bytes)
    t.add("%zu byte%s at 0x%" PRIxPTR, bytes, bytes == 1 ? "" : "s", a);
  else
    t.add("an access at 0x%" PRIxPTR, a);
  t.add(" (offset %lld) %s ", static_cast<long long>(a - b.data), bytes > 1 ? "lie" : "lies");
  if (!b.live)
    t.add("in device memory freed by cudaFree: the allocation");
  else if (a < b.data)
    t.add("before the start of the allocation");
  else
    t.add("past the end of the allocation");
  t.add(" of %zu bytes at 0x%" PRIxPTR ", made at:\n", b.bytes, b.data);
  add_frames(t, b.made, demangle);
  if (!b.live) {
    t.add("  and freed at:\n");
    add_frames(t, b.freed, demangle);
  }
}

// "  accessed by kernel k launched at f.cu:12, blockIdx (1,0,0) threadIdx (31,0,0)".
// `slot`: the kernel fiber the access ran on, if any.
void add_access_site(Text& t, const Activity& a, const SlotHeader* slot) {
  t.add("  accessed by ");
  const GridLaunch* launch = slot && slot->scheduler ? slot->scheduler->running_launch() : nullptr;
  if (a.kind && std::strcmp(a.kind, "kernel") == 0)
    t.add("kernel %s launched at %s:%d", a.name ? a.name : "?", a.site.file, a.site.line);
  else if (a.kind)
    t.add("%s issued at %s:%d", a.kind, a.site.file, a.site.line);
  else if (launch)
    t.add("kernel %s launched at %s:%d", launch->kernel_name, launch->launch_site.file, launch->launch_site.line);
  else
    t.add("host code");
  if (a.kind && a.via) t.add(" via %s launched at %s:%d", a.via, a.via_site.file, a.via_site.line);
  if (slot) {
    const uint3 b = slot->block_idx, th = slot->thread_idx;
    t.add(", blockIdx (%u,%u,%u) threadIdx (%u,%u,%u)", b.x, b.y, b.z, th.x, th.y, th.z);
  }
  t.add("\n");
}

void write_all(const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = write(STDERR_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= std::size_t(w);
  }
}

// ---- the fault handler ----

struct sigaction g_previous[2];           // SIGSEGV, SIGBUS: what was installed before us
std::atomic<bool> g_reporting{false};     // one report per process
char g_report[32 * 1024];                 // the handler's text (not on the faulting stack)

int slot_of(int sig) { return sig == SIGBUS ? 1 : 0; }

void on_fault(int sig, siginfo_t* info, void* context);

// Hands a fault that is not ours to the handler that was there before.
void chain(int sig, siginfo_t* info, void* context) {
  const struct sigaction& prev = g_previous[slot_of(sig)];
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction && prev.sa_sigaction != on_fault) return prev.sa_sigaction(sig, info, context);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    return prev.sa_handler(sig);
  }
  // The default action: reinstate it; the faulting instruction runs again on return and now
  // kills the process the usual way (a signal sent by kill() is re-raised instead).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  if (info->si_code <= 0) raise(sig);
}

// std::mutex from a signal handler: only try_lock, and give up after ~2 s (the report then reads
// the map unlocked, which beats hanging).
bool lock_in_handler(std::mutex& m) {
  for (int i = 0; i < 2000; ++i) {
    if (m.try_lock()) return true;
    timespec pause{0, 1000000};
    nanosleep(&pause, nullptr);
  }
  return false;
}

void context_registers(void* context, std::uintptr_t& sp, std::uintptr_t& pc) {
  sp = pc = 0;
#if defined(__x86_64__)
  const auto* uc = static_cast<const ucontext_t*>(context);
  sp = std::uintptr_t(uc->uc_mcontext.gregs[REG_RSP]);
  pc = std::uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  const auto* uc = static_cast<const ucontext_t*>(context);
  sp = std::uintptr_t(uc->uc_mcontext.sp);
  pc = std::uintptr_t(uc->uc_mcontext.pc);
#else
  (void)context;
#endif
}

// Only write(2) and snprintf into static storage here: the process may be in any state. Kept
// light on stack, as it may run on a nearly full fiber stack when no alternate stack is set.
void on_fault(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  Heap& h = heap();
  const bool locked = lock_in_handler(h.mutex);
  const Block* b = info->si_code > 0 ? find_region(h, address) : nullptr;
  if (!b) {
    if (locked) h.mutex.unlock();
    errno = saved_errno;
    return chain(sig, info, context);
  }
  if (g_reporting.exchange(true))
    for (;;) pause();   // another thread is reporting; its abort() ends this one too

  std::uintptr_t sp, pc;
  context_registers(context, sp, pc);
  // current_slot() is only meaningful when the faulting code ran on one of this thread's fibers.
  const SlotHeader* slot = nullptr;
  if (sp && BlockScheduler::running_here_owns(reinterpret_cast<const void*>(sp)))
    slot = reinterpret_cast<const SlotHeader*>(header_address(sp & ~std::uintptr_t(kSlotBytes - 1)));
  Text t(g_report, sizeof g_report);
  t.add("zs::simt: illegal device memory access (%s): ", sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
  explain(t, *b, address, 0, false);
  add_access_site(t, current_activity(), slot);
  t.add("  faulting instruction:\n");
  add_frame(t, 0, reinterpret_cast<const void*>(pc), false, false);
  write_all(t.data(), t.size());
  if (!slot) {
    // Host code (a copy, a memset...): its call chain is the access site. Last, as unwinding is
    // the riskiest step here; backtrace() was loaded by the first allocation.
    void* frames[kFrames];
    const int n = backtrace(frames, kFrames);
    Text bt(g_report, sizeof g_report);
    bt.add("  access backtrace:\n");
    for (int i = 1; i < n; ++i) add_frame(bt, i - 1, frames[i], true, false);
    write_all(bt.data(), bt.size());
  }
  std::abort();
}

// (Re)installs the handler when something else holds SIGSEGV/SIGBUS now, e.g. Catch2, which
// installs its own around each test case and restores the one before it afterwards. Mutex held.
void ensure_fault_handler() {
  for (int sig : {SIGSEGV, SIGBUS}) {
    struct sigaction current {};
    if (sigaction(sig, nullptr, &current) != 0) continue;
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_fault) continue;
    struct sigaction ours {};
    ours.sa_sigaction = on_fault;
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&ours.sa_mask);
    g_previous[slot_of(sig)] = current;
    sigaction(sig, &ours, nullptr);
  }
}

// ---- alternate signal stacks ----

struct AltStack {
  char* mapping = nullptr;   // guard page + stack
  ~AltStack() {
    if (!mapping) return;
    stack_t current{};
    if (sigaltstack(nullptr, &current) == 0 && current.ss_sp == mapping + page_size()) {
      if (current.ss_flags & SS_ONSTACK) return;   // cannot happen at thread exit; leak rather than crash
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      sigaltstack(&off, nullptr);
    }
    munmap(mapping, page_size() + kAltStackBytes);
  }
};

// ---- the emulated device memory size ----

std::size_t parse_limit() {
  const char* text = std::getenv("ZS_EMU_DEVICE_MEM_MIB");
  if (!text || !*text) return kDefaultLimit;
  std::string_view v(text);
  std::size_t mib = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), mib);
  if (ec != std::errc() || end != v.data() + v.size() || mib == 0 || mib > (std::size_t(1) << 24))
    throw UserError("environment variable ZS_EMU_DEVICE_MEM_MIB='" + std::string(v) +
                    "' is not valid: give the emulated device memory in MiB (e.g. 2048), or unset it");
  return mib << 20;
}

// A region of `data_bytes` read-write pages between two PROT_NONE guard pages; nullptr when the
// system refuses (out of mappings or address space: the older half of the quarantine is then
// given back and the mapping tried once more).
char* map_region(Heap& h, std::size_t data_bytes) {
  const std::size_t page = page_size();
  for (int attempt = 0; attempt < 2; ++attempt) {
    void* r = mmap(nullptr, data_bytes + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r != MAP_FAILED) {
      if (mprotect(static_cast<char*>(r) + page, data_bytes, PROT_READ | PROT_WRITE) == 0) return static_cast<char*>(r);
      munmap(r, data_bytes + 2 * page);
    }
    std::lock_guard lock(h.mutex);
    const std::size_t drop = (h.quarantine.size() + 1) / 2;
    if (drop == 0) break;
    for (std::size_t i = 0; i < drop; ++i) evict_oldest(h);
  }
  return nullptr;
}

}  // namespace

std::size_t limit() {
  static const std::size_t value = parse_limit();
  return value;
}

void prepare_thread() {
  stack_t current{};
  if (sigaltstack(nullptr, &current) != 0 || !(current.ss_flags & SS_DISABLE)) return;   // has one
  thread_local AltStack alt;
  const std::size_t page = page_size();
  if (!alt.mapping) {
    void* m = mmap(nullptr, page + kAltStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    mprotect(m, page, PROT_NONE);   // an overflowing handler faults instead of scribbling
    alt.mapping = static_cast<char*>(m);
  }
  stack_t ss{};
  ss.ss_sp = alt.mapping + page;
  ss.ss_size = kAltStackBytes;
  sigaltstack(&ss, nullptr);
}

void* allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t page = page_size();
  const std::size_t charged = round_up(bytes, kChargeGranule);
  const std::size_t data_bytes = round_up(bytes, page);
  if (charged < bytes || data_bytes < bytes) return nullptr;   // overflow
  Heap& h = heap();
  Block b;
  b.made = capture_trace();
  {
    std::lock_guard lock(h.mutex);
    ensure_fault_handler();
    if (charged > limit() || h.in_use > limit() - charged) return nullptr;
    h.in_use += charged;   // reserved now, so concurrent allocations cannot overshoot the cap
  }
  prepare_thread();
  char* region = map_region(h, data_bytes);
  if (!region) {
    std::lock_guard lock(h.mutex);
    h.in_use -= charged;
    return nullptr;
  }
  b.region = reinterpret_cast<std::uintptr_t>(region);
  b.region_bytes = data_bytes + 2 * page;
  b.data = b.region + page + data_bytes - bytes;   // the end touches the back guard page
  b.bytes = bytes;
  std::memset(region + page, kPoisonByte, data_bytes);
  asan_poison(b.region + page, b.data - (b.region + page));   // the slack in front
  std::lock_guard lock(h.mutex);
  h.blocks.emplace(b.region, b);
  return reinterpret_cast<void*>(b.data);
}

bool release(void* p) {
  const Trace freed_at = capture_trace();
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::size_t page = page_size();
  if (a < 2 * page) return false;
  Heap& h = heap();
  std::lock_guard lock(h.mutex);
  // The data starts in the region's first data page (see allocate).
  auto it = h.blocks.find(a / page * page - page);
  if (it == h.blocks.end() || !it->second.live || it->second.data != a) return false;
  Block& b = it->second;
  h.in_use -= round_up(b.bytes, kChargeGranule);
  asan_unpoison(b.region, b.region_bytes);
  // One PROT_NONE mapping over the whole region: the pages go back to the system, any access
  // faults, and the address range stays ours. Done under the mutex so no eviction races it.
  if (mmap(reinterpret_cast<void*>(b.region), b.region_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
           -1, 0) == MAP_FAILED) {
    munmap(reinterpret_cast<void*>(b.region), b.region_bytes);   // cannot quarantine it: just give it back
    h.blocks.erase(it);
    return true;
  }
  b.live = false;
  b.freed = freed_at;
  h.quarantine.push_back(b.region);
  h.quarantined_bytes += b.region_bytes;
  while (h.quarantine.size() > kQuarantineEntries || h.quarantined_bytes > kQuarantineBytes) evict_oldest(h);
  return true;
}

bool contains(const void* p, std::size_t bytes) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  Heap& h = heap();
  std::lock_guard lock(h.mutex);
  const Block* b = find_region(h, a);
  return b && inside(*b, a, bytes);
}

std::string describe(const void* p, std::size_t bytes) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  std::vector<char> buffer(32 * 1024);
  Text t(buffer.data(), buffer.size());
  Heap& h = heap();
  std::lock_guard lock(h.mutex);
  const Block* b = find_region(h, a);
  if (!b && bytes > 0) b = find_region(h, a + bytes - 1);   // starts in front of a region
  if (b && inside(*b, a, bytes)) return "";
  if (!b)
    t.add("%zu byte%s at 0x%" PRIxPTR " %s not device memory: no live or recently freed cudaMalloc allocation holds %s",
          bytes, bytes == 1 ? "" : "s", a, bytes == 1 ? "is" : "are", bytes == 1 ? "it" : "them");
  else
    explain(t, *b, a, bytes, true);
  std::string text(t.data(), t.size());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

bool touches_freed(const void* p, std::size_t bytes) {
  Heap& h = heap();
  std::lock_guard lock(h.mutex);
  return find_freed(h, reinterpret_cast<std::uintptr_t>(p), bytes) != nullptr;
}

void report_if_freed(const void* p, std::size_t bytes, const char* call) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const Trace caller = capture_trace();
  std::vector<char> buffer(32 * 1024);
  Text t(buffer.data(), buffer.size());
  {
    Heap& h = heap();
    std::lock_guard lock(h.mutex);
    const Block* b = find_freed(h, a, bytes);
    if (!b) return;
    t.add("zs::simt: %s: ", call);
    explain(t, *b, a, bytes, true);
  }
  add_access_site(t, current_activity(), nullptr);
  t.add("  %s called from:\n", call);
  add_frames(t, caller, true);
  write_all(t.data(), t.size());
}

bool check_range(const void* p, std::size_t bytes, const char* call) {
  if (contains(p, bytes)) return true;
  report_if_freed(p, bytes, call);
  return false;
}

void arm_fault_handler() {
  Heap& h = heap();
  std::lock_guard lock(h.mutex);
  ensure_fault_handler();
}

std::size_t bytes_in_use() {
  Heap& h = heap();
  std::lock_guard lock(h.mutex);
  return h.in_use;
}

}  // namespace zs::simt::device_heap
