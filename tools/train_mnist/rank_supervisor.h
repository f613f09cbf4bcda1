// Under an MPI launcher, each rank of train_mnist is two processes: the one mpirun started (the
// supervisor: it forks before anything else and waits) and its child, the worker, which runs the
// command (MPI, the data, the training). Why: a process killed by a signal (kill -9, the kernel's
// out-of-memory killer) cannot say anything, and mpirun would then end the job with its own report
// and exit code 128 + N. The supervisor outlives its worker, so it prints the one line the driver's
// contract asks for, naming the rank and the cause, and exits 2; mpirun ends every other rank and
// returns 2 (the exit code of the first process that failed).
//
// The worker dies with its supervisor (PR_SET_PDEATHSIG: SIGKILL), so when mpirun tears the job
// down nothing is left behind. The supervisor forwards SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2
// to the worker, which stops at a step boundary as any run does (runtime/core/interrupt.h); a worker
// that dies of a signal the supervisor forwarded is the job's teardown, not a failure, and the
// supervisor then exits 128 + N without a message.
//
// Killing the supervisor itself (the small process: kill -9 of the pid mpirun shows) is beyond
// this: mpirun reports that process and exits 137.
#pragma once

namespace zs::driver {

// Call first thing in main, when launched_by_mpi(). In the worker, returns (and the caller goes on
// to run the command). In the supervisor, waits for the worker and never returns: exits with the
// worker's exit code, or as above when the worker died of a signal. Set ZS_NO_RANK_SUPERVISOR=1 to
// run the command in the process mpirun started (debuggers).
void supervise_rank_if_launched();

}  // namespace zs::driver
