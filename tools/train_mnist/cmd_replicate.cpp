// train_mnist replicate: the blog series in one command (replicate_plan.h lists the steps and the
// budgets). Each step runs the train_mnist commands a user would type (child_run.h) into
// OUT/<step>/<run>/, then its summary (replicate_results.h) is written as OUT/<step>/metrics.json,
// which marks the step complete: a rerun skips it unless --force (or the budget, data, device or
// seed changed); a step without it (interrupted, failed) is removed and run again from scratch.
// report.json and report.html (replicate_report.h) come last, over every complete step in OUT.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/data/idx.h"
#include "runtime/io/atomic_file.h"
#include "tools/train_mnist/child_run.h"
#include "tools/train_mnist/commands.h"
#include "tools/train_mnist/common.h"
#include "tools/train_mnist/progress.h"
#include "tools/train_mnist/replicate_plan.h"
#include "tools/train_mnist/replicate_report.h"
#include "tools/train_mnist/replicate_results.h"

namespace zs::driver {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ReplicateOptions {
  CommonOptions common;
  std::string budget = "quick";
  std::vector<std::string> only, skip;
  bool force = false, dry_run = false;
};

std::string step_names() {
  std::string names;
  for (const StepSpec& s : replicate_steps()) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

std::vector<std::string> selected_steps(const ReplicateOptions& o) {
  for (const auto* list : {&o.only, &o.skip})
    for (const std::string& name : *list)
      if (!find_step(name))
        throw UserError(std::string(list == &o.only ? "--only" : "--skip") + " " + name + ": unknown step; the steps are " +
                        step_names());
  std::vector<std::string> steps;
  for (const StepSpec& s : replicate_steps()) {
    const bool wanted = o.only.empty() || std::count(o.only.begin(), o.only.end(), s.name);
    if (wanted && !std::count(o.skip.begin(), o.skip.end(), s.name)) steps.push_back(s.name);
  }
  if (steps.empty()) throw UserError("--only/--skip leave no step to run; the steps are " + step_names());
  return steps;
}

// The settings a complete step must have been run with to be kept (threads only change the time).
json identity(const ReplicateSettings& s) {
  std::error_code ec;
  const fs::path data = fs::weakly_canonical(s.data, ec);
  return {{"budget", s.budget.name}, {"data", ec ? s.data : data.string()}, {"device", s.device}, {"seed", s.seed}};
}

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

class Replicator {
 public:
  Replicator(const ReplicateOptions& o, ReplicateSettings s) : o_(o), s_(std::move(s)), out_(o.common.out) {}

  void print_plan(const std::vector<std::string>& steps) const {
    double total = 0;
    for (const std::string& step : steps) {
      const double est = estimated_seconds(step, s_);
      total += est;
      std::printf("%s (about %s on 2 CPU cores):\n", step.c_str(), format_duration(est).c_str());
      for (const RunSpec& r : plan_step(step, s_, (out_ / step).string()))
        std::printf("  %s --out %s\n", shell_command(r.args).c_str(), (out_ / step / r.name).string().c_str());
    }
    std::printf("budget %s: about %s in all on 2 CPU cores without a GPU (%s)\n", s_.budget.name.c_str(),
                format_duration(total).c_str(), s_.budget.shortened.c_str());
  }

  void run(const std::vector<std::string>& steps) {
    ensure_output_dir(out_, "--out");
    std::string notice;
    OutLock lock(out_, "--out", &notice);
    if (!notice.empty()) say(notice);
    remove_stale_temporaries(out_);
    OutputSet outputs(out_);
    double estimated_done = 0, actual_done = 0;
    for (size_t i = 0; i < steps.size(); ++i) {
      const std::string& step = steps[i];
      const std::string tag = "[" + std::to_string(i + 1) + "/" + std::to_string(steps.size()) + "] " + step;
      const std::string why = why_run(step);
      if (why.empty()) {
        say(tag + ": complete, skipped (--force reruns it)");
        continue;
      }
      double remaining = 0;
      for (size_t j = i; j < steps.size(); ++j)
        if (j == i || !why_run(steps[j]).empty()) remaining += estimated_seconds(steps[j], s_);
      const double pace = estimated_done > 0 ? actual_done / estimated_done : 1.0;
      say(tag + ": " + why + "; about " + format_duration(pace * estimated_seconds(step, s_)) +
          " (ETA for the rest: " + format_duration(pace * remaining) + ")");
      const json summary = run_step(step);
      const double seconds = summary.at("seconds");
      estimated_done += estimated_seconds(step, s_);
      actual_done += seconds;
      say(tag + ": done in " + format_duration(seconds) + ": " + summary.at("ours").get<std::string>());
    }
    write_report();
    outputs.complete();
    say("report: " + (out_ / "report.html").string() + " (numbers: report.json)");
  }

 private:
  void say(const std::string& line) const {
    if (!o_.common.quiet) std::fprintf(stderr, "%s\n", line.c_str());
  }

  // Why `step` must run ("" when it is complete and kept).
  std::string why_run(const std::string& step) const {
    const fs::path summary = out_ / step / "metrics.json";
    if (!fs::exists(summary)) return fs::exists(out_ / step) ? "incomplete (interrupted or failed), running it again" : "running";
    if (o_.force) return "--force: running it again";
    try {
      std::ifstream in(summary);
      if (json::parse(in).at("settings").at("identity") == identity(s_)) return "";
    } catch (const json::exception&) {
    }
    return "run with other settings (budget, data, device or seed), running it again";
  }

  json run_step(const std::string& step) {
    const auto start = std::chrono::steady_clock::now();
    const fs::path dir = out_ / step;
    fs::remove_all(dir);
    fs::create_directories(dir);
    json commands = json::array();
    std::string device, device_name;
    double cpu_seconds = 0;
    for (const RunSpec& r : plan_step(step, s_, dir.string())) {
      std::vector<std::string> args = r.args;
      args.insert(args.end(), {"--out", (dir / r.name).string()});
      commands.push_back(shell_command(args));
      const fs::path log = dir / (r.name + ".log");
      const ChildResult result = run_train_mnist_child(args, log);
      cpu_seconds += result.cpu_seconds;
      if (result.exit_code != 0) {
        for (const auto& entry : fs::directory_iterator(dir))  // the step's runs go; their logs stay
          if (entry.is_directory()) fs::remove_all(entry.path());
        throw UserError("replicate: step " + step + " failed in `" + shell_command(args) + "`: " +
                        (result.last_line.empty() ? "exit code " + std::to_string(result.exit_code) : result.last_line) +
                        " (log: " + log.string() + ")");
      }
      if (device.empty()) std::tie(device, device_name) = run_device(dir / r.name / "metrics.json");
    }
    json summary = summarize_step(step, out_, s_);
    summary["commands"] = commands;
    summary["device"] = device;
    summary["device_name"] = device_name;
    summary["settings"] = {{"identity", identity(s_)},
                           {"budget", s_.budget.name},
                           {"shortened", s_.budget.shortened},
                           {"threads", s_.threads},
                           {"zspace", machine_description().at("zspace")},
                           {"finished", now_text()}};
    summary["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    summary["cpu_seconds"] = cpu_seconds;
    write_json_atomic(dir / "metrics.json", summary);
    return summary;
  }

  // The device a run used ("cpu", "cuda", "emu") and its description, from its metrics.json.
  static std::pair<std::string, std::string> run_device(const fs::path& metrics) {
    std::ifstream in(metrics);
    try {
      json m = json::parse(in);
      if (m.contains("ae")) m = m["ae"];
      return {m.value("device", ""), m.value("device_name", m.value("device", ""))};
    } catch (const json::exception&) {
    }
    return {"", ""};
  }

  void write_report() const {
    std::vector<json> steps;
    std::set<std::string> gpus;  // the GPUs the steps ran on
    for (const StepSpec& spec : replicate_steps()) {
      const fs::path summary = out_ / spec.name / "metrics.json";
      if (!fs::exists(summary)) {
        steps.push_back({{"step", spec.name}, {"blog_setup", spec.blog_setup}, {"blog_result", spec.blog_result},
                         {"not_run", true}});
        continue;
      }
      std::ifstream in(summary);
      steps.push_back(json::parse(in));
      if (steps.back().value("device", "") == "cuda") gpus.insert(steps.back().value("device_name", "a CUDA GPU"));
    }
    json machine = machine_description();
    std::string gpu;
    for (const std::string& g : gpus) gpu += (gpu.empty() ? "" : "; ") + g;
    machine["gpu"] = gpu.empty() ? "none used (no step ran on cuda)" : gpu;
    const json header = {{"budget", s_.budget.name}, {"data", s_.data},       {"device", s_.device},
                         {"seed", s_.seed},          {"machine", machine}, {"generated", now_text()}};
    write_replicate_report(out_, header, steps);
  }

  const ReplicateOptions& o_;
  ReplicateSettings s_;
  fs::path out_;
};

void run_replicate(const ReplicateOptions& o) {
  const auto budget = find_budget(o.budget);
  if (!budget) throw UserError("--budget " + o.budget + ": unknown budget; use smoke, quick or blog");
  const std::vector<std::string> steps = selected_steps(o);
  const CommonOptions& c = o.common;
  if (c.device != "auto" && c.device != "cpu" && c.device != "cuda" && c.device != "emu")
    throw UserError("--device " + c.device + ": unknown device; use auto, cpu, cuda or emu");
  require_range("--threads", c.threads, 0, 1024);
  if (c.train_limit == 0 || c.train_limit < -1) throw UserError("--train-limit: must be a positive count or -1 for all");
  if (c.test_limit == 0 || c.test_limit < -1) throw UserError("--test-limit: must be a positive count or -1 for all");

  ReplicateSettings s;
  s.budget = *budget;
  if (c.train_limit > 0) s.budget.train_limit = s.budget.ae25_train_limit = c.train_limit;
  if (c.test_limit > 0) s.budget.test_limit = c.test_limit;
  s.data = c.data;
  s.device = c.device;
  s.seed = c.seed;
  s.threads = c.threads;
  // The data are read once here, so that a missing or corrupt set stops everything before --out exists.
  const Dataset data = load_dataset_dir(c.data, s.budget.train_limit, s.budget.test_limit);
  require_nonempty_splits(data);
  s.train_images = int(data.train.count);
  s.test_images = int(data.test.count);
  constexpr int kClusters = 225;  // the blog's k: KMeans needs at least as many training images
  if (s.train_images < kClusters)
    throw UserError("--data " + c.data + ": " + std::to_string(s.train_images) + " training images, but the blog's KMeans "
                    "steps need at least 225; pass a larger set (tools/fetch_data writes 8,000)");

  Replicator replicator(o, s);
  if (o.dry_run) return replicator.print_plan(steps);
  replicator.run(steps);
}

}  // namespace

void register_replicate(CLI::App& app) {
  auto opts = std::make_shared<ReplicateOptions>();
  opts->common.out = "runs/replicate";
  CLI::App* cmd = app.add_subcommand("replicate", "run the whole blog series and write report.html beside the blog's numbers");
  add_common_options(*cmd, opts->common);
  cmd->add_option("--budget", opts->budget,
                  "smoke (tiny, checks the pipeline), quick (shortened schedules on the default digits, about 15 min "
                  "on 2 cores) or blog (the blog's schedules)")
      ->capture_default_str();
  cmd->add_option("--only", opts->only, "run only these steps (comma-separated): " + step_names())->delimiter(',');
  cmd->add_option("--skip", opts->skip, "skip these steps (comma-separated)")->delimiter(',');
  cmd->add_flag("--force", opts->force, "rerun the selected steps even when complete");
  cmd->add_flag("--dry-run", opts->dry_run, "print the commands and time estimates of the selected steps, run nothing");
  cmd->callback([opts] { run_replicate(*opts); });
}

}  // namespace zs::driver
