#include "runtime/simt/cuda_api.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/simt/activity.h"
#include "runtime/simt/device_heap.h"
#include "runtime/simt/device_queue.h"

namespace zs::simt {
namespace {

constexpr std::size_t kAllocationAlignment = 256;   // what cudaMallocHost guarantees
constexpr unsigned char kHostPoisonByte = 0xFF;      // an unfinished device-to-host copy reads as NaN

thread_local cudaError_t tl_last_error = cudaSuccess;

cudaError_t fail(cudaError_t e) {
  tl_last_error = e;
  return e;
}

struct KernelAttributes {
  std::mutex mutex;
  std::unordered_map<const void*, std::size_t> max_dynamic_smem;
};

KernelAttributes& kernel_attributes() {
  static KernelAttributes a;
  return a;
}

struct ErrorText {
  cudaError_t code;
  const char* name;
  const char* text;
};
constexpr ErrorText kErrorTexts[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration", "invalid configuration argument"},
    {cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"},
    {cudaErrorInvalidDeviceFunction, "cudaErrorInvalidDeviceFunction", "invalid device function"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {cudaErrorLaunchOutOfResources, "cudaErrorLaunchOutOfResources", "too many resources requested for launch"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {cudaErrorNotSupported, "cudaErrorNotSupported", "operation not supported"},
    {cudaErrorIllegalState, "cudaErrorIllegalState", "the operation cannot be performed in the present state"},
    {cudaErrorStreamCaptureUnsupported, "cudaErrorStreamCaptureUnsupported",
     "operation not permitted when stream is capturing"},
    {cudaErrorStreamCaptureInvalidated, "cudaErrorStreamCaptureInvalidated",
     "operation failed due to a previous error during capture"},
    {cudaErrorStreamCaptureImplicit, "cudaErrorStreamCaptureImplicit",
     "operation would make the legacy stream depend on a capturing blocking stream"},
    {cudaErrorStreamCaptureIsolation, "cudaErrorStreamCaptureIsolation",
     "dependency created on uncaptured work in another stream"},
    {cudaErrorStreamCaptureWrongThread, "cudaErrorStreamCaptureWrongThread",
     "attempt to terminate a thread-local capture sequence from another thread"},
};

thread_local Site tl_api_site;

struct InjectedFailure {
  std::string call;
  cudaError_t error;
  int skip;
};
std::mutex g_injection_mutex;
std::vector<InjectedFailure> g_injected;

// The error a test injected for this call (fail_next_call), or cudaSuccess.
cudaError_t injected_failure(const char* call) {
  std::lock_guard lock(g_injection_mutex);
  for (auto it = g_injected.begin(); it != g_injected.end(); ++it) {
    if (it->call != call) continue;
    if (it->skip-- > 0) return cudaSuccess;
    const cudaError_t e = it->error;
    g_injected.erase(it);
    return fail(e);
  }
  return cudaSuccess;
}

// Queued copies and memsets check their device side again when they run: the memory may have
// been freed since they were issued (a stale pointer in a replayed graph, say).
void check_device_range_at_run(const void* p, std::size_t bytes, const char* what) {
  if (device_heap::contains(p, bytes)) return;
  const Activity& a = current_activity();
  const std::string where = device_heap::describe(p, bytes);
  std::string via;
  if (a.via) via = std::string(", run by a ") + a.via + " launched at " + a.via_site.file + ":" + std::to_string(a.via_site.line);
  std::fprintf(stderr,
               "zs::simt: %s issued at %s:%d%s touches %zu bytes at %p outside any live device allocation%s%s\n",
               what, a.site.file, a.site.line, via.c_str(), bytes, p, where.empty() ? "" : ": ", where.c_str());
  std::abort();
}

// The work of a validated copy, run when its stream reaches it.
DeviceWork copy_work(const char* kind, void* dst, const void* src, std::size_t bytes, bool dst_device,
                     bool src_device) {
  DeviceWork work(kind, nullptr, take_api_site(), [=](const Settings&) {
    if (dst_device) check_device_range_at_run(dst, bytes, kind);
    if (src_device) check_device_range_at_run(src, bytes, kind);
    std::memmove(dst, src, bytes);
  });
  if (!dst_device)   // a host read before the copy ran must not see stale-but-right data
    work.on_deferred = [dst, bytes] { std::memset(dst, kHostPoisonByte, bytes); };
  return work;
}

DeviceWork memset_work(const char* kind, void* dst, int value, std::size_t bytes) {
  return DeviceWork(kind, nullptr, take_api_site(), [=](const Settings&) {
    check_device_range_at_run(dst, bytes, kind);
    std::memset(dst, value, bytes);
  });
}

// Which sides of a copy are device memory; false when the kind is not a valid direction.
bool copy_sides(cudaMemcpyKind kind, const void* dst, const void* src, std::size_t bytes, bool& dst_device,
                bool& src_device) {
  if (kind == cudaMemcpyDefault) {   // unified addressing: the pointers say
    dst_device = device_heap::contains(dst, bytes);
    src_device = device_heap::contains(src, bytes);
    return true;
  }
  dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  return kind == cudaMemcpyHostToHost || dst_device || src_device;
}

// Validates a copy at its call, like CUDA; the copy itself runs when its stream reaches it.
cudaError_t validate_copy(const char* call, void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                          bool& dst_device, bool& src_device) {
  if (!dst || !src) return fail(cudaErrorInvalidValue);
  if (!copy_sides(kind, dst, src, bytes, dst_device, src_device)) return fail(cudaErrorInvalidMemcpyDirection);
  // The device side must be device memory: catches swapped pointers and overruns.
  if ((dst_device && !device_heap::check_range(dst, bytes, call)) ||
      (src_device && !device_heap::check_range(src, bytes, call)))
    return fail(cudaErrorInvalidValue);
  return cudaSuccess;
}

// cudaFree and the destroy calls may not throw (destructors call them): a kernel failure that
// surfaces while they synchronise is reported and returned as an error code.
cudaError_t synchronize_quietly(const char* call) {
  try {
    return queue::synchronize_device();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zs::simt: %s: queued device work failed: %s\n", call, e.what());
    return fail(cudaErrorLaunchFailure);
  }
}

const ErrorText* find_error(cudaError_t e) {
  for (const ErrorText& t : kErrorTexts)
    if (t.code == e) return &t;
  return nullptr;
}

}  // namespace

void set_last_error(cudaError_t error) { tl_last_error = error; }

void fail_next_call(const char* call, cudaError_t error, int skip) {
  std::lock_guard lock(g_injection_mutex);
  g_injected.push_back({call, error, skip});
}

void note_api_site(Site site) { tl_api_site = site; }
Site take_api_site() { return std::exchange(tl_api_site, Site{}); }

std::size_t dynamic_smem_limit(const void* kernel) {
  KernelAttributes& a = kernel_attributes();
  std::lock_guard lock(a.mutex);
  auto it = a.max_dynamic_smem.find(kernel);
  return it == a.max_dynamic_smem.end() ? kStaticSharedLimit : it->second;
}

std::size_t device_bytes_in_use() { return device_heap::bytes_in_use(); }

namespace api {

// ---- memory ----

cudaError_t cudaMalloc(void** ptr, std::size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (queue::unsafe_call_forbidden("cudaMalloc")) return fail(cudaErrorStreamCaptureUnsupported);
  if (cudaError_t e = injected_failure("cudaMalloc"); e != cudaSuccess) return e;
  if (bytes == 0) return cudaSuccess;
  void* p = device_heap::allocate(bytes);   // poisoned, flush against a guard page: device_heap.h
  if (!p) return fail(cudaErrorMemoryAllocation);
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  take_api_site();
  if (!ptr) return cudaSuccess;
  if (queue::unsafe_call_forbidden("cudaFree")) return fail(cudaErrorStreamCaptureUnsupported);
  // Like a GPU's cudaFree, wait for the device: queued work may still use the memory.
  if (cudaError_t e = synchronize_quietly("cudaFree"); e != cudaSuccess) return e;
  if (device_heap::release(ptr)) return cudaSuccess;
  device_heap::report_if_freed(ptr, 1, "cudaFree");   // a double free
  return fail(cudaErrorInvalidValue);
}

cudaError_t cudaMallocHost(void** ptr, std::size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue);
  *ptr = bytes ? std::aligned_alloc(kAllocationAlignment,
                                    (bytes + kAllocationAlignment - 1) / kAllocationAlignment * kAllocationAlignment)
               : nullptr;
  return (bytes && !*ptr) ? fail(cudaErrorMemoryAllocation) : cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return take_api_site(), cudaSuccess;
  bool dst_device = false, src_device = false;
  if (cudaError_t e = validate_copy("cudaMemcpy", dst, src, bytes, kind, dst_device, src_device); e != cudaSuccess)
    return take_api_site(), e;
  if (!dst_device && !src_device) {   // host to host: no device work to wait for
    take_api_site();
    std::memmove(dst, src, bytes);
    return cudaSuccess;
  }
  // Synchronous: on the legacy stream (after the blocking streams' work), then wait for it.
  return queue::submit_and_wait(copy_work("cudaMemcpy", dst, src, bytes, dst_device, src_device));
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (bytes == 0) return take_api_site(), cudaSuccess;
  bool dst_device = false, src_device = false;
  if (cudaError_t e = validate_copy("cudaMemcpyAsync", dst, src, bytes, kind, dst_device, src_device);
      e != cudaSuccess)
    return take_api_site(), e;
  return queue::submit(stream, copy_work("cudaMemcpyAsync", dst, src, bytes, dst_device, src_device));
}

cudaError_t cudaMemset(void* dst, int value, std::size_t bytes) {
  if (bytes == 0) return take_api_site(), cudaSuccess;
  if (!dst || !device_heap::check_range(dst, bytes, "cudaMemset")) return take_api_site(), fail(cudaErrorInvalidValue);
  // Asynchronous with respect to the host for device memory, like CUDA's: legacy stream.
  return queue::submit(nullptr, memset_work("cudaMemset", dst, value, bytes));
}

cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return take_api_site(), cudaSuccess;
  if (!dst || !device_heap::check_range(dst, bytes, "cudaMemsetAsync"))
    return take_api_site(), fail(cudaErrorInvalidValue);
  return queue::submit(stream, memset_work("cudaMemsetAsync", dst, value, bytes));
}

// ---- errors ----

cudaError_t cudaGetLastError() {
  cudaError_t e = tl_last_error;
  tl_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() { return tl_last_error; }

const char* cudaGetErrorString(cudaError_t error) {
  const ErrorText* t = find_error(error);
  return t ? t->text : "unrecognized error code";
}

const char* cudaGetErrorName(cudaError_t error) {
  const ErrorText* t = find_error(error);
  return t ? t->name : "cudaErrorUnknown";
}

// ---- device ----

cudaError_t cudaDeviceSynchronize() { return queue::synchronize_device(); }

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return fail(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }

cudaError_t cudaGetDevice(int* device) {
  if (!device) return fail(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "zs::simt CPU emulator (GTX 960 limits)");
  prop->totalGlobalMem = device_heap::limit();
  prop->sharedMemPerBlock = kStaticSharedLimit;
  prop->sharedMemPerBlockOptin = kSharedOptinLimit;
  prop->sharedMemPerMultiprocessor = 96 * 1024;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->totalConstMem = 64 * 1024;
  prop->major = 5;
  prop->minor = 2;
  prop->multiProcessorCount = 8;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->l2CacheSize = 1024 * 1024;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!value) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = int(kStaticSharedLimit); break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = int(kSharedOptinLimit); break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMultiProcessorCount: *value = 8; break;
    case cudaDevAttrComputeCapabilityMajor: *value = 5; break;
    case cudaDevAttrComputeCapabilityMinor: *value = 2; break;
    default: return fail(cudaErrorNotSupported);
  }
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes) {
  if (!free_bytes || !total_bytes) return fail(cudaErrorInvalidValue);
  *total_bytes = device_heap::limit();
  *free_bytes = *total_bytes - device_bytes_in_use();
  return cudaSuccess;
}

// ---- streams, events, capture and graphs: device_queue.h ----

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return api::cudaStreamCreateWithFlags(stream, 0); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (cudaError_t e = injected_failure("cudaStreamCreateWithFlags"); e != cudaSuccess) return e;
  return queue::create_stream(stream, flags);
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) { return queue::destroy_stream(stream); }
cudaError_t cudaStreamSynchronize(cudaStream_t stream) { return queue::synchronize_stream(stream); }
cudaError_t cudaStreamQuery(cudaStream_t stream) { return queue::query_stream(stream); }
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  take_api_site();
  return queue::wait_event(stream, event);
}
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  return queue::begin_capture(stream, mode);
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) { return queue::end_capture(stream, graph); }
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  return queue::capture_status(stream, status);
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (cudaError_t e = injected_failure("cudaGraphInstantiate"); e != cudaSuccess) return e;
  return queue::instantiate(exec, graph);
}
cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags) {
  return api::cudaGraphInstantiate(exec, graph, flags);
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  return queue::launch_graph(exec, stream, take_api_site());
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) { return queue::destroy_graph_exec(exec); }
cudaError_t cudaGraphDestroy(cudaGraph_t graph) { return queue::destroy_graph(graph); }

cudaError_t cudaEventCreate(cudaEvent_t* event) { return api::cudaEventCreateWithFlags(event, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  if (cudaError_t e = injected_failure("cudaEventCreate"); e != cudaSuccess) return e;
  return queue::create_event(event);
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  take_api_site();
  return queue::record_event(event, stream);
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) { return queue::synchronize_event(event); }
cudaError_t cudaEventQuery(cudaEvent_t event) { return queue::query_event(event); }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  return queue::elapsed_ms(ms, start, end);
}
cudaError_t cudaEventDestroy(cudaEvent_t event) { return queue::destroy_event(event); }

// ---- kernels ----

cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attr, int value) {
  if (!kernel) return fail(cudaErrorInvalidDeviceFunction);
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;   // hints: nothing to do
  if (value < 0 || std::size_t(value) > kSharedOptinLimit) return fail(cudaErrorInvalidValue);
  KernelAttributes& a = kernel_attributes();
  std::lock_guard lock(a.mutex);
  a.max_dynamic_smem[kernel] = std::size_t(value);
  return cudaSuccess;
}

}  // namespace api
}  // namespace zs::simt
