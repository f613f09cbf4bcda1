// Builds without NCCL: device buffers are staged through the host (Communicator's default).
#include <stdexcept>

#include "runtime/dist/nccl_reducer.h"

namespace zs {

std::unique_ptr<NcclReducer> make_nccl_reducer(int, int, const std::function<void(void*, size_t)>&) {
  throw std::logic_error("make_nccl_reducer: NCCL is not in this build");
}

bool nccl_in_build() { return false; }

}  // namespace zs
