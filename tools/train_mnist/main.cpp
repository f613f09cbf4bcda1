// train_mnist: the driver that replicates the blog series (see README.md).
// Exit codes: 0 success, 2 bad input (one message on stderr naming the problem and the fix),
// 1 internal error, 128 + N stopped by signal N (SIGINT 130, SIGTERM 143) at a step boundary.
#include <cstdio>
#include <exception>
#include <new>

#include <CLI/CLI.hpp>

#include "runtime/core/error.h"
#include "runtime/core/interrupt.h"
#include "runtime/plot/lsan_suppressions.h"
#include "tools/train_mnist/commands.h"
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

}  // namespace

int main(int argc, char** argv) {
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
    std::fprintf(stderr, "train_mnist: %s; run train_mnist %s--help for the options\n", e.what(),
                 app.get_subcommands().empty() ? "" : (app.get_subcommands()[0]->get_name() + " ").c_str());
    return 2;
  } catch (const zs::Interrupted& e) {
    std::fprintf(stderr, "train_mnist: %s\n", e.what());
    return 128 + e.signal;  // the shell's convention for "ended by signal N"
  } catch (const zs::UserError& e) {
    std::fprintf(stderr, "train_mnist: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "train_mnist: out of memory; lower --batch or --train-limit, or free memory\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_mnist: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
