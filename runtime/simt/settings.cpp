#include "runtime/simt/settings.h"

#include <charconv>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "runtime/core/error.h"

namespace zs::simt {
namespace {

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

int resolve_threads(int n) {
  if (n > 0) return n;
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? int(hw) : 1;
}

Settings from_environment() {
  Settings s;
  if (const char* order = std::getenv("ZS_EMU_ORDER"); order && *order) {
    auto parsed = parse_order(order, s);
    if (!parsed)
      throw UserError(std::string("environment variable ZS_EMU_ORDER='") + order +
                      "' is not valid: use forward, reverse or random[:seed] (or unset it)");
    s = *parsed;
  }
  if (const char* strict = std::getenv("ZS_EMU_STRICT"); strict && *strict) {
    std::string_view v(strict);
    if (v != "0" && v != "1")
      throw UserError(std::string("environment variable ZS_EMU_STRICT='") + strict +
                      "' is not valid: use 1 (strict, the default) or 0");
    s.strict = v == "1";
  }
  if (const char* async = std::getenv("ZS_EMU_ASYNC"); async && *async) {
    std::string_view v(async);
    if (v != "0" && v != "1")
      throw UserError(std::string("environment variable ZS_EMU_ASYNC='") + async +
                      "' is not valid: use 1 (streams are queues, the default) or 0 (every call runs at once)");
    s.async = v == "1";
  }
  if (const char* threads = std::getenv("ZS_EMU_THREADS"); threads && *threads) {
    auto n = parse_int(threads);
    if (!n || *n < 0 || *n > 1024)
      throw UserError(std::string("environment variable ZS_EMU_THREADS='") + threads +
                      "' is not valid: use a thread count from 1 to 1024, or 0 for all hardware threads");
    s.threads = resolve_threads(*n);
  }
  return s;
}

std::mutex& settings_mutex() {
  static std::mutex m;
  return m;
}

Settings& current() {
  static Settings s = from_environment();
  return s;
}

}  // namespace

std::optional<Settings> parse_order(std::string_view text, Settings base) {
  if (text == "forward") {
    base.order = Order::Forward;
  } else if (text == "reverse") {
    base.order = Order::Reverse;
  } else if (text == "random") {
    base.order = Order::Random;
    base.seed = 1;
  } else if (text.starts_with("random:")) {
    std::string_view digits = text.substr(7);
    uint64_t seed = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seed);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    base.order = Order::Random;
    base.seed = seed;
  } else {
    return std::nullopt;
  }
  return base;
}

std::string to_string(Order order, uint64_t seed) {
  switch (order) {
    case Order::Forward: return "forward";
    case Order::Reverse: return "reverse";
    case Order::Random: return "random:" + std::to_string(seed);
  }
  return "?";
}

Settings settings() {
  std::lock_guard lock(settings_mutex());
  return current();
}

void set_settings(const Settings& s) {
  std::lock_guard lock(settings_mutex());
  current() = s;
  current().threads = resolve_threads(s.threads);
}

void set_order(Order order, uint64_t seed) {
  std::lock_guard lock(settings_mutex());
  current().order = order;
  current().seed = seed;
}

void set_strict(bool strict) {
  std::lock_guard lock(settings_mutex());
  current().strict = strict;
}

void set_threads(int threads) {
  std::lock_guard lock(settings_mutex());
  current().threads = resolve_threads(threads);
}

void set_async(bool async) {
  std::lock_guard lock(settings_mutex());
  current().async = async;
}

}  // namespace zs::simt
