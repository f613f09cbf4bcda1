// The emulated device's asynchrony: streams are queues, events mark points in them, and stream
// capture records work into graphs that replay it (the CUDA runtime calls in cuda_api.cpp and
// LAUNCH in launch.h are thin wrappers around this).
//
// Model (CUDA's, as the programming guide defines it):
//   - Every operation (kernel, async copy or memset, event record, wait, graph launch) is queued
//     on its stream and runs at a later synchronisation point that needs it, not at the call.
//     Operations of one stream run in issue order.
//   - The legacy default stream (0, cudaStreamLegacy) waits for all earlier work of every
//     BLOCKING stream, and blocking streams wait for earlier legacy-stream work;
//     cudaStreamNonBlocking streams are ordered against nothing but their own work and events.
//   - A synchronisation point runs exactly the work it needs (cudaStreamSynchronize: that
//     stream's queue and what it waits for; cudaEventSynchronize: up to the event; synchronous
//     cudaMemcpy: the legacy stream's dependencies; cudaDeviceSynchronize and cudaFree:
//     everything). Among the runnable heads of the streams it picks the next one by the
//     ZS_EMU_ORDER policy: forward = issue order, reverse = most recently issued first,
//     random = seeded. A missing stream wait thus shows up as a wrong result or poison.
//   - The host destination of a queued device-to-host copy is poisoned (0xFF bytes: float NaN)
//     at the call, so a host read before synchronising sees poison, not stale-but-right data.
//   - Stream capture (cudaStreamBeginCapture .. EndCapture) records the work instead of queueing
//     it; cudaGraphInstantiate copies the record and cudaGraphLaunch queues its nodes, in capture
//     order, with the pointers and values captured (graphs on two streams interleave node by
//     node, as two graphs on a GPU run concurrently). Calls that capture forbids (a sync of
//     the capturing stream, cudaMalloc/cudaFree/synchronous copies from the capturing thread,
//     legacy-stream work beside a capturing blocking stream) fail and invalidate the capture.
//   - Destroyed streams, events, graphs and graph execs are remembered: using one is an error
//     (cudaErrorInvalidResourceHandle) with a one-line report naming what was used.
//   - A kernel that fails (KernelError) throws from the synchronisation call that ran it, and
//     drops all queued work (a real context would be unusable after a fault).
// With ZS_EMU_ASYNC=0 every operation runs at its call (after the work it depends on).
#pragma once
#include <functional>
#include <utility>

#include <cuda_runtime_api.h>

#include "runtime/simt/diagnostics.h"
#include "runtime/simt/settings.h"

namespace zs::simt {

// One unit of device work: what a queue runs and what a graph records.
struct DeviceWork {
  DeviceWork() = default;
  DeviceWork(const char* kind_, const char* name_, Site site_, std::function<void(const Settings&)> run_)
      : kind(kind_), name(name_), site(site_), run(std::move(run_)) {}

  const char* kind = "?";       // "kernel", "cudaMemcpyAsync", "cudaMemsetAsync", ...
  const char* name = nullptr;   // the kernel's name (kernels only)
  Site site;                    // where it was issued
  std::function<void(const Settings&)> run;   // empty for pure ordering markers
  std::function<void()> on_deferred;          // called when the work is queued to run later (not
                                              // captured, not run at once): e.g. poison a host
                                              // destination that must not be read before a sync
  const char* via = nullptr;                  // "graph replay" for the nodes a graph launch queues
  Site via_site;                              // where that graph was launched
};

namespace queue {

// Queues `work` on `stream` (or records it while the stream captures). Returns the error to
// report: a destroyed or unknown stream, a forbidden operation during capture.
cudaError_t submit(cudaStream_t stream, DeviceWork work);

// Synchronisation points (they rethrow a KernelError of the work they run).
cudaError_t synchronize_stream(cudaStream_t stream);
cudaError_t synchronize_device();
// Synchronous operations: queue on the legacy stream and wait for exactly that operation.
cudaError_t submit_and_wait(DeviceWork work);
cudaError_t query_stream(cudaStream_t stream);

// True while a capture forbids "potentially unsafe" calls (cudaMalloc, cudaFree, synchronous
// copies) from the calling thread; such a call invalidates the capture(s) and fails.
bool unsafe_call_forbidden(const char* call);

// Streams.
cudaError_t create_stream(cudaStream_t* stream, unsigned flags);
cudaError_t destroy_stream(cudaStream_t stream);
cudaError_t wait_event(cudaStream_t stream, cudaEvent_t event);

// Events.
cudaError_t create_event(cudaEvent_t* event);
cudaError_t destroy_event(cudaEvent_t event);
cudaError_t record_event(cudaEvent_t event, cudaStream_t stream);
cudaError_t synchronize_event(cudaEvent_t event);
cudaError_t query_event(cudaEvent_t event);
cudaError_t elapsed_ms(float* ms, cudaEvent_t start, cudaEvent_t end);

// Capture and graphs.
cudaError_t begin_capture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t end_capture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t capture_status(cudaStream_t stream, cudaStreamCaptureStatus* status);
cudaError_t instantiate(cudaGraphExec_t* exec, cudaGraph_t graph);
cudaError_t launch_graph(cudaGraphExec_t exec, cudaStream_t stream, Site site);
cudaError_t destroy_graph(cudaGraph_t graph);
cudaError_t destroy_graph_exec(cudaGraphExec_t exec);

// Handles created and not yet destroyed (tests check that error paths release theirs).
struct HandleCounts {
  int streams = 0, events = 0, graphs = 0, graph_execs = 0;
};
HandleCounts live_handles();

}  // namespace queue
}  // namespace zs::simt
