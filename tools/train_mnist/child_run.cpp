#include "tools/train_mnist/child_run.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <thread>

#include "runtime/core/error.h"
#include "runtime/core/interrupt.h"

namespace zs::driver {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);

std::string last_nonempty_line(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // A live progress bar redraws with carriage returns: keep what follows the last one.
    if (auto cr = line.rfind('\r'); cr != std::string::npos) line = line.substr(cr + 1);
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace

std::string shell_command(const std::vector<std::string>& args) {
  std::string out = "train_mnist";
  for (const std::string& a : args) {
    const bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789-_=./,:+") == std::string::npos;
    if (plain) {
      out += " " + a;
      continue;
    }
    std::string quoted = "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += " " + quoted + "'";
  }
  return out;
}

ChildResult run_train_mnist_child(const std::vector<std::string>& args, const std::filesystem::path& log) {
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0)
    throw UserError("--out: cannot write " + log.string() + ": " + std::strerror(errno) + "; check the folder's permissions");
  std::vector<std::string> argv_strings{"train_mnist"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  GracefulStopScope graceful;  // a signal now only sets the flag: it is forwarded to the child below
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw UserError(std::string("cannot start a train_mnist process: ") + std::strerror(errno) +
                    "; free memory or raise the process limit");
  }
  if (pid == 0) {  // the child: only async-signal-safe calls until exec
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(128 + SIGTERM);  // the parent died before prctl
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::execv("/proc/self/exe", argv.data());
    static const char msg[] = "train_mnist: cannot run /proc/self/exe\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  bool forwarded = false;
  int status = 0;
  rusage usage{};
  for (;;) {
    const pid_t done = ::wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    if (interrupt_requested() && !forwarded) {
      ::kill(pid, interrupt_signal());
      forwarded = true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  ChildResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.last_line = last_nonempty_line(log);
  r.cpu_seconds = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  1e-6 * double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  if (interrupt_requested())
    throw Interrupted("stopped by signal " + std::to_string(interrupt_signal()) + " during " + shell_command(args) +
                          "; run the same replicate command again to continue (complete steps are kept)",
                      interrupt_signal());
  return r;
}

}  // namespace zs::driver
