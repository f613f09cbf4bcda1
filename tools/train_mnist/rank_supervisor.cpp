#include "tools/train_mnist/rank_supervisor.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "runtime/dist/mpi_communicator.h"
#include "tools/train_mnist/common.h"

namespace zs::driver {
namespace {

volatile sig_atomic_t g_worker = 0;      // the worker's pid, for the forwarding handler
volatile sig_atomic_t g_forwarded = 0;   // the last signal forwarded to it (0: none)

constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};

void forward_to_worker(int sig) {
  g_forwarded = sig;
  if (g_worker > 0) ::kill(pid_t(g_worker), sig);
}

// The rank and size the launcher gave this process (MPI is not initialised in the supervisor).
int env_int(std::initializer_list<const char*> names, int fallback) {
  for (const char* n : names)
    if (const char* v = std::getenv(n)) return std::atoi(v);
  return fallback;
}

bool is_crash(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGABRT || sig == SIGSYS ||
         sig == SIGTRAP;
}

// The one line for a worker that died of `sig`, and the exit code (2: killed from outside, the
// contract's "a rank that fails"; 1: a crash, the driver's internal error).
int report_death(int sig, pid_t worker) {
  const int rank = env_int({"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}, 0);
  const int size = env_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}, 1);
  const char* abbrev = sigabbrev_np(sig);
  const std::string name = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
  std::string cause;
  int code = 2;
  if (sig == SIGKILL) {
    cause = "its process (pid " + std::to_string(worker) + ") was killed by SIGKILL: the kernel's out-of-memory "
            "killer does that when memory runs out (lower --batch or --train-limit, or run fewer ranks per "
            "machine), or someone ran kill -9";
  } else if (is_crash(sig)) {
    cause = "internal error: its process (pid " + std::to_string(worker) + ") crashed with " + name +
            "; please report it with the command line";
    code = 1;
  } else {
    cause = "its process (pid " + std::to_string(worker) + ") was killed by " + name + " from outside the job";
  }
  std::fprintf(stderr, "train_mnist: rank %d of %d: %s; the job is ended on every rank\n", rank, size,
               cause.c_str());
  std::fflush(stderr);
  return code;
}

[[noreturn]] void wait_for_worker(pid_t worker) {
  int status = 0;
  while (::waitpid(worker, &status, 0) < 0) {
    if (errno == EINTR) continue;
    std::fprintf(stderr, "train_mnist: waitpid: %s\n", std::strerror(errno));
    std::_Exit(1);
  }
  if (WIFEXITED(status)) std::_Exit(WEXITSTATUS(status));
  const int sig = WTERMSIG(status);
  // The launcher's teardown or the user's Ctrl-C, passed on by us: not this rank's failure.
  if (g_forwarded != 0) std::_Exit(128 + sig);
  // The dead worker could not remove its scratch --out (ranks > 0): done here, at once.
  remove_dead_scratch_outs();
  std::_Exit(report_death(sig, worker));
}

}  // namespace

void supervise_rank_if_launched() {
  if (!launched_by_mpi()) return;
  if (const char* off = std::getenv("ZS_NO_RANK_SUPERVISOR"); off && std::string(off) == "1") return;
  const pid_t supervisor = ::getpid();
  // The forwarded signals are blocked until the worker's pid is known (they stay pending, then
  // reach the handler once), and the handler is installed before the fork.
  sigset_t forwarded, unblocked;
  sigemptyset(&forwarded);
  for (int sig : kForwardedSignals) sigaddset(&forwarded, sig);
  ::sigprocmask(SIG_BLOCK, &forwarded, &unblocked);
  struct sigaction forward {};
  forward.sa_handler = forward_to_worker;
  sigemptyset(&forward.sa_mask);
  struct sigaction previous[std::size(kForwardedSignals)];
  for (size_t i = 0; i < std::size(kForwardedSignals); ++i) ::sigaction(kForwardedSignals[i], &forward, &previous[i]);
  const pid_t worker = ::fork();
  if (worker < 0) {
    std::fprintf(stderr, "train_mnist: cannot start the rank's worker process: %s; free memory or raise the process "
                         "limit\n", std::strerror(errno));
    std::_Exit(2);
  }
  if (worker == 0) {
    for (size_t i = 0; i < std::size(kForwardedSignals); ++i) ::sigaction(kForwardedSignals[i], &previous[i], nullptr);
    // Its own process group: a launcher that signals the rank's group (OpenMPI's orted does) then
    // reaches the worker once, through the supervisor, and a second signal, which makes a run die
    // at once instead of at its step boundary, never comes from the same teardown.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != supervisor) std::_Exit(128 + SIGKILL);   // the supervisor died before prctl
    ::sigprocmask(SIG_SETMASK, &unblocked, nullptr);
    return;
  }
  g_worker = worker;
  ::sigprocmask(SIG_SETMASK, &unblocked, nullptr);   // a signal that came meanwhile is forwarded now
  wait_for_worker(worker);
}

}  // namespace zs::driver
