// Internal: a 2-D data frame (line plots, scatters): ranges, margins sized to the tick labels
// and axis titles, grid, frame, ticks, and the data-to-pixel mapping.
// Drawing order for a figure: draw_grid, then the data clipped to plot(), then draw_frame.
#pragma once

#include <string>
#include <vector>

#include "runtime/plot/canvas.h"
#include "runtime/plot/ticks.h"

namespace zs::plot {

struct AxisSpec {
  double lo = 0, hi = 1;  // Visible range (data range plus padding, or a fixed range).
  bool log = false;
  Ticks ticks;
  std::string title;  // Includes the tick factor, e.g. "inertia (×10⁵)".
  std::string base_title;      // Without the factor.
  bool integer_ticks = false;  // Never a step below 1.
  int tick_target = 6;         // Lowered when labels would collide.
};

// Range fitted to finite `values` with 5% padding (in log space for log axes; values <= 0 are
// ignored there). Empty or constant data still gives a usable range.
AxisSpec fitted_axis(const std::vector<double>& values, const std::string& title, bool log = false,
                     bool integer_ticks = false);
// Exactly [lo, hi] (lo < hi), e.g. to give two figures the same scale.
AxisSpec fixed_axis(double lo, double hi, const std::string& title);

class Axes {
 public:
  // Places the plot rectangle inside `area`, leaving room for tick labels and axis titles.
  Axes(Canvas& canvas, Rect area, AxisSpec x, AxisSpec y);

  const Rect& plot() const { return plot_; }
  double px(double x) const;  // Data -> pixel; log axes map log10 linearly.
  double py(double y) const;

  void draw_grid(Canvas& canvas) const;
  void draw_frame(Canvas& canvas) const;
  // Restricts drawing to the plot rectangle until cairo_restore().
  void clip(Canvas& canvas) const;

 private:
  AxisSpec x_, y_;
  Rect plot_;
};

}  // namespace zs::plot
