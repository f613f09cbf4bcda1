// train_mnist: the driver that replicates the blog series (see README.md).
// Exit codes: 0 success, 2 bad input (one message on stderr naming the problem and the fix),
// 1 internal error.
#include <cstdio>
#include <exception>
#include <new>

#include <CLI/CLI.hpp>

#include "runtime/core/error.h"
#include "runtime/plot/lsan_suppressions.h"
#include "tools/train_mnist/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"train_mnist: autoencoders, VAEs and KMeans on MNIST (zspace)"};
  app.require_subcommand(1);
  zs::driver::register_ae(app);
  zs::driver::register_vae(app);
  zs::driver::register_kmeans(app);
  zs::driver::register_elbow(app);
  zs::driver::register_ae_kmeans(app);
  zs::driver::register_tsne(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "train_mnist: %s; run train_mnist %s--help for the options\n", e.what(),
                 app.get_subcommands().empty() ? "" : (app.get_subcommands()[0]->get_name() + " ").c_str());
    return 2;
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
