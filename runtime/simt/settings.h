// Run-time settings of the CUDA emulator (runtime/simt): thread order, strict mode, OS threads.
//
// Each setting comes from the environment at first use and can be changed through this API
// (tests use ScopedSettings). A launch takes a snapshot, so changing a setting never affects a
// grid that is already running.
//   ZS_EMU_ORDER   forward | reverse | random[:seed]   order in which a block's CUDA threads run
//                  between two synchronisation points (default forward; random without a seed
//                  uses seed 1). Blocks of a grid are dispatched in the same order.
//   ZS_EMU_STRICT  1 | 0   (default 1) abort a kernel on undefined behaviour the emulator can
//                  see: divergent or post-exit barriers, warp ops naming exited lanes...
//   ZS_EMU_THREADS N       OS threads running blocks in parallel; 0 = hardware threads.
//                  Default 1: results never depend on the machine (float atomics across
//                  blocks would otherwise round in a run-dependent order).
//   ZS_EMU_ASYNC   1 | 0   (default 1) streams are queues: launches, async copies and memsets,
//                  event records and graph launches run at the next synchronisation point that
//                  needs them, interleaved across streams in the ZS_EMU_ORDER order (forward =
//                  issue order, reverse = latest issued first, random = seeded). 0 runs each
//                  operation at its call (synchronous debugging mode). CI runs the default (1).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zs::simt {

enum class Order { Forward, Reverse, Random };

struct Settings {
  Order order = Order::Forward;
  uint64_t seed = 1;   // used by Order::Random only
  bool strict = true;
  int threads = 1;     // >= 1 (0 in the environment/API means hardware threads)
  bool async = true;   // streams are queues run at synchronisation points (ZS_EMU_ASYNC)
};

// The current settings (the environment is read on the first call).
Settings settings();
void set_settings(const Settings& s);
void set_order(Order order, uint64_t seed = 1);
void set_strict(bool strict);
void set_threads(int threads);   // 0 = hardware threads
void set_async(bool async);

// "forward", "reverse", "random:<seed>".
std::string to_string(Order order, uint64_t seed);
// Parses ZS_EMU_ORDER syntax; nullopt when the text is not valid.
std::optional<Settings> parse_order(std::string_view text, Settings base = {});

// Restores the previous settings when it goes out of scope.
class ScopedSettings {
 public:
  explicit ScopedSettings(const Settings& s) : saved_(settings()) { set_settings(s); }
  ~ScopedSettings() { set_settings(saved_); }
  ScopedSettings(const ScopedSettings&) = delete;
  ScopedSettings& operator=(const ScopedSettings&) = delete;

 private:
  Settings saved_;
};

}  // namespace zs::simt
