// Line plot: named series with a legend placed in the emptiest corner of the frame.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

#include "runtime/plot/axes.h"
#include "runtime/plot/plot.h"

namespace zs::plot {
namespace {

constexpr double kLineWidth = 2;
constexpr double kMarkerRadius = 3.5;
constexpr double kLegendSwatch = 26;  // Length of the line sample.
constexpr double kLegendRowGap = 4;
constexpr double kLegendInset = 10;   // Distance between legend box and frame.
constexpr int kSamplesPerSegment = 16;

bool usable(double x, double y, bool log_y) { return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0); }

bool all_integers(const std::vector<Series>& series) {
  for (const Series& s : series)
    for (double x : s.x)
      if (std::isfinite(x) && x != std::round(x)) return false;
  return true;
}

struct Legend {
  double width = 0, height = 0, row_height = 0;
};

Legend measure_legend(Canvas& canvas, const std::vector<Series>& series) {
  Legend legend;
  legend.row_height = canvas.measure("Ag", kTickFont).height + kLegendRowGap;
  double text_width = 0;
  for (const Series& s : series) text_width = std::max(text_width, canvas.measure(s.name, kTickFont).width);
  legend.width = kPad + kLegendSwatch + kPad + text_width + kPad;
  legend.height = kPad / 2 + legend.row_height * static_cast<double>(series.size()) + kPad / 2;
  return legend;
}

// Picks the inside corner whose legend box covers the fewest pixels of the curves (sampled
// along each segment), like matplotlib's loc="best" restricted to corners.
Rect best_legend_box(const Axes& axes, const std::vector<Series>& series, const Legend& legend, bool log_y) {
  const Rect& p = axes.plot();
  const double left = p.x + kLegendInset, right = p.right() - kLegendInset - legend.width;
  const double top = p.y + kLegendInset, bottom = p.bottom() - kLegendInset - legend.height;
  // Preference order on ties: upper right (usual place for decreasing losses), then the rest.
  const std::array<Rect, 4> corners = {Rect{right, top, legend.width, legend.height},
                                       Rect{left, top, legend.width, legend.height},
                                       Rect{right, bottom, legend.width, legend.height},
                                       Rect{left, bottom, legend.width, legend.height}};
  std::array<int, 4> hits{};
  for (const Series& s : series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i], log_y)) continue;
      double x0 = axes.px(s.x[i]), y0 = axes.py(s.y[i]);
      double x1 = x0, y1 = y0;
      if (i + 1 < s.x.size() && usable(s.x[i + 1], s.y[i + 1], log_y)) x1 = axes.px(s.x[i + 1]), y1 = axes.py(s.y[i + 1]);
      for (int k = 0; k <= kSamplesPerSegment; ++k) {
        double t = static_cast<double>(k) / kSamplesPerSegment;
        double x = x0 + t * (x1 - x0), y = y0 + t * (y1 - y0);
        for (std::size_t c = 0; c < corners.size(); ++c)
          if (x >= corners[c].x && x <= corners[c].right() && y >= corners[c].y && y <= corners[c].bottom()) ++hits[c];
      }
    }
  }
  return corners[std::min_element(hits.begin(), hits.end()) - hits.begin()];
}

void draw_marker(cairo_t* cr, double x, double y) {
  cairo_new_sub_path(cr);
  cairo_arc(cr, x, y, kMarkerRadius, 0, 2 * std::numbers::pi);
  cairo_fill(cr);
}

void draw_series(Canvas& canvas, const Axes& axes, const Series& s, Rgb colour, bool log_y) {
  cairo_t* cr = canvas.cr();
  canvas.set_colour(colour);
  cairo_set_line_width(cr, kLineWidth);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  bool pen_down = false;
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    if (!usable(s.x[i], s.y[i], log_y)) {
      pen_down = false;  // A gap in the data is a gap in the line.
      continue;
    }
    if (pen_down) cairo_line_to(cr, axes.px(s.x[i]), axes.py(s.y[i]));
    else cairo_move_to(cr, axes.px(s.x[i]), axes.py(s.y[i]));
    pen_down = true;
  }
  cairo_stroke(cr);
  if (s.markers)
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (usable(s.x[i], s.y[i], log_y)) draw_marker(cr, axes.px(s.x[i]), axes.py(s.y[i]));
}

void draw_legend(Canvas& canvas, const std::vector<Series>& series, const Legend& legend, Rect box) {
  cairo_t* cr = canvas.cr();
  cairo_rectangle(cr, box.x + 0.5, box.y + 0.5, box.width, box.height);
  canvas.set_colour(kWhite, 0.9);
  cairo_fill_preserve(cr);
  canvas.set_colour(kGrid);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  for (std::size_t i = 0; i < series.size(); ++i) {
    // Whole pixels: a 2-pixel line on a pixel boundary is drawn crisp, in its exact colour.
    double y = std::round(box.y + kPad / 2 + legend.row_height * (static_cast<double>(i) + 0.5));
    double x = box.x + kPad;
    canvas.set_colour(class_colour(i));
    cairo_set_line_width(cr, kLineWidth);
    cairo_move_to(cr, x, y);
    cairo_line_to(cr, x + kLegendSwatch, y);
    cairo_stroke(cr);
    if (series[i].markers) draw_marker(cr, x + kLegendSwatch / 2, y);
    canvas.text(series[i].name, x + kLegendSwatch + kPad, y, kTickFont, HAlign::Left, VAlign::Middle);
  }
}

}  // namespace

FigureSize line_plot(const std::filesystem::path& path, const std::vector<Series>& series,
                     const LinePlotOptions& options) {
  std::vector<double> xs, ys;
  for (const Series& s : series) {
    if (s.x.size() != s.y.size())
      throw std::invalid_argument("line_plot: series '" + s.name + "' has " + std::to_string(s.x.size()) +
                                  " x values but " + std::to_string(s.y.size()) + " y values");
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (usable(s.x[i], s.y[i], options.log_y)) xs.push_back(s.x[i]), ys.push_back(s.y[i]);
  }

  Canvas canvas(options.width, options.height);
  const double title_height = canvas.measure(options.title, kTitleFont, true).height;
  canvas.text(options.title, options.width / 2.0, kPad, kTitleFont, HAlign::Center, VAlign::Top, kText, true);
  const double top = kPad + title_height + kPad / 2;
  Axes axes(canvas, Rect{0, top, static_cast<double>(options.width), options.height - top},
            fitted_axis(xs, options.x_label, false, all_integers(series)),
            fitted_axis(ys, options.y_label, options.log_y));

  axes.draw_grid(canvas);
  axes.clip(canvas);
  for (std::size_t i = 0; i < series.size(); ++i) draw_series(canvas, axes, series[i], class_colour(i), options.log_y);
  cairo_restore(canvas.cr());
  axes.draw_frame(canvas);

  if (!series.empty()) {
    Legend legend = measure_legend(canvas, series);
    draw_legend(canvas, series, legend, best_legend_box(axes, series, legend, options.log_y));
  }
  canvas.save_png(path);
  return {options.width, options.height};
}

}  // namespace zs::plot
