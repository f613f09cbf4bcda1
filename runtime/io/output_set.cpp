// See output_set.h.
#include "runtime/io/output_set.h"

#include <fstream>
#include <sstream>
#include <system_error>

#include "runtime/core/error.h"
#include "runtime/io/atomic_file.h"

namespace zs {
namespace fs = std::filesystem;

OutputSet::OutputSet(const fs::path& dir) : dir_(dir) {
  std::ifstream in(dir_ / kListName);
  for (std::string name; std::getline(in, name);)
    if (!name.empty() && name.find('/') == std::string::npos && name[0] != '.') listed_.insert(name);
  set_commit_observer([this](const fs::path& target) { before_commit(target); });
}

OutputSet::~OutputSet() { set_commit_observer(nullptr); }

void OutputSet::write_list() {
  std::ostringstream text;
  for (const auto& name : listed_) text << name << '\n';
  write_text_atomic(dir_ / kListName, text.str());  // hidden: before_commit ignores it
}

void OutputSet::before_commit(const fs::path& target) {
  std::error_code ec;
  const std::string name = target.filename().string();
  if (name.empty() || name[0] == '.' || !fs::equivalent(target.parent_path().empty() ? "." : target.parent_path(), dir_, ec))
    return;
  if (!replaced_) {
    // First output of this run: move the previous set aside (replacing an older aside set).
    const fs::path previous = dir_ / kPreviousName;
    fs::remove_all(previous, ec);
    for (const auto& old : listed_) {
      const fs::path p = dir_ / old;
      if (fs::symlink_status(p, ec).type() != fs::file_type::regular) continue;
      fs::create_directory(previous, ec);
      fs::rename(p, previous / old, ec);
      if (ec)
        throw UserError("--out " + dir_.string() + ": cannot move the previous run's " + old + " aside: " + ec.message() +
                        "; check that the folder is writable");
    }
    replaced_ = true;
  }
  if (listed_.insert(name).second) write_list();  // listed before it appears
}

void OutputSet::complete() {
  std::error_code ec;
  fs::remove_all(dir_ / kPreviousName, ec);
  // Names of the previous set this run did not rewrite are gone: keep the list to this run's files.
  std::set<std::string> present;
  for (const auto& name : listed_)
    if (fs::symlink_status(dir_ / name, ec).type() == fs::file_type::regular) present.insert(name);
  if (present != listed_) {
    listed_ = present;
    write_list();
  }
}

}  // namespace zs
