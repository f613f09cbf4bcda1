// Runs test code that must crash (a planted fault, an abort) in a fork()ed child, and hands the
// parent its exit status and everything it printed, so a Catch2 test can check the report.
#pragma once
#include <catch2/catch.hpp>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <string>

namespace zs::test_support {

struct ChildOutcome {
  int status = 0;
  std::string err;   // the child's stderr and stdout
  bool aborted() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT; }
  bool exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
};

// Runs body() in a fork()ed child with stderr and stdout captured (the latter has what Catch2
// prints from the child, if anything); the child never returns into Catch2.
// It exits with body()'s value, or 99 when body() throws. The parent fails the test if the child
// produced no outcome at all.
inline ChildOutcome run_in_child(const std::function<int()>& body) {
  std::cout.flush();
  std::fflush(nullptr);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[1]);
    signal(SIGABRT, SIG_DFL);             // not Catch2's handler: the parent judges the abort
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);   // no core files from the planted faults
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    int code = 99;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child threw: %s\n", e.what());
    }
    std::fflush(nullptr);
    _exit(code);
  }
  close(fds[1]);
  ChildOutcome outcome;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    outcome.err.append(buffer, std::size_t(n));
  }
  close(fds[0]);
  REQUIRE(waitpid(pid, &outcome.status, 0) == pid);
  return outcome;
}

}  // namespace zs::test_support
