// Include from exactly ONE translation unit of each executable that draws figures (its main).
// fontconfig, which Cairo uses for text, keeps its caches for the life of the process by design;
// LeakSanitizer (sanitize preset) would report them at exit and fail the run. OpenMPI (train_mnist
// under mpirun) likewise keeps allocations of MPI_Init past MPI_Finalize, in its libraries and in
// the components it loads (mca_*.so).
#pragma once

// OpenMPI's libraries and components (the MPI test programs include this header too).
#define ZS_LSAN_MPI_SUPPRESSIONS \
  "leak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\nleak:libpmix.so\nleak:libhwloc.so\n" \
  "leak:libevent\nleak:mca_\n"

extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libfontconfig.so\n" ZS_LSAN_MPI_SUPPRESSIONS;
}
