#include "tools/train_mnist/checkpoint_checks.h"

#include <charconv>
#include <cmath>
#include <set>

#include "runtime/core/error.h"

namespace zs::driver {
namespace {

const char* const kNotOurs = "pass a model.safetensors written by train_mnist, or start without --resume";

[[noreturn]] void refuse(const std::string& path, const std::string& problem, const std::string& fix = kNotOurs) {
  throw UserError("--resume " + path + ": " + problem + "; " + fix);
}

int64_t counter(const SafetensorsFile& f, const std::string& path, const std::string& key, int64_t hi) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end()) refuse(path, "the checkpoint's metadata has no '" + key + "' entry");
  int64_t value = 0;
  if (!parse_bounded_integer(it->second, 0, hi, &value))
    refuse(path, "the checkpoint's metadata has " + key + " = '" + it->second + "', not an integer in [0, " +
                     std::to_string(hi) + "]",
           "the file is corrupt or was edited: pass another --resume file, or start without --resume");
  return value;
}

// First non-finite value of a tensor (or negative one when `non_negative`), as an index; -1 if none.
int64_t first_bad_value(const NamedTensor& t, bool non_negative) {
  for (size_t i = 0; i < t.data.size(); ++i) {
    const float v = t.data[i];
    if (!std::isfinite(v) || (non_negative && v < 0.f)) return int64_t(i);
  }
  return -1;
}

}  // namespace

bool parse_bounded_integer(const std::string& text, int64_t lo, int64_t hi, int64_t* value) {
  if (text.empty() || text.size() > 19) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) return false;
  *value = v;
  return true;
}

void check_checkpoint_origin(const SafetensorsFile& f, const std::string& path) {
  if (f.metadata.find("command") == f.metadata.end())
    refuse(path, "the checkpoint has no train_mnist metadata (no 'command' entry), so it was not written by train_mnist");
}

CheckpointCounters check_checkpoint(const SafetensorsFile& f, const std::string& path, const ParamStore& ps) {
  check_checkpoint_origin(f, path);

  std::set<std::string> params, adam;
  for (const auto& s : ps.slots()) {
    params.insert(s.name);
    adam.insert("adam.m." + s.name);
    adam.insert("adam.v." + s.name);
  }
  size_t adam_found = 0;
  for (const auto& [name, tensor] : f.tensors) {
    const bool is_adam = adam.count(name) > 0;
    if (!is_adam && !params.count(name))
      refuse(path, "the checkpoint holds a tensor '" + name + "' that this model does not have",
             "it was written for another model or by another program: pass a model.safetensors of this command");
    adam_found += is_adam;
    const int64_t bad = first_bad_value(tensor, name.starts_with("adam.v."));
    if (bad >= 0)
      refuse(path, "tensor '" + name + "' holds " + std::to_string(tensor.data[size_t(bad)]) + " at index " +
                       std::to_string(bad) +
                       (name.starts_with("adam.v.") ? " (Adam's second moment must be finite and >= 0)"
                                                    : " (weights and Adam state must be finite)"),
             "the run that wrote it diverged or the file is corrupt: resume from an earlier checkpoint or start "
             "without --resume");
  }
  if (adam_found != 0 && adam_found != adam.size())
    refuse(path, "the checkpoint holds the Adam state of only some parameters (" + std::to_string(adam_found) + " of " +
                     std::to_string(adam.size()) + " moment tensors)",
           "the file is corrupt: pass another --resume file, or start without --resume");

  CheckpointCounters c;
  c.epochs_done = int(counter(f, path, "epochs_done", kMaxEpochsDone));
  c.adam_step = adam_found ? counter(f, path, "adam_step", kMaxAdamStep) : 0;
  return c;
}

}  // namespace zs::driver
