// The MPI engine of runtime/dist/communicator.h (built with -DZSPACE_MPI, defines ZSPACE_HAVE_MPI).
// Host buffers are reduced with a fixed-order reduce-scatter + allgather: rank q owns the q-th
// segment of the buffer, receives that segment from every rank (MPI_Alltoallv), sums it in rank
// order and the segments are gathered back (MPI_Allgatherv). That is deterministic (MPI_Allreduce
// does not promise a summation order, nor the same bits on every rank) and moves what a ring
// allreduce moves: 2 (R-1)/R of the buffer in and out of each rank.
// With NCCL in the build (ZSPACE_HAVE_NCCL) and a cuda backend, device buffers are reduced by
// ncclAllReduce (its communicator bootstrapped over MPI: rank 0's unique id broadcast).
#pragma once
#include <memory>

#include "runtime/dist/communicator.h"

namespace zs {

// True when this process was started by an MPI launcher (mpirun / srun set these variables); the
// driver initialises MPI only then, so a plain run never touches it.
bool launched_by_mpi();

// MPI_Init (once) and the communicator over MPI_COMM_WORLD; device buffers go through NCCL when
// NCCL is in the build and every rank's backend is cuda (agreed at the first device reduction).
std::unique_ptr<Communicator> make_mpi_communicator();

// One GPU per rank: unless CUDA_VISIBLE_DEVICES is set, shows this rank only GPU
// (node-local rank mod the node's GPUs, counted in /proc/driver/nvidia/gpus without touching CUDA).
// Call before anything initialises CUDA. Ranks beyond the GPU count share them; their device
// buffers are then reduced through the host (NCCL refuses two ranks on one GPU), as with ZS_NCCL=off.
void bind_local_gpu();

// Whether this build has MPI / NCCL.
bool mpi_in_build();
bool nccl_in_build();

}  // namespace zs
