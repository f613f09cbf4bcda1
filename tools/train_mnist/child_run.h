// Runs this train_mnist binary again as a child process, for `replicate`: each experiment is the
// very command a user would type, so its outputs, checks and messages are that command's.
//
// The child gets its own process group, so a terminal's Ctrl-C reaches only the parent, which
// forwards it exactly once: the child then stops at a step boundary as any run does (a second
// signal would make it die at once). It dies with the parent (PR_SET_PDEATHSIG: SIGTERM, the same
// graceful stop). Its stdout and stderr go to a log file.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace zs::driver {

struct ChildResult {
  int exit_code = -1;     // the child's exit code, or 128 + N when it died of signal N
  std::string last_line;  // the last non-empty line of its log: its one-line message when it failed
  double cpu_seconds = 0; // user + system time of the child (what the load of other processes does not inflate)
};

// `args` are the arguments after the program name. Waits for the child; throws zs::Interrupted when
// the parent was signalled (after the child stopped), UserError when the child cannot be started.
ChildResult run_train_mnist_child(const std::vector<std::string>& args, const std::filesystem::path& log);

// The command line as a user would type it (arguments with spaces or quotes quoted for a shell).
std::string shell_command(const std::vector<std::string>& args);

}  // namespace zs::driver
