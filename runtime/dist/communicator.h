// Communicator: the one seam between the algorithms (KMeans, the Trainer) and whatever engine runs
// several processes (MPI for host buffers, NCCL for device buffers; Gloo or anything else later
// is one more subclass, the algorithms do not change).
//
// Contract, for every implementation:
// - Collectives are called by EVERY rank in the same order with the same sizes.
// - allreduce_sum is deterministic and identical on every rank: each element is summed over the
//   ranks in rank order (0, 1, ..., R-1). Floats are accumulated in double and rounded once.
//   So a run with R ranks gives the same bits every time, and every rank holds the same model.
// - A failure inside a collective (a dead peer) is the launcher's to end (mpirun kills the job);
//   a rank that fails on its own calls abort(), which ends every rank.
//
// The single-process communicator (single_process()) has size 1 and does nothing; the algorithms
// also skip their distributed code entirely when handed none or a size-1 communicator, so a
// single-process run pays nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/core/shard.h"   // Shard, shard_of: how ranks split a data set

namespace zs {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;   // "single", "mpi", "mpi+nccl"

  // Element-wise sums over the ranks, in place (see the contract above).
  virtual void allreduce_sum(std::span<double> values) = 0;
  virtual void allreduce_sum(std::span<float> values) = 0;
  virtual void allreduce_sum(std::span<int64_t> values) = 0;
  // sum over ranks of weight_r * values_r, in place on `count` floats in `be`'s memory (each rank
  // passes its own weight: data-parallel gradients are weighted by slice / batch). The default
  // stages them through the host in double (to_host, times weight, allreduce_sum, rounded once,
  // to_device); an engine that reduces device memory (NCCL) overrides it.
  virtual void allreduce_sum_device(Backend& be, float* values, size_t count, double weight = 1.0);

  // The concatenation, in rank order, of every rank's `local` (sizes may differ), on every rank.
  virtual std::vector<double> allgather(std::span<const double> local) = 0;
  virtual std::vector<int32_t> allgather(std::span<const int32_t> local) = 0;

  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;

  // Ends every rank of the job with exit code `code` (the caller has printed why).
  [[noreturn]] virtual void abort(int code) = 0;
};

// True when comm spans more than one process: the algorithms' test for their distributed path.
inline bool distributed(const Communicator* comm) { return comm && comm->size() > 1; }

// The size-1 communicator (rank 0 of 1): every collective is the identity.
Communicator& single_process();

}  // namespace zs
