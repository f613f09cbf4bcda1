// Each command registers itself on the app: `void register_X(CLI::App& app)` adds a subcommand
// whose callback does the work (throwing zs::UserError on bad input). To add a command, declare
// its register function here and call it from main.cpp.
#pragma once
#include <CLI/CLI.hpp>

namespace zs::driver {

void register_ae(CLI::App& app);
void register_vae(CLI::App& app);
void register_kmeans(CLI::App& app);
void register_elbow(CLI::App& app);
void register_ae_kmeans(CLI::App& app);
void register_tsne(CLI::App& app);
void register_replicate(CLI::App& app);

}  // namespace zs::driver
