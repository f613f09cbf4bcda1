// The part of the CUDA runtime API that kernels and launchers use, emulated on the host.
//
// These live in zs::simt::api, never at global scope: a program may link the emulator AND the
// real libcudart (both backends in one binary), and simt.h maps the CUDA names onto these with
// macros, only in translation units compiled for the emulator. Calls inside this namespace are
// qualified: the CUDA enums are global, so argument-dependent lookup would also find libcudart's
// declarations of the same names and the call would be ambiguous.
//
// Semantics: streams, events, async copies and memsets, stream capture and graphs behave as
// CUDA defines them, emulated by runtime/simt/device_queue.h (work is queued and runs at
// synchronisation points; ZS_EMU_ASYNC=0 runs it at the call). An event records the host time
// at which the emulated device reached it, so cudaEventElapsedTime measures emulated work.
// cudaMalloc and cudaFree synchronise the device, as they do on a GPU. "Device" memory
// is host memory, but it is tracked: it comes poisoned (0xFF bytes: float NaN), copies and
// memsets check that their device side lies inside an allocation, and the total is capped like
// the target GPU's memory (2 GiB, GTX 960; env ZS_EMU_DEVICE_MEM_MIB). The device reports the
// GTX 960's limits (48 KiB shared memory per block, no opt-in beyond it).
// A failing call returns its error AND records it for cudaGetLastError, per host thread.
#pragma once
#include <cstddef>

#include <cuda_runtime_api.h>   // the types: cudaError_t, cudaStream_t, cudaDeviceProp...

#include "runtime/simt/diagnostics.h"

namespace zs::simt {

inline constexpr std::size_t kStaticSharedLimit = 48 * 1024;   // per block, without opt-in
inline constexpr std::size_t kSharedOptinLimit = 48 * 1024;    // the GTX 960 has no more

void set_last_error(cudaError_t error);
// The dynamic shared memory a launch of `kernel` may request (cudaFuncSetAttribute raises it).
std::size_t dynamic_smem_limit(const void* kernel);
std::size_t device_bytes_in_use();
// The source line of the CUDA call being made: simt.h's macros note it, the call takes it (and
// resets it), and queued work is reported under it.
void note_api_site(Site site);
Site take_api_site();
// Fault injection for tests of error paths: the next call of `call` (e.g. "cudaMalloc",
// "cudaStreamCreateWithFlags", "cudaGraphInstantiate", "cudaEventCreate") fails with `error`
// after `skip` more successful ones.
void fail_next_call(const char* call, cudaError_t error, int skip = 0);

namespace api {

cudaError_t cudaMalloc(void** ptr, std::size_t bytes);
template <class T>
cudaError_t cudaMalloc(T** ptr, std::size_t bytes) {
  return api::cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, std::size_t bytes);
template <class T>
cudaError_t cudaMallocHost(T** ptr, std::size_t bytes) {
  return api::cudaMallocHost(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFreeHost(void* ptr);

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, std::size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t stream = nullptr);
// __constant__ and __device__ variables are plain host variables in the emulator.
template <class T>
cudaError_t cudaMemcpyToSymbol(T& symbol, const void* src, std::size_t bytes, std::size_t offset = 0,
                               cudaMemcpyKind = cudaMemcpyHostToDevice) {
  if (offset + bytes > sizeof(T)) return set_last_error(cudaErrorInvalidValue), cudaErrorInvalidValue;
  return api::cudaMemcpy(reinterpret_cast<char*>(&symbol) + offset, src, bytes, cudaMemcpyHostToHost);
}
template <class T>
cudaError_t cudaMemcpyFromSymbol(void* dst, const T& symbol, std::size_t bytes, std::size_t offset = 0,
                                 cudaMemcpyKind = cudaMemcpyDeviceToHost) {
  if (offset + bytes > sizeof(T)) return set_last_error(cudaErrorInvalidValue), cudaErrorInvalidValue;
  return api::cudaMemcpy(dst, reinterpret_cast<const char*>(&symbol) + offset, bytes, cudaMemcpyHostToHost);
}

cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamQuery(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t event);

cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attr, int value);
template <class R, class... P>
cudaError_t cudaFuncSetAttribute(R (*kernel)(P...), cudaFuncAttribute attr, int value) {
  return api::cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attr, value);
}

}  // namespace api
}  // namespace zs::simt
