// Builds without MPI (-DZSPACE_MPI=OFF, or AUTO without MPI found): a run under mpirun is refused
// with the fix, instead of R independent single-process runs racing for the same --out.
#include <cstdlib>

#include "runtime/core/error.h"
#include "runtime/dist/mpi_communicator.h"

namespace zs {

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

std::unique_ptr<Communicator> make_mpi_communicator() {
  throw UserError("started by mpirun, but this train_mnist was built without MPI; install openmpi-bin and "
                  "libopenmpi-dev (scripts/setup-deps) and rebuild with -DZSPACE_MPI=ON");
}

void bind_local_gpu() {}

bool mpi_in_build() { return false; }

}  // namespace zs
