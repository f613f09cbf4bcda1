// train_mnist under mpirun (runtime/dist, tools/train_mnist/main.cpp): the same results as one
// process, rank 0 alone writing --out, and the failure contract: a rank that fails ends every rank
// with exit 2 and one line naming it; a killed rank ends the job within seconds (no hang), exit 2.
// Each case WARNs "SKIPPED: MPI is not in this build" where -DZSPACE_MPI found no MPI (ctest: skipped).
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "driver_harness.h"

using namespace zs::testing;

namespace {

#ifdef ZSPACE_HAVE_MPI
// mpirun as CI runs it: as root (OpenMPI refuses without the two variables) and oversubscribed
// (2 cores). `line` is everything after mpirun: "-np 2 <command>", or an MPMD line
// "-np 1 <command> : -np 1 <other command>". mpirun_shell runs "mpirun <line>" in sh, so that the
// line can go on after mpirun's arguments (background it, signal it).
RunResult run_mpirun_line(const std::string& line, bool in_shell);
RunResult mpirun(const std::string& line) { return run_mpirun_line(line, false); }
RunResult mpirun_shell(const std::string& line) { return run_mpirun_line(line, true); }

RunResult run_mpirun_line(const std::string& line, bool in_shell) {
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
  // Sanitize preset: OpenMPI's components stay loaded and LeakSanitizer unwinds whole stacks, so
  // that the OpenMPI suppressions (runtime/plot/lsan_suppressions.h) match (tests/CMakeLists.txt).
  setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 1);
  setenv("PMIX_MCA_mca_base_component_disable_dlclose", "1", 1);
  const std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
  if (asan.find("fast_unwind_on_malloc") == std::string::npos)
    setenv("ASAN_OPTIONS", (asan + (asan.empty() ? "" : ":") + "fast_unwind_on_malloc=0").c_str(), 1);
  fs::path err_file = fs::temp_directory_path() / ("zs-test-mpi-stderr-" + std::to_string(::getpid()));
  const std::string redirect = " > /dev/null 2> " + err_file.string() + " < /dev/null";
  const std::string cmd = in_shell ? "sh -c '" + std::string(ZS_MPIEXEC) + " " + line + "'" + redirect
                                   : std::string(ZS_MPIEXEC) + " " + line + redirect;
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  fs::remove(err_file);
  return r;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Lines of stderr that train_mnist printed (mpirun adds its own report around them).
int driver_lines(const std::string& err) {
  int n = 0;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) n += line.rfind("train_mnist:", 0) == 0;
  return n;
}
// A training run that would take minutes (200 epochs of 2000 images), for the tests that end it
// early; its data and --out are removed with it.
struct LongTraining {
  fs::path data, out;
  std::string cmd;
  explicit LongTraining(const std::string& name)
      : data(synthetic_mnist_dir(name + "-data", 2000, 100)), out(fresh_dir(name + "-out")) {
    cmd = train_mnist_path() + " ae --epochs 200 --data " + data.string() + " --device cpu --threads 1 --quiet --out " +
          out.string();
  }
  ~LongTraining() {
    fs::remove_all(data);
    fs::remove_all(out);
  }
};

// mpirun (or mpirun_shell) and its wall time in seconds.
template <class Run>
std::pair<RunResult, double> timed(Run run, const std::string& line) {
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r = run(line);
  return {std::move(r), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}
// `args` (a train_mnist command line ending in --out) run in one process into `one`, then under
// mpirun -np 2 into `two`; both must succeed. Returns their metrics.json: {one process, 2 ranks}.
std::pair<nlohmann::json, nlohmann::json> one_process_and_two_ranks(const std::string& args, const fs::path& one,
                                                                     const fs::path& two) {
  run_train_mnist_ok(args + " " + one.string());
  const RunResult r = mpirun("-np 2 " + train_mnist_path() + " " + args + " " + two.string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return {read_json(one / "metrics.json"), read_json(two / "metrics.json")};
}

// A KMeans fit on 2 ranks (metrics b, --out two) against one process's (a, one): the same
// iterations, inertia to 1e-9, errors and clusters.
void check_same_kmeans(const nlohmann::json& a, const nlohmann::json& b, const fs::path& one, const fs::path& two) {
  CHECK(b["n_iter"] == a["n_iter"]);
  CHECK(std::fabs(b["inertia"].get<double>() - a["inertia"].get<double>()) <= 1e-9 * a["inertia"].get<double>());
  CHECK(b["train_error"] == a["train_error"]);
  CHECK(b["test_error"] == a["test_error"]);
  CHECK(slurp(two / "clusters.csv") == slurp(one / "clusters.csv"));
}
#define ZS_REQUIRE_MPI()
#else
#define ZS_REQUIRE_MPI()                                   \
  do {                                                     \
    WARN("SKIPPED: MPI is not in this build (-DZSPACE_MPI)"); \
    return;                                                \
  } while (0)
#endif

}  // namespace

TEST_CASE("mpi driver: kmeans on 2 ranks gives one process's clusters, rank 0 alone writes --out", "[cpu][driver][mpi]") {
  ZS_REQUIRE_MPI();
#ifdef ZSPACE_HAVE_MPI
  const fs::path data = synthetic_mnist_dir("mpi-kmeans-data", 2500, 200);
  const fs::path one = fresh_dir("mpi-kmeans-one"), two = fresh_dir("mpi-kmeans-two");
  const auto [a, b] = one_process_and_two_ranks(
      "kmeans --k 12 --n-init 2 --data " + data.string() + " --device cpu --threads 1 --quiet --out", one, two);
  CHECK(b["train_size"] == a["train_size"]);
  CHECK(b["best_init"] == a["best_init"]);
  check_same_kmeans(a, b, one, two);
  CHECK(file_count(two) == file_count(one));   // rank 1 wrote nothing there
  fs::remove_all(one);
  fs::remove_all(two);
#endif
}

TEST_CASE("mpi driver: standardized kmeans and elbow on 2 ranks, each loading only its block, give one process's results", "[cpu][driver][mpi]") {
  ZS_REQUIRE_MPI();
#ifdef ZSPACE_HAVE_MPI
  // 2500 samples: rank 0 loads rows 0-1023, rank 1 rows 1024-2499 (blocks of 1024). --scale
  // standardize needs the whole set's means and deviations: reduced over the ranks.
  const fs::path data = synthetic_mnist_dir("mpi-std-data", 2500, 200);
  for (const std::string& command : {std::string("kmeans --k 12 --n-init 2 --scale standardize"),
                                     std::string("elbow --k-min 4 --k-max 12 --k-step 4 --n-init 1")}) {
    INFO(command);
    const fs::path one = fresh_dir("mpi-std-one"), two = fresh_dir("mpi-std-two");
    const auto [a, b] = one_process_and_two_ranks(
        command + " --data " + data.string() + " --device cpu --threads 1 --quiet --out", one, two);
    CHECK(b["train_size"] == 2500);
    CHECK(b.value("ranks", 0) == 2);
    if (command.starts_with("kmeans")) {
      check_same_kmeans(a, b, one, two);
    } else {
      REQUIRE(b["inertias"].size() == a["inertias"].size());
      for (size_t i = 0; i < a["inertias"].size(); ++i)
        CHECK(std::fabs(b["inertias"][i].get<double>() - a["inertias"][i].get<double>()) <=
              1e-9 * a["inertias"][i].get<double>());
      CHECK(b["n_iters"] == a["n_iters"]);
    }
    fs::remove_all(one);
    fs::remove_all(two);
  }
  fs::remove_all(data);
#endif
}

TEST_CASE("mpi driver: a rank whose block of the training set is empty is refused with the rank count that fits", "[cpu][driver][mpi]") {
  ZS_REQUIRE_MPI();
#ifdef ZSPACE_HAVE_MPI
  // 1500 samples are two blocks of 1024: three ranks leave one without data.
  const fs::path data = synthetic_mnist_dir("mpi-empty-data", 1500, 100);
  const fs::path out = fresh_dir("mpi-empty-out");
  fs::remove_all(out);
  const RunResult r = mpirun("-np 3 " + train_mnist_path() + " kmeans --k 4 --data " + data.string() +
                             " --device cpu --threads 1 --quiet --out " + out.string());
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(driver_lines(r.err) == 1);
  CHECK(r.err.find("gets no training sample") != std::string::npos);
  CHECK(r.err.find("run at most 2 ranks") != std::string::npos);
  CHECK(!fs::exists(out / "metrics.json"));
  fs::remove_all(data);
  fs::remove_all(out);
#endif
}

TEST_CASE("mpi driver: ae on 2 ranks trains one process's model and resumes", "[cpu][driver][mpi]") {
  ZS_REQUIRE_MPI();
#ifdef ZSPACE_HAVE_MPI
  // 1100 samples: rank 0 holds rows 0-1023, rank 1 the other 76 (blocks of 1024), each only its own.
  const fs::path data = synthetic_mnist_dir("mpi-ae-data", 1100, 100);
  const fs::path one = fresh_dir("mpi-ae-one"), two = fresh_dir("mpi-ae-two"), resumed = fresh_dir("mpi-ae-resumed");
  const std::string args = "ae --epochs 1 --data " + data.string() + " --device cpu --threads 1 --quiet --out";
  const auto [a, b] = one_process_and_two_ranks(args, one, two);
  // Float rounding of the gradients' grouping (tests/mpi/mpi_train_check.cpp): ~1e-7 relative.
  CHECK(std::fabs(b["test_loss"].get<double>() - a["test_loss"].get<double>()) <= 1e-5 * a["test_loss"].get<double>());
  CHECK(file_count(two) == file_count(one));
  const RunResult r = mpirun("-np 2 " + train_mnist_path() + " " + args + " " + resumed.string() + " --resume " +
                             (two / "model.safetensors").string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_json(resumed / "metrics.json")["test_loss_per_epoch"].size() == 1);
  CHECK(b["train_count"] == 1100);
  for (const fs::path& p : {data, one, two, resumed}) fs::remove_all(p);
#endif
}

TEST_CASE("mpi driver: vae on 2 ranks trains one process's model (each slice draws one process's noise)",
          "[cpu][driver][mpi]") {
  ZS_REQUIRE_MPI();
#ifdef ZSPACE_HAVE_MPI
  const fs::path data = synthetic_mnist_dir("mpi-vae-data", 1100, 100);
  const fs::path one = fresh_dir("mpi-vae-one"), two = fresh_dir("mpi-vae-two");
  const auto [a, b] = one_process_and_two_ranks(
      "vae --epochs 1 --data " + data.string() + " --device cpu --threads 1 --quiet --out", one, two);
  CHECK(b["ranks"] == 2);
  // Float rounding of the gradients' grouping, as for ae; a slice drawing other noise than one
  // process (the rows' own eps) moves the losses by far more.
  for (const char* key : {"test_loss", "test_recon", "test_kl"}) {
    INFO(key << ": " << b[key] << " on 2 ranks, " << a[key] << " in one process");
    CHECK(std::fabs(b[key].get<double>() - a[key].get<double>()) <= 1e-5 * std::fabs(a[key].get<double>()));
  }
  const double train_a = a["train_loss"].back().get<double>(), train_b = b["train_loss"].back().get<double>();
  CHECK(std::fabs(train_b - train_a) <= 1e-5 * std::fabs(train_a));
  CHECK(file_count(two) == file_count(one));
  for (const fs::path& p : {data, one, two}) fs::remove_all(p);
#endif
}

TEST_CASE("mpi driver: ae-kmeans on 2 ranks trains and clusters as one process", "[cpu][driver][mpi]") {
  ZS_REQUIRE_MPI();
#ifdef ZSPACE_HAVE_MPI
  // One loaded block per rank serves both halves: the training and the clustering of its latents.
  const fs::path data = synthetic_mnist_dir("mpi-aek-data", 2100, 100);
  const fs::path one = fresh_dir("mpi-aek-one"), two = fresh_dir("mpi-aek-two");
  const auto [a, b] = one_process_and_two_ranks(
      "ae-kmeans --epochs 1 --k 10 --n-init 1 --data " + data.string() + " --device cpu --threads 1 --quiet --out", one,
      two);
  CHECK(b["kmeans"]["train_size"] == 2100);
  CHECK(b["kmeans"]["ranks"] == 2);
  // The latents differ from one process's by the gradients' rounding (~1e-7): the fit's inertia
  // by about as much, and the clusters not at all unless a point sits that close to a tie.
  CHECK(std::fabs(b["ae"]["test_loss"].get<double>() - a["ae"]["test_loss"].get<double>()) <=
        1e-5 * a["ae"]["test_loss"].get<double>());
  CHECK(std::fabs(b["kmeans"]["inertia"].get<double>() - a["kmeans"]["inertia"].get<double>()) <=
        1e-5 * a["kmeans"]["inertia"].get<double>());
  CHECK(b["kmeans"]["train_error"] == a["kmeans"]["train_error"]);
  CHECK(b["kmeans"]["test_error"] == a["kmeans"]["test_error"]);
  // The whole set's latents, gathered from the ranks' blocks, in --out.
  CHECK(fs::file_size(two / "latent_train.npy") == fs::file_size(one / "latent_train.npy"));
  CHECK(file_count(two) == file_count(one));
  for (const fs::path& p : {data, one, two}) fs::remove_all(p);
#endif
}

TEST_CASE("mpi driver: a rank that fails ends every rank with exit 2 and one line naming it", "[cpu][driver][mpi]") {
  ZS_REQUIRE_MPI();
#ifdef ZSPACE_HAVE_MPI
  // Rank 1 gets a truncated training set (MPMD: its own command line); rank 0 is already waiting
  // for it in the fit's first collective.
  const fs::path good = synthetic_mnist_dir("mpi-fail-good", 2500, 200);
  const fs::path bad = fresh_dir("mpi-fail-bad");
  for (const auto& e : fs::directory_iterator(good)) fs::copy(e.path(), bad / e.path().filename());
  fs::resize_file(bad / "t10k-labels-idx1-ubyte", 100);
  const fs::path out = fresh_dir("mpi-fail-out");
  fs::remove_all(out);
  const std::string args = " kmeans --k 12 --device cpu --threads 1 --quiet --out " + out.string();
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = mpirun("-np 1 " + train_mnist_path() + args + " --data " + good.string() + " : -np 1 " +
                             train_mnist_path() + args + " --data " + bad.string());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(driver_lines(r.err) == 1);
  CHECK(r.err.find("train_mnist: rank 1 of 2: ") != std::string::npos);
  CHECK(r.err.find("t10k-labels-idx1-ubyte") != std::string::npos);
  CHECK(secs < 30);
  CHECK(!fs::exists(out / "metrics.json"));
  for (const fs::path& p : {good, bad, out}) fs::remove_all(p);
#endif
}

TEST_CASE("mpi driver: a killed rank ends the job within seconds with exit 2 and one line naming it", "[cpu][driver][mpi]") {
  ZS_REQUIRE_MPI();
#ifdef ZSPACE_HAVE_MPI
  // Rank 1's worker (the child of the process mpirun started: tools/train_mnist/rank_supervisor.h)
  // is SIGKILLed 3 s into a training run that would take minutes, as the out-of-memory killer
  // would; rank 0 is then blocked in a gradient reduction with it. Rank 1's supervisor names the
  // rank and the cause and exits 2, and mpirun ends the job with that code.
  const LongTraining run("mpi-kill");
  const std::string kill_worker = run.cmd + " & p=$!; sleep 3; kill -9 $(cat /proc/$p/task/$p/children); wait $p";
  const auto [r, secs] = timed(mpirun, "-np 1 " + run.cmd + " : -np 1 sh -c '" + kill_worker + "'");
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("train_mnist: rank 1 of 2: its process (pid ") != std::string::npos);
  CHECK(r.err.find("was killed by SIGKILL: the kernel's out-of-memory killer") != std::string::npos);
  CHECK(driver_lines(r.err) == 1);
  CHECK(secs < 30);
  CHECK(!fs::exists(run.out / "metrics.json"));   // the run's outputs never appear: it did not complete
#endif
}

TEST_CASE("mpi driver: Ctrl-C on mpirun stops every rank at one step boundary, rank 0 names the checkpoint", "[cpu][driver][mpi]") {
  ZS_REQUIRE_MPI();
#ifdef ZSPACE_HAVE_MPI
  // mpirun turns SIGINT into SIGTERM to every rank's supervisor, which passes it on once to its
  // worker (rank_supervisor.h); the ranks agree on the step to stop at (run_guards.h). The user sees
  // one line, rank 0's, naming the real checkpoint (the other ranks' would name scratch folders).
  const LongTraining run("mpi-int");
  const fs::path checkpoint = run.out / "model.safetensors";
  // mpirun in the background of a shell that interrupts it once the first epoch's checkpoint exists.
  const std::string line = "-np 2 " + run.cmd + " & m=$!; for i in $(seq 600); do [ -f " + checkpoint.string() +
                           " ] && break; sleep 0.1; done; kill -INT $m; wait $m";
  const auto [r, secs] = timed(mpirun_shell, line);
  INFO(r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("train_mnist: rank 0 of 2: interrupted by SIGTERM; the checkpoint of epoch ") != std::string::npos);
  CHECK(r.err.find("resume with --resume " + checkpoint.string()) != std::string::npos);
  CHECK(driver_lines(r.err) == 1);
  CHECK(secs < 90);
  CHECK(!fs::exists(run.out / "metrics.json"));
#endif
}
