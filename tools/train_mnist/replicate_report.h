// report.json and report.html of `train_mnist replicate`: the summary table (step, the blog's result,
// ours, the difference), then each step's figures beside the blog's claim, its settings, the commands
// that reproduce it and its time, and the machine. report.html is one self-contained file: figures
// embedded as data URIs, no scripts, no fonts or styles from the network; readable offline, printable.
#pragma once
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

namespace zs::driver {

// `steps`: one entry per step of the table, in order: the step's summary (replicate_results.h plus
// "commands", "seconds", "settings", "device"), or {"step": name, "not_run": true}. `header` holds
// "budget", "data", "device", "seed", "machine" {cpu, cores, gpu, zspace, compiler}, "generated".
// Both files are written atomically, report.html last.
void write_replicate_report(const std::filesystem::path& out, const nlohmann::json& header,
                            const std::vector<nlohmann::json>& steps);

// The machine for the report: CPU model (/proc/cpuinfo), hardware threads, zspace version and
// commit, the compiler.
nlohmann::json machine_description();

}  // namespace zs::driver
