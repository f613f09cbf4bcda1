// zs::simt — the CUDA surface that kernels/*.cu see when g++ compiles them for the CPU emulator.
// Include it through kernels/common.cuh, and include no other CUDA header after it.
//
// What it provides (the rest of the CUDA world is a compile error, on purpose):
//   __global__ __device__ __host__ __constant__ __managed__ -> nothing (plain host code)
//   __shared__        -> a compile error: declare static shared memory with
//   STATIC_SHARED(T, name, dims) -> `alignas(16) static thread_local T name dims;` (one OS thread
//                        runs one block at a time with all of its fibers, so that copy IS the
//                        block's shared memory), poisoned at every block start: NaN bytes for
//                        floating-point elements, 0xA5 bytes for the rest (static_shared.h).
//   __launch_bounds__(...) -> nothing
//   threadIdx blockIdx blockDim gridDim -> read from the running fiber (fiber_slot.h)
//   __syncthreads[_count|_and|_or], __syncwarp, __shfl[_up|_down|_xor]_sync, __ballot_sync,
//   __any_sync, __all_sync, __activemask -> the block scheduler (strict checks, file:line)
//   math / bit / atomic intrinsics -> intrinsics.h;   cuda* runtime calls -> cuda_api.h
//   __trap(), and float4 / float2 accesses of kernels/vector_io.cuh at a misaligned address
//                     -> the kernel fails: the synchronisation that runs it throws KernelError naming the file:line
//   LAUNCH(k, grid, block, smem, stream)(args...) -> launch.h (queued on its stream: device_queue.h);
//   DYNAMIC_SHARED(T, name) -> T* name = the block's dynamic shared memory, 0xFF bytes at every block start.
// Settings (thread order, strict mode, OS threads): settings.h and the ZS_EMU_* variables.
#pragma once
#if defined(__CUDACC__)
#error "runtime/simt/simt.h is the emulator's CUDA surface for g++; nvcc builds use <cuda_runtime.h>"
#endif

#include <cuda_runtime.h>   // types only (dim3, float4, cudaError_t...); libcudart is never linked

#include <cmath>    // expf & co., and printf, which nvcc makes available to device code
#include <cstdio>

#include "runtime/simt/cuda_api.h"
#include "runtime/simt/diagnostics.h"
#include "runtime/simt/fiber_slot.h"
#include "runtime/simt/intrinsics.h"
#include "runtime/simt/launch.h"
#include "runtime/simt/settings.h"
#include "runtime/simt/static_shared.h"

// ---- execution spaces (redefined after the CUDA headers, whatever they chose) ----
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __constant__
#undef __managed__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
// Plain __shared__ would be a `static thread_local` that keeps the previous block's values.
#define __shared__ \
  static_assert(false, "emulator builds: declare shared memory with STATIC_SHARED(T, name, dims), not __shared__");
#define __constant__
#define __managed__
#define __launch_bounds__(...)

// ---- built-in variables of the running CUDA thread ----
#define threadIdx (::zs::simt::current_slot().thread_idx)
#define blockIdx (::zs::simt::current_slot().block_idx)
#define blockDim (::zs::simt::current_slot().block_dim)
#define gridDim (::zs::simt::current_slot().grid_dim)

// ---- synchronisation (the call site is recorded for strict-mode reports) ----
#define __syncthreads() ::zs::simt::detail::syncthreads(ZS_SIMT_HERE)
#define __syncthreads_count(predicate) ::zs::simt::detail::syncthreads_count(ZS_SIMT_HERE, (predicate))
#define __syncthreads_and(predicate) ::zs::simt::detail::syncthreads_and(ZS_SIMT_HERE, (predicate))
#define __syncthreads_or(predicate) ::zs::simt::detail::syncthreads_or(ZS_SIMT_HERE, (predicate))
#define __syncwarp(...) ::zs::simt::detail::syncwarp(ZS_SIMT_HERE __VA_OPT__(, ) __VA_ARGS__)
#define __shfl_sync(...) ::zs::simt::detail::shuffle(ZS_SIMT_HERE, ::zs::simt::WarpOp::ShflIdx, __VA_ARGS__)
#define __shfl_up_sync(...) ::zs::simt::detail::shuffle(ZS_SIMT_HERE, ::zs::simt::WarpOp::ShflUp, __VA_ARGS__)
#define __shfl_down_sync(...) ::zs::simt::detail::shuffle(ZS_SIMT_HERE, ::zs::simt::WarpOp::ShflDown, __VA_ARGS__)
#define __shfl_xor_sync(...) ::zs::simt::detail::shuffle(ZS_SIMT_HERE, ::zs::simt::WarpOp::ShflXor, __VA_ARGS__)
#define __ballot_sync(mask, predicate) \
  ::zs::simt::detail::vote(ZS_SIMT_HERE, ::zs::simt::WarpOp::Ballot, (mask), (predicate))
#define __any_sync(mask, predicate) \
  int(::zs::simt::detail::vote(ZS_SIMT_HERE, ::zs::simt::WarpOp::Any, (mask), (predicate)))
#define __all_sync(mask, predicate) \
  int(::zs::simt::detail::vote(ZS_SIMT_HERE, ::zs::simt::WarpOp::All, (mask), (predicate)))
// Lanes of the warp that have not exited (the emulator has no notion of convergence).
#define __activemask() ::zs::simt::detail::active_mask()

// ---- math, bit and atomic intrinsics: global names, as in CUDA ----
using namespace ::zs::simt::device;

// ---- runtime API ----
// Calls that queue device work note their source line first, so reports can name it.
#define ZS_SIMT_NOTED_CALL(name, ...) (::zs::simt::note_api_site(ZS_SIMT_HERE), ::zs::simt::api::name(__VA_ARGS__))
#define cudaMemcpy(...) ZS_SIMT_NOTED_CALL(cudaMemcpy, __VA_ARGS__)
#define cudaMemcpyAsync(...) ZS_SIMT_NOTED_CALL(cudaMemcpyAsync, __VA_ARGS__)
#define cudaMemset(...) ZS_SIMT_NOTED_CALL(cudaMemset, __VA_ARGS__)
#define cudaMemsetAsync(...) ZS_SIMT_NOTED_CALL(cudaMemsetAsync, __VA_ARGS__)
#define cudaEventRecord(...) ZS_SIMT_NOTED_CALL(cudaEventRecord, __VA_ARGS__)
#define cudaStreamWaitEvent(...) ZS_SIMT_NOTED_CALL(cudaStreamWaitEvent, __VA_ARGS__)
#define cudaGraphLaunch(...) ZS_SIMT_NOTED_CALL(cudaGraphLaunch, __VA_ARGS__)
#define cudaMalloc ::zs::simt::api::cudaMalloc
#define cudaFree ::zs::simt::api::cudaFree
#define cudaMallocHost ::zs::simt::api::cudaMallocHost
#define cudaFreeHost ::zs::simt::api::cudaFreeHost
#define cudaMemcpyToSymbol ::zs::simt::api::cudaMemcpyToSymbol
#define cudaMemcpyFromSymbol ::zs::simt::api::cudaMemcpyFromSymbol
#define cudaGetLastError ::zs::simt::api::cudaGetLastError
#define cudaPeekAtLastError ::zs::simt::api::cudaPeekAtLastError
#define cudaGetErrorString ::zs::simt::api::cudaGetErrorString
#define cudaGetErrorName ::zs::simt::api::cudaGetErrorName
#define cudaDeviceSynchronize ::zs::simt::api::cudaDeviceSynchronize
#define cudaGetDeviceCount ::zs::simt::api::cudaGetDeviceCount
#define cudaSetDevice ::zs::simt::api::cudaSetDevice
#define cudaGetDevice ::zs::simt::api::cudaGetDevice
#define cudaGetDeviceProperties ::zs::simt::api::cudaGetDeviceProperties
#define cudaDeviceGetAttribute ::zs::simt::api::cudaDeviceGetAttribute
#define cudaMemGetInfo ::zs::simt::api::cudaMemGetInfo
#define cudaStreamCreate ::zs::simt::api::cudaStreamCreate
#define cudaStreamCreateWithFlags ::zs::simt::api::cudaStreamCreateWithFlags
#define cudaStreamDestroy ::zs::simt::api::cudaStreamDestroy
#define cudaStreamSynchronize ::zs::simt::api::cudaStreamSynchronize
#define cudaStreamQuery ::zs::simt::api::cudaStreamQuery
#define cudaStreamBeginCapture ::zs::simt::api::cudaStreamBeginCapture
#define cudaStreamEndCapture ::zs::simt::api::cudaStreamEndCapture
#define cudaStreamIsCapturing ::zs::simt::api::cudaStreamIsCapturing
#define cudaGraphInstantiate ::zs::simt::api::cudaGraphInstantiate
#define cudaGraphInstantiateWithFlags ::zs::simt::api::cudaGraphInstantiateWithFlags
#define cudaGraphExecDestroy ::zs::simt::api::cudaGraphExecDestroy
#define cudaGraphDestroy ::zs::simt::api::cudaGraphDestroy
#define cudaEventQuery ::zs::simt::api::cudaEventQuery
#define cudaEventCreate ::zs::simt::api::cudaEventCreate
#define cudaEventCreateWithFlags ::zs::simt::api::cudaEventCreateWithFlags
#define cudaEventSynchronize ::zs::simt::api::cudaEventSynchronize
#define cudaEventElapsedTime ::zs::simt::api::cudaEventElapsedTime
#define cudaEventDestroy ::zs::simt::api::cudaEventDestroy
#define cudaFuncSetAttribute ::zs::simt::api::cudaFuncSetAttribute

// ---- launches, dynamic and static shared memory ----
#define LAUNCH(kernel, grid, block, smem, stream) \
  ::zs::simt::make_launch(kernel, grid, block, smem, stream, #kernel, ZS_SIMT_HERE)
#define DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::zs::simt::current_slot().dynamic_smem)
// The stamp next to the variable records the block it was last poisoned for (static_shared.h).
#define STATIC_SHARED(T, name, dims)                        \
  alignas(16) static thread_local T name dims;              \
  static thread_local uint64_t name##_zs_poisoned_for_ = 0; \
  ::zs::simt::detail::poison_static_shared(name, name##_zs_poisoned_for_)
