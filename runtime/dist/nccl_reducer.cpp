// NCCL reducer (see nccl_reducer.h). Compiled only when ZSPACE_HAVE_NCCL.
#include "runtime/dist/nccl_reducer.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

namespace zs {
namespace {

void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw std::runtime_error(std::string("NCCL: ") + what + ": " + ncclGetErrorString(r));
}
void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("NCCL reducer: ") + what + ": " + cudaGetErrorString(e));
}

class Nccl final : public NcclReducer {
 public:
  Nccl(int rank, int ranks, const std::function<void(void*, size_t)>& broadcast_from_rank0) {
    ncclUniqueId id{};
    if (rank == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    broadcast_from_rank0(&id, sizeof id);
    check_nccl(ncclCommInitRank(&comm_, ranks, id, rank), "ncclCommInitRank");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~Nccl() override {
    if (stream_) cudaStreamDestroy(stream_);
    if (comm_) ncclCommDestroy(comm_);
  }
  void allreduce_sum(float* device_values, size_t count, double weight) override {
    float scalar = static_cast<float>(weight);
    ncclRedOp_t op;
    check_nccl(ncclRedOpCreatePreMulSum(&op, &scalar, ncclFloat, ncclScalarHostImmediate, comm_),
               "ncclRedOpCreatePreMulSum");
    const ncclResult_t r = ncclAllReduce(device_values, device_values, count, ncclFloat, op, comm_, stream_);
    ncclRedOpDestroy(op, comm_);
    check_nccl(r, "ncclAllReduce");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }

 private:
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<NcclReducer> make_nccl_reducer(int rank, int ranks,
                                               const std::function<void(void*, size_t)>& broadcast_from_rank0) {
  return std::make_unique<Nccl>(rank, ranks, broadcast_from_rank0);
}

bool nccl_in_build() { return true; }

}  // namespace zs
