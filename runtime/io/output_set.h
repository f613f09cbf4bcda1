// The outputs of one run replace the previous run's outputs in --out AS A SET: whatever happens (bad
// input, SIGINT, SIGKILL, a full disk), the visible files of --out all come from a single run.
//
// How: OUT/.train_mnist-outputs lists every file name train_mnist runs have written into OUT. At its
// first output (not before: a run that fails on bad input leaves OUT untouched), a run moves every
// listed file that is still there into OUT/.train_mnist-previous/ (the previous set, kept until
// this run completes, then deleted). Before each of its files appears, the run adds the name to the
// list (written atomically), so a run killed at any moment leaves a list that names all its files
// and the next run moves them aside too. Hidden files (temporaries, the lock) are not outputs.
// Only the writers of atomic_file.h are observed: every output goes through them.
// Requires the --out lock (out_lock.h): one run at a time changes the list.
#pragma once
#include <filesystem>
#include <set>
#include <string>

namespace zs {

class OutputSet {
 public:
  explicit OutputSet(const std::filesystem::path& dir);  // starts observing commits into dir
  ~OutputSet();                                           // stops observing
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;

  // The run completed: the previous set is no longer needed.
  void complete();

  static constexpr const char* kListName = ".train_mnist-outputs";
  static constexpr const char* kPreviousName = ".train_mnist-previous";

 private:
  void before_commit(const std::filesystem::path& target);
  void write_list();

  std::filesystem::path dir_;
  std::set<std::string> listed_;  // the names in the list file
  bool replaced_ = false;         // the previous set was moved aside
};

}  // namespace zs
