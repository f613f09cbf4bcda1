// train_mnist: the driver that replicates the blog series (see README.md).
// Exit codes: 0 success, 2 bad input (one message on stderr naming the problem and the fix),
// 1 internal error, 128 + N stopped by signal N (SIGINT 130, SIGTERM 143) at a step boundary.
// Under mpirun (runtime/dist/mpi_communicator.h) every rank runs the command; a rank that fails
// prints one line naming itself and the cause and ends every rank with its exit code (MPI_Abort);
// a rank killed by a signal is reported by its supervisor process (rank_supervisor.h), exit 2.
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "runtime/core/error.h"
#include "runtime/core/interrupt.h"
#include "runtime/dist/mpi_communicator.h"
#include "runtime/plot/lsan_suppressions.h"
#include "tools/train_mnist/commands.h"
#include "tools/train_mnist/rank_supervisor.h"
#include "tools/train_mnist/common.h"

namespace {

// CLI11 turns an empty value ("--lr ''") into 0 for floating-point options: every numeric option
// of every command refuses an empty value instead, whatever the option.
void refuse_empty_numbers(CLI::App& app) {
  const CLI::Validator non_empty(
      [](std::string& text) { return text.empty() ? std::string("empty value; give a number") : std::string(); }, "");
  for (CLI::App* cmd : app.get_subcommands([](CLI::App*) { return true; }))
    for (CLI::Option* opt : cmd->get_options()) {
      const std::string type = opt->get_type_name();
      if (type == "INT" || type == "UINT" || type == "FLOAT" || type == "NUMBER") opt->check(non_empty);
    }
}

// Prints `line` and returns `code`, or, when the run spans several ranks, ends them all with `code`:
// a rank that fails alone would otherwise leave the others waiting in a collective. When every rank
// fails the same way (a bad option), rank 0's line is the one printed: the others wait a moment,
// and rank 0's abort ends them first.
int fail(const std::string& line, int code) {
  zs::Communicator& comm = zs::driver::world();
  if (comm.size() == 1) {
    std::fprintf(stderr, "train_mnist: %s\n", line.c_str());
    return code;
  }
  if (comm.rank() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // A signal stops every rank at the same step boundary (run_guards.h): rank 0's line says where
  // to resume; the others' would name their scratch folders.
  const bool interrupted = code > 128;
  if (comm.rank() == 0 || !interrupted) {
    std::fprintf(stderr, "train_mnist: rank %d of %d: %s\n", comm.rank(), comm.size(), line.c_str());
    std::fflush(stderr);
  }
  zs::driver::discard_scratch_out();
  comm.abort(code);
  return code;   // not reached: abort ends the process
}

int run(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
  // MPI only when an MPI launcher started us: a plain run never initialises it.
  std::unique_ptr<zs::Communicator> mpi;
  if (zs::launched_by_mpi()) {
    zs::driver::supervise_rank_if_launched();   // from here on: the rank's worker process
    zs::bind_local_gpu();
    try {
      mpi = zs::make_mpi_communicator();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "train_mnist: %s\n", e.what());
      return 2;
    }
    zs::driver::set_world(mpi.get());
  }
  const int code = run(argc, argv);
  zs::driver::set_world(nullptr);
  return code;
}

namespace {

int run(int argc, char** argv) {
  zs::install_interrupt_handlers();
  CLI::App app{"train_mnist: autoencoders, VAEs and KMeans on MNIST (zspace)"};
  app.require_subcommand(1);
  zs::driver::register_ae(app);
  zs::driver::register_vae(app);
  zs::driver::register_kmeans(app);
  zs::driver::register_elbow(app);
  zs::driver::register_ae_kmeans(app);
  zs::driver::register_tsne(app);
  zs::driver::register_replicate(app);
  app.set_version_flag("--version", [] { return zs::driver::version_text(); });
  refuse_empty_numbers(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + "; run train_mnist " +
                    (app.get_subcommands().empty() ? "" : app.get_subcommands()[0]->get_name() + " ") +
                    "--help for the options",
                2);
  } catch (const zs::Interrupted& e) {
    return fail(e.what(), 128 + e.signal);  // the shell's convention for "ended by signal N"
  } catch (const zs::UserError& e) {
    return fail(e.what(), 2);
  } catch (const std::bad_alloc&) {
    return fail("out of memory; lower --batch or --train-limit, or free memory", 2);
  } catch (const std::exception& e) {
    return fail(std::string("internal error: ") + e.what(), 1);
  }
  return 0;
}

}  // namespace
