// Tick placement and labelling; see ticks.h.
#include "runtime/plot/ticks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace zs::plot {
namespace {

const char* const kSuperscriptDigits[10] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
constexpr const char* kMinus = "−";  // U+2212: same width as "+", unlike the hyphen.

// Tolerance for "is this tick inside the range" and for snapping values like 0.30000000000000004.
constexpr double kRelativeSlack = 1e-9;

int floor_log10(double v) { return static_cast<int>(std::floor(std::log10(v) + kRelativeSlack)); }

// The next of ... 0.5, 1, 2, 5, 10, 20 ... after `step`.
double next_nice_step(double step) {
  const double magnitude = std::pow(10.0, floor_log10(step));
  const double mantissa = std::round(step / magnitude);
  return (mantissa < 2 ? 2 : mantissa < 5 ? 5 : 10) * magnitude;
}

// Decimals needed to print multiples of `step` exactly (step = 1, 2 or 5 x 10^k).
int decimals_for_step(double step) { return std::max(0, -floor_log10(step)); }

// Plain decimals read best while they stay short; beyond that every label of the axis uses
// powers of ten, so one axis never mixes "0.001" with "10⁻⁴".
bool plain_log_labels(const std::vector<double>& values) {
  for (double v : values)
    if (floor_log10(v) < -3 || floor_log10(v) > 4) return false;
  return true;
}

// Label for m x 10^k on a log axis.
std::string log_label(double value, bool plain) {
  int exponent = floor_log10(value);
  double mantissa = std::round(value / std::pow(10.0, exponent));
  if (plain) return decimal_text(value, std::max(0, -exponent));
  if (mantissa == 1) return power_of_ten_text(exponent);
  return decimal_text(mantissa, 0) + "×" + power_of_ten_text(exponent);
}

}  // namespace

std::string power_of_ten_text(int exponent) {
  std::string digits = std::to_string(std::abs(exponent));
  std::string text = "10";
  if (exponent < 0) text += "⁻";
  for (char c : digits) text += kSuperscriptDigits[c - '0'];
  return text;
}

std::string decimal_text(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, std::fabs(value));
  std::string text = buffer;
  bool is_zero = text.find_first_not_of("0.") == std::string::npos;
  return (value < 0 && !is_zero) ? kMinus + text : text;
}

double nice_step(double span, int target) {
  double raw = span / std::max(1, target - 1);
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * magnitude * (1 + kRelativeSlack)) return m * magnitude;
  return 10 * magnitude;
}

Ticks linear_ticks(double lo, double hi, int target, bool integers_only) {
  Ticks ticks;
  if (!(hi > lo)) return ticks;
  const double slack = (hi - lo) * kRelativeSlack;
  auto count_for = [&](double step) { return std::floor((hi + slack) / step) - std::ceil((lo - slack) / step) + 1; };
  // nice_step looks at the span only; where the ticks fall matters too ([-0.55, 0.55] fits five
  // ticks 0.2 apart but only three 0.5 apart). Take the finest nice step that gives at most
  // target + 3 ticks, starting two nice steps below nice_step's answer.
  double step = nice_step(hi - lo, target) / 5;
  while (count_for(step) > target + 3) step = next_nice_step(step);
  if (integers_only) step = std::max(step, 1.0);
  for (double k = std::ceil((lo - slack) / step); k * step <= hi + slack; k += 1) {
    double v = k * step;
    ticks.values.push_back(std::fabs(v) < slack ? 0.0 : v);
  }

  double largest = 0;
  for (double v : ticks.values) largest = std::max(largest, std::fabs(v));
  int factor_exponent = 0;
  if (largest >= 1e5 || (largest > 0 && largest < 1e-3)) factor_exponent = floor_log10(largest);
  const double factor = std::pow(10.0, factor_exponent);
  const int decimals = decimals_for_step(step / factor);
  for (double v : ticks.values) ticks.labels.push_back(decimal_text(v / factor, decimals));
  if (factor_exponent != 0) ticks.title_suffix = " (×" + power_of_ten_text(factor_exponent) + ")";
  return ticks;
}

Ticks log_ticks(double lo, double hi) {
  Ticks ticks;
  if (!(lo > 0 && hi > lo)) return ticks;
  const int first = static_cast<int>(std::ceil(std::log10(lo) - kRelativeSlack));
  const int last = static_cast<int>(std::floor(std::log10(hi) + kRelativeSlack));
  const int decades = last - first + 1;

  if (decades >= 2) {
    const int stride = (decades + 7) / 8;  // At most about 8 labels.
    for (int e = first; e <= last; e += stride) ticks.values.push_back(std::pow(10.0, e));
  } else {
    for (const auto& mantissas : {std::vector<double>{1, 2, 5}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
      ticks.values.clear();
      for (int e = first - 1; e <= last; ++e)
        for (double m : mantissas) {
          double v = m * std::pow(10.0, e);
          if (v >= lo * (1 - kRelativeSlack) && v <= hi * (1 + kRelativeSlack)) ticks.values.push_back(v);
        }
      if (ticks.values.size() >= 3) break;
    }
    if (ticks.values.size() < 3) return linear_ticks(lo, hi, 5);
  }
  const bool plain = plain_log_labels(ticks.values);
  for (double v : ticks.values) ticks.labels.push_back(log_label(v, plain));
  return ticks;
}

}  // namespace zs::plot
