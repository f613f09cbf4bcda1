// Axis tick placement and labels, independent of any drawing (unit-testable).
//
// Linear axes: ticks at multiples of a "nice" step (1, 2 or 5 x 10^k) inside the range. When all
// labels would be very large or very small (|v| >= 1e5 or < 1e-3), they are written divided by a
// common power of ten and the axis title gets the factor ("inertia (×10⁵)").
// Log axes: ticks at powers of ten when the range spans two decades or more, otherwise at
// 1, 2, 5 (or 1..9) x 10^k, falling back to linear ticks for very narrow ranges.
// Negative numbers use the typographic minus sign U+2212.
#pragma once

#include <string>
#include <vector>

namespace zs::plot {

struct Ticks {
  std::vector<double> values;       // Increasing, inside the requested range.
  std::vector<std::string> labels;  // UTF-8, one per value.
  std::string title_suffix;         // e.g. " (×10⁵)"; empty when labels need no factor.
};

// Step between about `target` ticks over `span` (> 0), rounded to 1, 2 or 5 x 10^k.
double nice_step(double span, int target);
// `integers_only`: never use a step below 1 (epochs, k).
Ticks linear_ticks(double lo, double hi, int target = 6, bool integers_only = false);
// Requires 0 < lo < hi.
Ticks log_ticks(double lo, double hi);

// "10⁻³"-style power of ten, for labels and factors.
std::string power_of_ten_text(int exponent);
// Fixed-point text with `decimals` digits, "−" for negatives, never "−0".
std::string decimal_text(double value, int decimals);

}  // namespace zs::plot
