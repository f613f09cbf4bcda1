// The numbers `replicate` reads from each step's runs, set beside the blog's: one JSON object per
// step, written as <step>/metrics.json when the step completes (which marks it complete), and the
// rows of report.json / report.html.
//
// {"step", "blog_setup", "blog_result",
//  "numbers": [{"key", "label", "ours", "blog" (number or null), "unit"}],  at least one per step
//  "ours": one sentence of our result, "difference": one sentence setting it beside the blog's,
//  "figures": [{"file" (relative to --out), "caption"}], "commands": [...], "seconds", "settings"}
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/train_mnist/replicate_plan.h"

namespace zs::driver {

// Reads the outputs of `step`'s runs in out/<step>/ (and, for comparisons, other complete steps'
// summaries in out/). Throws UserError when a run's output is missing or malformed.
nlohmann::json summarize_step(const std::string& step, const std::filesystem::path& out, const ReplicateSettings& s);

}  // namespace zs::driver
