// Sums of device float buffers across ranks with NCCL (the engine behind
// Communicator::allreduce_sum_device when every rank runs on a cuda backend). Built only where
// nvcc, NCCL and MPI are all found (ZSPACE_HAVE_NCCL); nccl_stub.cpp otherwise.
// ncclAllReduce is a ring (or tree) reduce-scatter + allgather: every rank ends with the same bits,
// and a run is repeatable for a fixed R, topology and NCCL version, but the order of the sum is
// NCCL's, not rank order (so R GPUs match one GPU to float rounding, not bit for bit).
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

namespace zs {

class NcclReducer {
 public:
  virtual ~NcclReducer() = default;
  // sum over ranks of weight_r * values_r, in place, on NCCL's own stream (the weight is NCCL's
  // pre-multiplied sum, ncclRedOpCreatePreMulSum); returns when the sum is in `device_values`.
  virtual void allreduce_sum(float* device_values, size_t count, double weight) = 0;
};

// `broadcast_from_rank0(bytes, n)`: the host broadcast that carries rank 0's ncclUniqueId (MPI).
std::unique_ptr<NcclReducer> make_nccl_reducer(int rank, int ranks,
                                               const std::function<void(void*, size_t)>& broadcast_from_rank0);
bool nccl_in_build();

}  // namespace zs
