// The emulator's asynchrony (runtime/simt/device_queue.h): streams are queues run at
// synchronisation points in the order policy's interleaving, the legacy default stream orders
// against blocking streams only, events order streams, async copies and memsets are queued,
// captures record and graphs replay. Planted bugs - a missing stream wait, a host read before
// synchronising, a use after free through a graph - are caught; correct code gives identical
// results in every interleaving.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "child_process.h"
#include "kernels/common.cuh"
#include "runtime/simt/device_queue.h"
#include "simt_kernels.h"
#include "simt_test_support.h"

using namespace zs::simt_test;
using zs::simt::ScopedSettings;
using zs::test_support::ChildOutcome;
using zs::test_support::run_in_child;
using zs::simt::Settings;

namespace {

constexpr int kCount = 256;

bool all_poison(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float f) { return std::bit_cast<uint32_t>(f) == 0xffffffffu; });
}

// Owns a stream for a test.
struct Stream {
  cudaStream_t s = nullptr;
  explicit Stream(unsigned flags = cudaStreamNonBlocking) { CUDA_CHECK(cudaStreamCreateWithFlags(&s, flags)); }
  ~Stream() { cudaStreamDestroy(s); }
};

struct Event {
  cudaEvent_t e = nullptr;
  Event() { CUDA_CHECK(cudaEventCreate(&e)); }
  ~Event() { cudaEventDestroy(e); }
};

// Stream a writes y = 2 x; stream b computes z = 3 y, waiting for a's event only if told to.
std::vector<float> producer_consumer(bool wait) {
  std::vector<float> x(kCount);
  for (int i = 0; i < kCount; ++i) x[i] = float(i) - 7.f;
  DeviceBuffer<float> dx(kernel_memory(), x), dy(kernel_memory(), kCount), dz(kernel_memory(), kCount);
  Stream a, b;
  Event written;
  LAUNCH(scale_kernel, 1, kCount, 0, a.s)(dy.data(), dx.data(), 2.f, kCount);
  CUDA_CHECK(cudaEventRecord(written.e, a.s));
  if (wait) CUDA_CHECK(cudaStreamWaitEvent(b.s, written.e, 0));
  LAUNCH(scale_kernel, 1, kCount, 0, b.s)(dz.data(), dy.data(), 3.f, kCount);
  CUDA_CHECK(cudaStreamSynchronize(b.s));
  CUDA_CHECK(cudaStreamSynchronize(a.s));
  return dz.download();
}

}  // namespace

TEST_CASE("streams: launches are queued and run at a synchronisation point", "[emu][streams]") {
  DeviceBuffer<float> dx(kernel_memory(), std::vector<float>(kCount, 1.5f)), dy(kernel_memory(), kCount);
  fill_bytes(dy, 0);
  Stream s;
  LAUNCH(scale_kernel, 1, kCount, 0, s.s)(dy.data(), dx.data(), 2.f, kCount);
  // A synchronous copy waits for the legacy stream only, not for this non-blocking one.
  CHECK(legacy_stream_copy(dy) == std::vector<float>(kCount, 0.f));
  CUDA_CHECK(cudaStreamSynchronize(s.s));
  CHECK(cudaStreamQuery(s.s) == cudaSuccess);
  CHECK(dy.download() == std::vector<float>(kCount, 3.f));
}

TEST_CASE("streams: (planted) a missing stream wait reads data that was never written", "[emu][streams]") {
  std::vector<float> want(kCount);
  for (int i = 0; i < kCount; ++i) want[i] = 6.f * (float(i) - 7.f);
  for (const Settings& s : all_orders()) {
    ScopedSettings scoped(s);
    INFO(describe(s));
    CHECK(producer_consumer(true) == want);      // with the event: right in every interleaving
    CHECK(all_poison(producer_consumer(false)));  // without: b ran first and read poison
  }
  // The synchronous debugging mode runs every call at once and so hides the bug.
  Settings sync = all_orders()[0];
  sync.async = false;
  ScopedSettings scoped(sync);
  CHECK(producer_consumer(false) == want);
}

TEST_CASE("streams: the legacy stream orders against blocking streams, not non-blocking ones", "[emu][streams]") {
  for (const Settings& s : all_orders()) {
    ScopedSettings scoped(s);
    INFO(describe(s));
    for (unsigned flags : {unsigned(cudaStreamDefault), unsigned(cudaStreamNonBlocking)}) {
      DeviceBuffer<float> dx(kernel_memory(), std::vector<float>(kCount, 1.f)), dy(kernel_memory(), kCount);
      Stream side(flags);
      LAUNCH(scale_kernel, 1, kCount, 0, side.s)(dy.data(), dx.data(), 4.f, kCount);
      // A synchronous copy runs on the legacy stream: after earlier work of blocking streams only.
      const std::vector<float> got = legacy_stream_copy(dy);
      if (flags == cudaStreamDefault)
        CHECK(got == std::vector<float>(kCount, 4.f));
      else
        CHECK(all_poison(got));
      CUDA_CHECK(cudaDeviceSynchronize());
      CHECK(dy.download() == std::vector<float>(kCount, 4.f));
    }
  }
}

TEST_CASE("streams: (planted) a host read before synchronising sees poison, not the data", "[emu][streams]") {
  DeviceBuffer<float> dx(kernel_memory(), std::vector<float>(kCount, 2.5f));
  Stream s;
  std::vector<float> host(kCount, 0.f);
  CUDA_CHECK(cudaMemcpyAsync(host.data(), dx.data(), kCount * sizeof(float), cudaMemcpyDeviceToHost, s.s));
  CHECK(all_poison(host));   // read too early: the copy has not run
  CUDA_CHECK(cudaStreamSynchronize(s.s));
  CHECK(host == std::vector<float>(kCount, 2.5f));

  // A host-to-device copy reads its source when the stream gets to it, as from pinned memory.
  std::vector<float> src(kCount, 1.f);
  DeviceBuffer<float> dy(kernel_memory(), kCount);
  CUDA_CHECK(cudaMemcpyAsync(dy.data(), src.data(), kCount * sizeof(float), cudaMemcpyHostToDevice, s.s));
  std::fill(src.begin(), src.end(), 9.f);   // reused before the copy ran
  CUDA_CHECK(cudaStreamSynchronize(s.s));
  CHECK(dy.download() == std::vector<float>(kCount, 9.f));
}

TEST_CASE("streams: events order streams, time work and can be queried", "[emu][streams]") {
  Stream a, b;
  Event start, stop, never;
  CHECK(cudaEventQuery(never.e) == cudaSuccess);        // never recorded: complete
  CHECK(cudaEventSynchronize(never.e) == cudaSuccess);
  DeviceBuffer<float> dx(kernel_memory(), std::vector<float>(kCount, 1.f)), dy(kernel_memory(), kCount);
  CUDA_CHECK(cudaEventRecord(start.e, a.s));
  LAUNCH(scale_kernel, 1, kCount, 0, a.s)(dy.data(), dx.data(), 2.f, kCount);
  CUDA_CHECK(cudaEventRecord(stop.e, a.s));
  float ms = -1.f;
  CHECK(cudaEventElapsedTime(&ms, start.e, stop.e) == cudaErrorNotReady);
  cudaGetLastError();
  int polls = 0;
  while (cudaEventQuery(stop.e) == cudaErrorNotReady) ++polls;   // a polling loop terminates
  CHECK(polls >= 1);
  CUDA_CHECK(cudaEventElapsedTime(&ms, start.e, stop.e));
  CHECK(ms >= 0.f);
  CHECK(dy.download() == std::vector<float>(kCount, 2.f));
}

TEST_CASE("streams: capture records work, graphs replay it with the captured values", "[emu][streams]") {
  for (const Settings& s : all_orders()) {
    ScopedSettings scoped(s);
    INFO(describe(s));
    DeviceBuffer<float> dx(kernel_memory(), std::vector<float>(kCount, 1.f)), dy(kernel_memory(), kCount);
    fill_bytes(dy, 0);
    Stream st;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    CUDA_CHECK(cudaStreamBeginCapture(st.s, cudaStreamCaptureModeThreadLocal));
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    CUDA_CHECK(cudaStreamIsCapturing(st.s, &status));
    CHECK(status == cudaStreamCaptureStatusActive);
    float factor = 3.f;
    LAUNCH(scale_kernel, 1, kCount, 0, st.s)(dy.data(), dx.data(), factor, kCount);   // y = 3 x
    CUDA_CHECK(cudaMemcpyAsync(dx.data(), dy.data(), kCount * sizeof(float), cudaMemcpyDeviceToDevice, st.s));
    factor = 100.f;   // the graph keeps the value it captured
    CUDA_CHECK(cudaStreamEndCapture(st.s, &graph));
    CHECK(legacy_stream_copy(dy) == std::vector<float>(kCount, 0.f));   // recorded, not run
    CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    for (int i = 0; i < 3; ++i) CUDA_CHECK(cudaGraphLaunch(exec, st.s));
    CUDA_CHECK(cudaStreamSynchronize(st.s));
    CHECK(dx.download() == std::vector<float>(kCount, 27.f));   // three replays: x *= 3 each
    CUDA_CHECK(cudaGraphExecDestroy(exec));
    CUDA_CHECK(cudaGraphDestroy(graph));
    // Using a destroyed exec or stream is an error, not undefined behaviour.
    CHECK(cudaGraphLaunch(exec, st.s) == cudaErrorInvalidResourceHandle);
    cudaStream_t dead = nullptr;
    CUDA_CHECK(cudaStreamCreateWithFlags(&dead, cudaStreamNonBlocking));
    CUDA_CHECK(cudaStreamDestroy(dead));
    LAUNCH(scale_kernel, 1, kCount, 0, dead)(dy.data(), dx.data(), 1.f, kCount);
    CHECK(cudaGetLastError() == cudaErrorInvalidResourceHandle);
    CHECK(cudaStreamSynchronize(dead) == cudaErrorInvalidResourceHandle);
    cudaGetLastError();
  }
}

TEST_CASE("streams: what capture forbids fails and invalidates the capture", "[emu][streams]") {
  DeviceBuffer<float> d(kernel_memory(), kCount);
  Stream st;
  cudaGraph_t graph = nullptr;
  auto capture_with = [&](auto&& forbidden) {
    CUDA_CHECK(cudaStreamBeginCapture(st.s, cudaStreamCaptureModeThreadLocal));
    const cudaError_t e = forbidden();
    const cudaError_t end = cudaStreamEndCapture(st.s, &graph);
    cudaGetLastError();
    return std::pair{e, end};
  };
  auto [sync, sync_end] = capture_with([&] { return cudaStreamSynchronize(st.s); });
  CHECK(sync == cudaErrorStreamCaptureUnsupported);
  CHECK(sync_end == cudaErrorStreamCaptureInvalidated);
  CHECK(graph == nullptr);
  void* p = nullptr;
  auto [alloc, alloc_end] = capture_with([&] { return cudaMalloc(&p, 64); });
  CHECK(alloc == cudaErrorStreamCaptureUnsupported);
  CHECK(alloc_end == cudaErrorStreamCaptureInvalidated);
  std::vector<float> host(kCount);
  auto [copy, copy_end] =
      capture_with([&] { return cudaMemcpy(host.data(), d.data(), kCount * sizeof(float), cudaMemcpyDeviceToHost); });
  CHECK(copy == cudaErrorStreamCaptureUnsupported);
  CHECK(copy_end == cudaErrorStreamCaptureInvalidated);
  // Capturing a blocking stream: legacy-stream work would have to wait for it.
  Stream blocking(cudaStreamDefault);
  CUDA_CHECK(cudaStreamBeginCapture(blocking.s, cudaStreamCaptureModeRelaxed));
  CHECK(cudaMemset(d.data(), 0, 16) == cudaErrorStreamCaptureImplicit);
  CHECK(cudaStreamEndCapture(blocking.s, &graph) == cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();
}

TEST_CASE("streams: (planted) a graph replay through a freed buffer aborts naming the allocation", "[emu][streams]") {
  const ChildOutcome child = run_in_child([] {
    float* dy = nullptr;
    DeviceBuffer<float> dx(kernel_memory(), std::vector<float>(kCount, 1.f));
    CUDA_CHECK(cudaMalloc(&dy, kCount * sizeof(float)));
    Stream st;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    CUDA_CHECK(cudaStreamBeginCapture(st.s, cudaStreamCaptureModeThreadLocal));
    CUDA_CHECK(cudaMemsetAsync(dy, 0, kCount * sizeof(float), st.s));
    LAUNCH(scale_kernel, 1, kCount, 0, st.s)(dy, dx.data(), 2.f, kCount);
    CUDA_CHECK(cudaStreamEndCapture(st.s, &graph));
    CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    CUDA_CHECK(cudaFree(dy));   // the graph still holds the pointer
    CUDA_CHECK(cudaGraphLaunch(exec, st.s));
    CUDA_CHECK(cudaStreamSynchronize(st.s));
    return 0;
  });
  INFO("child output: " << child.err);
  CHECK(child.aborted());
  CHECK(child.err.find("graph replay") != std::string::npos);
  CHECK(child.err.find("test_emu_streams.cpp:") != std::string::npos);   // the site of the queued work
}

TEST_CASE("streams: correct multi-stream code gives identical results in every interleaving", "[emu][streams]") {
  // Fork-join: a scales x on s1, b on s2 (each after a shared upload), s1 waits for s2 and adds.
  auto run = [] {
    std::vector<float> x(kCount);
    for (int i = 0; i < kCount; ++i) x[i] = 0.25f * float(i);
    DeviceBuffer<float> dx(kernel_memory(), kCount), da(kernel_memory(), kCount), db(kernel_memory(), kCount),
        dsum(kernel_memory(), kCount);
    Stream s1, s2;
    Event uploaded, b_done;
    CUDA_CHECK(cudaMemcpyAsync(dx.data(), x.data(), kCount * sizeof(float), cudaMemcpyHostToDevice, s1.s));
    CUDA_CHECK(cudaEventRecord(uploaded.e, s1.s));
    CUDA_CHECK(cudaStreamWaitEvent(s2.s, uploaded.e, 0));
    LAUNCH(scale_kernel, 1, kCount, 0, s1.s)(da.data(), dx.data(), 2.f, kCount);
    LAUNCH(scale_kernel, 1, kCount, 0, s2.s)(db.data(), dx.data(), -0.5f, kCount);
    CUDA_CHECK(cudaEventRecord(b_done.e, s2.s));
    CUDA_CHECK(cudaStreamWaitEvent(s1.s, b_done.e, 0));
    CUDA_CHECK(cudaMemcpyAsync(dsum.data(), da.data(), kCount * sizeof(float), cudaMemcpyDeviceToDevice, s1.s));
    LAUNCH(scale_kernel, 1, kCount, 0, s1.s)(da.data(), db.data(), 1.f, kCount);   // a := b
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> out = dsum.download(), bcopy = da.download();
    out.insert(out.end(), bcopy.begin(), bcopy.end());
    return out;
  };
  std::vector<std::vector<float>> results;
  for (const Settings& s : all_orders()) {
    ScopedSettings scoped(s);
    results.push_back(run());
  }
  for (int i = 0; i < kCount; ++i) {
    CHECK(results[0][i] == 0.5f * float(i));
    CHECK(results[0][kCount + i] == -0.125f * float(i));
  }
  for (const auto& r : results) CHECK(r == results[0]);
}
