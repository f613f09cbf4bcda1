// The emulated device's global memory (runtime/simt/device_heap.h): every buffer ends flush
// against a guard page, freed memory stays unmapped-but-reserved in a quarantine, and a bad
// access aborts with one report naming the allocation (size, origin, free site) and the access
// (kernel, LAUNCH site, blockIdx/threadIdx). Correct kernels and copies see none of it.
//
// A fault kills the process, so each bad access runs in a fork()ed child whose stderr the test
// reads. This file's parent process only ever runs single-threaded launches: a child inherits
// the worker pool's bookkeeping but not its threads, so only a child whose parent never started
// workers may run a multi-threaded launch.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "child_process.h"
#include "kernels/common.cuh"
#include "runtime/simt/device_heap.h"
#include "simt_planted_bugs.h"
#include "simt_test_support.h"

using namespace zs::simt_test;
using zs::test_support::ChildOutcome;
using zs::test_support::run_in_child;
namespace device_heap = zs::simt::device_heap;

// Where the reports' origin and free-site backtraces must point: not static, so the test binary
// exports their names (tests/CMakeLists.txt) and the reports can name them.
namespace zs::heap_test {
__attribute__((noinline)) float* heap_test_origin(std::size_t count) {
  float* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, count * sizeof(float)));
  return p;
}
__attribute__((noinline)) void heap_test_free_site(float* p) { CUDA_CHECK(cudaFree(p)); }
}  // namespace zs::heap_test

using zs::heap_test::heap_test_free_site;
using zs::heap_test::heap_test_origin;

namespace {

__global__ void vector_copy_kernel(float4* y, const float4* x, int count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) y[i] = x[i];
}

// The LAUNCH lines the reports must name.
constexpr int kPastEndLaunchLine = __LINE__ + 3;
void launch_read_past_end(float* y, const float* x, int n, unsigned block) {
  const unsigned blocks = (unsigned(n) + block - 1) / block;
  LAUNCH(read_past_end_kernel, blocks, block, 0, nullptr)(y, x, n);
}
constexpr int kReadNextLaunchLine = __LINE__ + 3;
void launch_read_next(float* y, const float* x, int n) {
  const unsigned block = 32, blocks = (unsigned(n) + block - 1) / block;
  LAUNCH(read_next_kernel, blocks, block, 0, nullptr)(y, x, n);
}
constexpr int kBeforeStartLaunchLine = __LINE__ + 2;
void launch_read_before_start(float* y, const float* x, int n) {
  LAUNCH(read_before_start_kernel, (unsigned(n) + 255) / 256, 256, 0, nullptr)(y, x, n);
}

std::string site(int line) { return "test_emu_device_heap.cpp:" + std::to_string(line); }

// The text between `from` and `to` (or the end), to check which backtrace names what.
std::string section(const std::string& text, const std::string& from, const std::string& to) {
  const std::size_t begin = text.find(from);
  if (begin == std::string::npos) return "";
  const std::size_t end = text.find(to, begin + from.size());
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

std::size_t mapping_count() {
  std::ifstream maps("/proc/self/maps");
  std::size_t lines = 0;
  for (std::string line; std::getline(maps, line);) ++lines;
  return lines;
}

std::vector<float> iota_floats(int n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[std::size_t(i)] = float(i) + 0.5f;
  return v;
}

}  // namespace

TEST_CASE("device heap: a kernel reading one element past a buffer faults, even when it masks the value out",
          "[emu][simt][heap]") {
  for (int n = 1; n <= 8; ++n) {
    INFO("n = " << n << " floats");
    const unsigned block = 4;   // so the faulting thread has a nonzero blockIdx for n > 4
    const ChildOutcome child = run_in_child([&] {
      DeviceBuffer<float> x(kernel_memory(), iota_floats(n)), y(kernel_memory(), static_cast<std::size_t>(n));
      launch_read_past_end(y.data(), x.data(), n, block);
      return 0;
    });
    INFO("child stderr:\n" << child.err);
    CHECK(child.aborted());
    CHECK(child.err.find("illegal device memory access") != std::string::npos);
    CHECK(child.err.find("past the end of the allocation of " + std::to_string(4 * n) + " bytes") !=
          std::string::npos);
    CHECK(child.err.find("(offset " + std::to_string(4 * n) + ")") != std::string::npos);
    CHECK(child.err.find("kernel read_past_end_kernel launched at") != std::string::npos);
    CHECK(child.err.find(site(kPastEndLaunchLine)) != std::string::npos);
    const int last = n - 1;
    CHECK(child.err.find("blockIdx (" + std::to_string(last / int(block)) + ",0,0) threadIdx (" +
                         std::to_string(last % int(block)) + ",0,0)") != std::string::npos);
    CHECK(section(child.err, "made at:", "accessed by").find("cudaMalloc") != std::string::npos);

    // The fix reads the same elements but x[n]: no fault, right results.
    DeviceBuffer<float> x(kernel_memory(), iota_floats(n)), y(kernel_memory(), static_cast<std::size_t>(n));
    launch_read_next(y.data(), x.data(), n);
    const std::vector<float> got = y.download();
    for (int i = 0; i < n; ++i) CHECK(got[std::size_t(i)] == (i + 1 < n ? float(i + 1) + 0.5f : 0.f));
  }
}

TEST_CASE("device heap: faults on the emulator's worker threads are reported too", "[emu][simt][heap]") {
  // 8 blocks on 2 OS threads: the last block, which faults, runs on either.
  const ChildOutcome child = run_in_child([] {
    zs::simt::Settings s;
    s.threads = 2;
    zs::simt::ScopedSettings scoped(s);
    const int n = 29;
    DeviceBuffer<float> x(kernel_memory(), iota_floats(n)), y(kernel_memory(), static_cast<std::size_t>(n));
    launch_read_past_end(y.data(), x.data(), n, 4);
    return 0;
  });
  INFO("child stderr:\n" << child.err);
  CHECK(child.aborted());
  CHECK(child.err.find("past the end of the allocation of 116 bytes") != std::string::npos);
  CHECK(child.err.find(site(kPastEndLaunchLine)) != std::string::npos);
  CHECK(child.err.find("blockIdx (7,0,0) threadIdx (0,0,0)") != std::string::npos);
}

TEST_CASE("device heap: reading in front of a page-sized buffer hits its front guard", "[emu][simt][heap]") {
  const ChildOutcome child = run_in_child([] {
    const int n = 1024;   // 4096 bytes: no slack in front, the guard page is right there
    DeviceBuffer<float> x(kernel_memory(), iota_floats(n)), y(kernel_memory(), static_cast<std::size_t>(n));
    launch_read_before_start(y.data(), x.data(), n);
    return 0;
  });
  INFO("child stderr:\n" << child.err);
  CHECK(child.aborted());
  CHECK(child.err.find("(offset -4) lies before the start of the allocation of 4096 bytes") != std::string::npos);
  CHECK(child.err.find("kernel read_before_start_kernel launched at " ) != std::string::npos);
  CHECK(child.err.find(site(kBeforeStartLaunchLine)) != std::string::npos);
  CHECK(child.err.find("blockIdx (0,0,0) threadIdx (0,0,0)") != std::string::npos);
}

TEST_CASE("device heap: a kernel reading a buffer after cudaFree faults, naming origin and free site",
          "[emu][simt][heap]") {
  const ChildOutcome child = run_in_child([] {
    float* x = heap_test_origin(64);
    DeviceBuffer<float> y(kernel_memory(), 64);
    heap_test_free_site(x);
    launch_read_next(y.data(), x, 64);   // a stale pointer, as a replayed graph would hold
    return 0;
  });
  INFO("child stderr:\n" << child.err);
  CHECK(child.aborted());
  CHECK(child.err.find("(offset 4) lies in device memory freed by cudaFree: the allocation of 256 bytes") !=
        std::string::npos);
  const std::string made = section(child.err, "made at:", "and freed at:");
  const std::string freed = section(child.err, "and freed at:", "accessed by");
  CHECK(made.find("heap_test_origin") != std::string::npos);
  CHECK(made.find("heap_test_free_site") == std::string::npos);
  CHECK(freed.find("heap_test_free_site") != std::string::npos);
  CHECK(child.err.find("kernel read_next_kernel launched at") != std::string::npos);
  CHECK(child.err.find(site(kReadNextLaunchLine)) != std::string::npos);
}

TEST_CASE("device heap: copies and memsets touching freed memory fail and report", "[emu][simt][heap]") {
  const ChildOutcome child = run_in_child([] {
    float* x = heap_test_origin(16);
    heap_test_free_site(x);
    std::vector<float> host(16, 1.f);
    int failures = 0;
    failures += cudaMemcpy(host.data(), x, 64, cudaMemcpyDeviceToHost) != cudaErrorInvalidValue;
    failures += cudaMemcpy(x, host.data(), 64, cudaMemcpyHostToDevice) != cudaErrorInvalidValue;
    failures += cudaMemset(x + 2, 0, 8) != cudaErrorInvalidValue;
    failures += cudaFree(x) != cudaErrorInvalidValue;   // a double free
    failures += cudaGetLastError() != cudaErrorInvalidValue;
    return failures;
  });
  INFO("child stderr:\n" << child.err);
  CHECK(child.exited(0));
  CHECK(child.err.find("zs::simt: cudaMemcpy: 64 bytes at") != std::string::npos);
  CHECK(child.err.find("zs::simt: cudaMemset: 8 bytes at") != std::string::npos);
  CHECK(child.err.find("(offset 8) lie in device memory freed by cudaFree") != std::string::npos);
  CHECK(child.err.find("zs::simt: cudaFree: 1 byte at") != std::string::npos);
  const std::string first = section(child.err, "zs::simt: cudaMemcpy", "zs::simt: cudaMemcpy: 64 bytes at");
  CHECK(section(first, "made at:", "and freed at:").find("heap_test_origin(unsigned long)") != std::string::npos);
  CHECK(section(first, "and freed at:", "accessed by").find("heap_test_free_site(float*)") != std::string::npos);
  CHECK(section(first, "cudaMemcpy called from:", "\n\n").find("zs::simt::api::cudaMemcpy(") != std::string::npos);

  // The same checks in this process: refused, and describe() says why.
  float* x = heap_test_origin(16);
  heap_test_free_site(x);
  CHECK_FALSE(device_heap::contains(x, 4));
  CHECK(device_heap::touches_freed(x + 15, 4));
  const std::string why = device_heap::describe(x, 64);
  CHECK(why.find("64 bytes at") == 0);
  CHECK(why.find("freed by cudaFree: the allocation of 64 bytes") != std::string::npos);
  CHECK(why.find("heap_test_origin") != std::string::npos);
  CHECK(why.find("heap_test_free_site") != std::string::npos);
}

TEST_CASE("device heap: overruns and host pointers are refused without a report", "[emu][simt][heap]") {
  const ChildOutcome child = run_in_child([] {
    DeviceBuffer<float> x(kernel_memory(), 8);
    std::vector<float> host(9, 1.f);
    int failures = 0;
    failures += cudaMemcpy(x.data(), host.data(), 36, cudaMemcpyHostToDevice) != cudaErrorInvalidValue;
    failures += cudaMemcpy(host.data(), host.data(), 4, cudaMemcpyDeviceToHost) != cudaErrorInvalidValue;
    failures += cudaMemset(x.data() - 1, 0, 4) != cudaErrorInvalidValue;
    return failures;
  });
  CHECK(child.exited(0));
  CHECK(child.err.empty());

  DeviceBuffer<float> x(kernel_memory(), 8);
  std::vector<float> host(8);
  CHECK(device_heap::describe(x.data(), 32).empty());
  CHECK(device_heap::describe(x.data() + 4, 20).find("20 bytes at") == 0);
  CHECK(device_heap::describe(x.data() + 4, 20).find("(offset 16) lie past the end of the allocation of 32 bytes") !=
        std::string::npos);
  CHECK(device_heap::describe(host.data(), 32).find("not device memory") != std::string::npos);
}

TEST_CASE("device heap: host code touching freed memory faults with its backtrace", "[emu][simt][heap]") {
  const ChildOutcome child = run_in_child([] {
    float* x = heap_test_origin(16);
    heap_test_free_site(x);
    std::vector<float> host(16);
    // cudaMemcpyDefault does not say which side is device memory, so nothing checks it first.
    cudaMemcpy(host.data(), x, 64, cudaMemcpyDefault);
    return 0;
  });
  INFO("child stderr:\n" << child.err);
  CHECK(child.aborted());
  CHECK(child.err.find("an access at") != std::string::npos);
  CHECK(child.err.find("freed by cudaFree: the allocation of 64 bytes") != std::string::npos);
  CHECK(child.err.find("accessed by host code") != std::string::npos);
  CHECK(child.err.find("access backtrace:") != std::string::npos);
}

TEST_CASE("device heap: faults elsewhere go to the handler that was there before", "[emu][simt][heap]") {
  const ChildOutcome child = run_in_child([] {
    DeviceBuffer<float> x(kernel_memory(), 4);   // installs the heap's handler over Catch2's (and AddressSanitizer's)
    void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return *static_cast<volatile int*>(page);
  });
  INFO("child stderr:\n" << child.err);
  CHECK(child.err.find("zs::simt") == std::string::npos);
  CHECK(child.err.find("SIGSEGV - Segmentation violation signal") != std::string::npos);   // Catch2's handler ran
#if defined(__SANITIZE_ADDRESS__)
  CHECK(child.err.find("AddressSanitizer: SEGV") != std::string::npos);
#else
  CHECK((WIFSIGNALED(child.status) && WTERMSIG(child.status) == SIGSEGV));
#endif
}

TEST_CASE("device heap: correct kernels and copies on buffers of every size see no fault", "[emu][simt][heap]") {
  for (int n = 1; n <= 40; ++n) {
    INFO("n = " << n << " floats");
    const std::vector<float> values = iota_floats(n);
    DeviceBuffer<float> x(kernel_memory(), static_cast<std::size_t>(n)),
        y(kernel_memory(), static_cast<std::size_t>(n)), z(kernel_memory(), static_cast<std::size_t>(n));
    // Fresh device memory reads as NaN.
    for (float v : x.download()) CHECK(std::isnan(v));
    x.upload(values);
    // Aligned to the largest power of two dividing the size (cudaMalloc's 256 where it can).
    const std::size_t bytes = std::size_t(n) * sizeof(float);
    const std::size_t alignment = std::min<std::size_t>(bytes & (~bytes + 1), 256);
    CHECK(reinterpret_cast<std::uintptr_t>(x.data()) % alignment == 0);
    CHECK(device_heap::contains(x.data(), bytes));
    CHECK_FALSE(device_heap::contains(x.data(), bytes + 1));

    launch_read_next(y.data(), x.data(), n);   // reads up to the last element, flush against the guard
    const std::vector<float> got = y.download();
    for (int i = 0; i < n; ++i) CHECK(got[std::size_t(i)] == (i + 1 < n ? values[std::size_t(i) + 1] : 0.f));
    CHECK(cudaMemcpy(z.data(), x.data(), bytes, cudaMemcpyDeviceToDevice) == cudaSuccess);
    CHECK(z.download() == values);
    CHECK(cudaMemset(z.data() + n - 1, 0, 4) == cudaSuccess);
    CHECK(z.download()[std::size_t(n) - 1] == 0.f);

    if (n % 4 == 0) {   // float4 loads, the last one ending at the guard page
      CHECK(reinterpret_cast<std::uintptr_t>(x.data()) % 16 == 0);
      const int count = n / 4;
      LAUNCH(vector_copy_kernel, 1, count, 0, nullptr)
      (reinterpret_cast<float4*>(y.data()), reinterpret_cast<const float4*>(x.data()), count);
      CHECK(y.download() == values);
    }
  }
  // Byte buffers of every size up to a page and beyond.
  for (std::size_t bytes : {1, 2, 3, 5, 7, 8, 13, 255, 256, 257, 4095, 4096, 4097}) {
    INFO(bytes << " bytes");
    DeviceBuffer<unsigned char> b(kernel_memory(), bytes);
    fill_bytes(b, 0x5A);
    for (unsigned char c : b.download()) CHECK(c == 0x5A);
  }
}

TEST_CASE("device heap: memory accounting and the emulated memory cap", "[emu][simt][heap]") {
  const std::size_t before = device_heap::bytes_in_use();
  std::size_t free_before = 0, total = 0;
  REQUIRE(cudaMemGetInfo(&free_before, &total) == cudaSuccess);
  CHECK(total == device_heap::limit());
  if (!std::getenv("ZS_EMU_DEVICE_MEM_MIB")) CHECK(total == std::size_t(2) << 30);   // the GTX 960's
  {
    DeviceBuffer<float> a(kernel_memory(), 250);   // 1000 bytes, charged as 1024
    CHECK(device_heap::bytes_in_use() == before + 1024);
    std::size_t free_now = 0;
    REQUIRE(cudaMemGetInfo(&free_now, &total) == cudaSuccess);
    CHECK(free_now == free_before - 1024);
    CHECK(zs::simt::device_bytes_in_use() == before + 1024);
  }
  CHECK(device_heap::bytes_in_use() == before);

  void* p = nullptr;
  CHECK(cudaMalloc(&p, total - before + 1) == cudaErrorMemoryAllocation);
  CHECK(p == nullptr);
  CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
  CHECK(cudaMalloc(&p, ~std::size_t(0)) == cudaErrorMemoryAllocation);
  CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
  CHECK(device_heap::bytes_in_use() == before);
  CHECK(cudaMalloc(&p, 0) == cudaSuccess);
  CHECK(p == nullptr);
}

TEST_CASE("device heap: the quarantine is capped, so many frees never run out of mappings", "[emu][simt][heap]") {
  const std::size_t maps_before = mapping_count();
  constexpr int kBuffers = 50000;
  int failures = 0;
  float* last = nullptr;
  for (int i = 0; i < kBuffers; ++i) {
    float* p = nullptr;
    failures += cudaMalloc(&p, std::size_t(1 + i % 7) * sizeof(float)) != cudaSuccess;
    failures += cudaFree(p) != cudaSuccess;
    last = p;
  }
  CHECK(failures == 0);
  const std::size_t maps_after = mapping_count();
  INFO("mappings before " << maps_before << ", after " << maps_after);
  CHECK(maps_after < maps_before + 16384 + 64);
  CHECK(device_heap::touches_freed(last, 4));   // the newest ones stay quarantined
  DeviceBuffer<float> still_works(kernel_memory(), 1000);
  fill_bytes(still_works, 0);
}
