// train_mnist replicate: the smoke budget end to end on a synthetic 300 / 100 image set (every
// step's outputs and numbers, report.json, report.html through scripts/check-report), reruns that
// skip complete steps, --force --only, an interrupted step restarting cleanly, and bad input.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "driver_harness.h"

extern char** environ;

using namespace zs::testing;

namespace {

const fs::path& replicate_data() {
  static fs::path dir = synthetic_mnist_dir("replicate-data", 300, 100);
  return dir;
}

std::string replicate_args(const fs::path& out) {
  return "replicate --budget smoke --data " + replicate_data().string() + " --out " + out.string() +
         " --device cpu --threads 2";
}

const std::vector<std::string> kSteps = {"ae16",  "ae2",         "vae2",     "kmeans-raw", "kmeans-scalers",
                                         "elbow", "kmeans-time", "tsne-raw", "ae25-kmeans"};

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

fs::file_time_type modified(const fs::path& p) { return fs::last_write_time(p); }

// scripts/check-report on OUT: structure always; rendering in Chromium where it is installed
// (scripts/setup-deps installs it, so CI renders), else a visible skip of that half.
void check_report(const fs::path& out) {
  const bool have_chromium = std::system("command -v chromium > /dev/null 2>&1") == 0;
  if (!have_chromium) WARN("Chromium is not installed: report.html's rendering is not checked (structure only)");
  const std::string cmd = std::string(ZS_SOURCE_DIR) + "/scripts/check-report " + out.string() +
                          (have_chromium ? "" : " --no-render") + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  std::string text;
  char buf[512];
  while (fgets(buf, sizeof buf, pipe)) text += buf;
  const int status = pclose(pipe);
  INFO(text);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

}  // namespace

TEST_CASE("replicate --budget smoke runs every step, reports every number, and reruns only what is asked", "[driver][replicate]") {
  const fs::path out = fresh_dir("replicate");
  const RunResult first = run_train_mnist_ok(replicate_args(out));
  for (const std::string& step : kSteps) {
    INFO("step " << step);
    const nlohmann::json s = read_json(out / step / "metrics.json");
    CHECK(s["step"] == step);
    REQUIRE(s["numbers"].is_array());
    REQUIRE(!s["numbers"].empty());
    for (const auto& n : s["numbers"]) CHECK(n["ours"].is_number());
    CHECK(!s["ours"].get<std::string>().empty());
    CHECK(!s["difference"].get<std::string>().empty());
    CHECK(s["seconds"].get<double>() > 0);
    CHECK(s["device"] == "cpu");
    REQUIRE(!s["commands"].empty());
    for (const auto& c : s["commands"]) CHECK(c.get<std::string>().rfind("train_mnist ", 0) == 0);
    for (const auto& f : s["figures"]) CHECK(is_png(out / f["file"].get<std::string>()));
    // Every run's own outputs parse.
    for (auto& e : fs::directory_iterator(out / step))
      if (e.is_directory()) CHECK_NOTHROW(read_json(e.path() / "metrics.json"));
  }
  const nlohmann::json report = read_json(out / "report.json");
  REQUIRE(report["steps"].size() == kSteps.size());
  for (size_t i = 0; i < kSteps.size(); ++i) {
    CHECK(report["steps"][i]["step"] == kSteps[i]);
    CHECK(!report["steps"][i].contains("not_run"));
  }
  CHECK(report["budget"] == "smoke");
  CHECK(report["machine"]["cores"].get<int>() >= 1);
  check_report(out);

  // A second run skips every step and still writes the report.
  const auto ae2_time = modified(out / "ae2" / "metrics.json"), vae2_time = modified(out / "vae2" / "metrics.json");
  const RunResult again = run_train_mnist_ok(replicate_args(out));
  CHECK(occurrences(again.err, "complete, skipped") == kSteps.size());
  CHECK(modified(out / "ae2" / "metrics.json") == ae2_time);

  // --force --only ae2 reruns that step alone.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a visibly later modification time
  const RunResult forced = run_train_mnist_ok(replicate_args(out) + " --force --only ae2");
  CHECK(occurrences(forced.err, "[1/1] ae2: --force") == 1);
  CHECK(occurrences(forced.err, "done in") == 1);
  CHECK(modified(out / "ae2" / "metrics.json") != ae2_time);
  CHECK(modified(out / "vae2" / "metrics.json") == vae2_time);
  CHECK(read_json(out / "report.json")["steps"].size() == kSteps.size());

  // A step left incomplete (no metrics.json, a stray file) is removed and run from scratch.
  fs::remove(out / "elbow" / "metrics.json");
  { std::ofstream(out / "elbow" / "stray") << "half"; }
  const RunResult redo = run_train_mnist_ok(replicate_args(out) + " --only elbow");
  CHECK(occurrences(redo.err, "incomplete") == 1);
  CHECK(!fs::exists(out / "elbow" / "stray"));
  CHECK(fs::exists(out / "elbow" / "metrics.json"));

  // Other settings do not reuse the complete steps.
  const RunResult reseeded = run_train_mnist_ok(replicate_args(out) + " --only kmeans-raw --seed 7");
  CHECK(occurrences(reseeded.err, "other settings") == 1);
}

TEST_CASE("replicate: SIGINT stops the running step, and the next run restarts it cleanly", "[driver][replicate]") {
  const fs::path out = fresh_dir("replicate-sigint");
  // The blog budget's 40 epochs on 300 images take long enough to be interrupted.
  const std::vector<std::string> args = {"train_mnist", "replicate", "--budget", "blog", "--only", "ae16", "--data",
                                         replicate_data().string(), "--out", out.string(), "--device", "cpu",
                                         "--threads", "1", "--quiet"};
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, train_mnist_path().c_str(), nullptr, nullptr, argv.data(), environ) == 0);
  // Wait until the step's run has started training, then interrupt the replicate process only.
  for (int i = 0; i < 200 && !fs::exists(out / "ae16" / "ae.log"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  REQUIRE(::kill(pid, SIGINT) == 0);
  int status = 0;
  const auto start = std::chrono::steady_clock::now();
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(60)) {
      ::kill(pid, SIGKILL);
      FAIL("replicate did not stop within 60 s of SIGINT");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(!fs::exists(out / "ae16" / "metrics.json"));
  CHECK(!fs::exists(out / "report.html"));
  for (auto& e : fs::recursive_directory_iterator(out))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  const RunResult redo = run_train_mnist_ok(replicate_args(out) + " --only ae16");
  CHECK(occurrences(redo.err, "incomplete") == 1);
  CHECK(fs::exists(out / "ae16" / "metrics.json"));
}

TEST_CASE("replicate: bad input exits 2 with one line and writes nothing", "[driver][replicate][errors]") {
  const fs::path never = fs::temp_directory_path() / ("zs-test-never-replicate-" + std::to_string(::getpid()));
  fs::remove_all(never);
  const std::string data = " --data " + replicate_data().string() + " --out " + never.string() + " --device cpu";
  require_clean_failure("replicate --budget smoke --only ae3" + data, "ae3", never);
  require_clean_failure("replicate --budget smoke --skip nothing" + data, "nothing", never);
  require_clean_failure("replicate --budget smoke --only ae2 --skip ae2" + data, "no step", never);
  require_clean_failure("replicate --budget huge" + data, "--budget", never);
  require_clean_failure("replicate --budget smoke --device tpu" + data, "--device", never);
  require_clean_failure("replicate --budget smoke --data /nonexistent/zs --out " + never.string(), "/nonexistent/zs", never);
  require_clean_failure("replicate --budget smoke --data " + tiny_data().string() + " --out " + never.string(), "225", never);
  // An unwritable --out: a path below a regular file.
  const fs::path file = fresh_dir("replicate-file") / "plain";
  { std::ofstream(file) << "x"; }
  const RunResult r = run_train_mnist("replicate --budget smoke --data " + replicate_data().string() + " --out " +
                                      (file / "sub").string());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--out") != std::string::npos);
  // A command that fails inside a step (--device cuda without a GPU): exit 2, one line naming the
  // step and the log, the step's runs removed, no report.
  const fs::path failing = fresh_dir("replicate-fail");
  const RunResult f = run_train_mnist("replicate --budget smoke --only ae2 --device cuda --data " +
                                      replicate_data().string() + " --out " + failing.string());
  if (f.exit_code == 0) {
    WARN("SKIPPED the failing-step check: this machine has a usable CUDA GPU");
  } else {
    INFO(f.err);
    CHECK(f.exit_code == 2);
    CHECK(f.err.find("step ae2 failed") != std::string::npos);
    CHECK(f.err.find("ae.log") != std::string::npos);
    CHECK(!fs::exists(failing / "ae2" / "metrics.json"));
    CHECK(!fs::exists(failing / "ae2" / "ae"));
    CHECK(fs::exists(failing / "ae2" / "ae.log"));
    CHECK(!fs::exists(failing / "report.html"));
  }
  // --dry-run prints the plan and writes nothing.
  const RunResult dry = run_train_mnist_ok("replicate --budget quick --dry-run" + data);
  CHECK(!fs::exists(never));
}
