// Class scatter: N 2-D points coloured by class, legend to the right of the frame.
// Points are drawn in data order (not class by class), so no class systematically hides another.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "runtime/plot/axes.h"
#include "runtime/plot/plot.h"

namespace zs::plot {
namespace {

constexpr double kLegendDotRadius = 5;
constexpr double kLegendRowGap = 6;

template <class Label>
FigureSize scatter_impl(const std::filesystem::path& path, std::span<const float> xy, std::span<const Label> labels,
                        const ScatterOptions& options) {
  if (xy.size() != 2 * labels.size())
    throw std::invalid_argument("class_scatter: " + std::to_string(xy.size()) + " coordinates for " +
                                std::to_string(labels.size()) + " labels (expected 2 per label)");
  std::set<int64_t> classes;
  for (Label l : labels) {
    if constexpr (std::is_signed_v<Label>)
      if (l < 0) throw std::invalid_argument("class_scatter: negative class id");
    classes.insert(static_cast<int64_t>(l));
  }

  Canvas canvas(options.width, options.height);

  // Legend column on the right: its width decides the room left for the frame.
  const double row_height = canvas.measure("Ag", kTickFont).height + kLegendRowGap;
  double legend_width = canvas.measure(options.legend_title, kTickFont, true).width;
  for (int64_t c : classes)
    legend_width = std::max(legend_width, 2 * kLegendDotRadius + kPad + canvas.measure(std::to_string(c), kTickFont).width);
  legend_width += 2 * kPad;

  const double title_height = canvas.measure(options.title, kTitleFont, true).height;
  canvas.text(options.title, options.width / 2.0, kPad, kTitleFont, HAlign::Center, VAlign::Top, kText, true);
  const double top = kPad + title_height + kPad / 2;

  std::vector<double> xs, ys;
  xs.reserve(labels.size());
  ys.reserve(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) xs.push_back(xy[2 * i]), ys.push_back(xy[2 * i + 1]);
  AxisSpec x_axis = options.x_range ? fixed_axis(options.x_range->lo, options.x_range->hi, options.x_label)
                                    : fitted_axis(xs, options.x_label);
  AxisSpec y_axis = options.y_range ? fixed_axis(options.y_range->lo, options.y_range->hi, options.y_label)
                                    : fitted_axis(ys, options.y_label);
  Axes axes(canvas, Rect{0, top, options.width - legend_width, options.height - top}, x_axis, y_axis);

  axes.draw_grid(canvas);
  axes.clip(canvas);
  cairo_t* cr = canvas.cr();
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) continue;
    canvas.set_colour(class_colour(static_cast<std::size_t>(labels[i])), options.point_alpha);
    cairo_new_sub_path(cr);
    cairo_arc(cr, axes.px(xs[i]), axes.py(ys[i]), options.point_radius, 0, 2 * std::numbers::pi);
    cairo_fill(cr);
  }
  cairo_restore(cr);
  axes.draw_frame(canvas);

  const Rect& frame = axes.plot();
  const double legend_x = frame.right() + 2 * kPad;
  double y = frame.y;
  canvas.text(options.legend_title, legend_x, y, kTickFont, HAlign::Left, VAlign::Top, kText, true);
  y += row_height;
  for (int64_t c : classes) {
    double centre_y = y + row_height / 2;
    canvas.set_colour(class_colour(static_cast<std::size_t>(c)));
    cairo_new_sub_path(cr);
    cairo_arc(cr, legend_x + kLegendDotRadius, centre_y, kLegendDotRadius, 0, 2 * std::numbers::pi);
    cairo_fill(cr);
    canvas.text(std::to_string(c), legend_x + 2 * kLegendDotRadius + kPad, centre_y, kTickFont, HAlign::Left,
                VAlign::Middle);
    y += row_height;
  }

  canvas.save_png(path);
  return {options.width, options.height};
}

}  // namespace

FigureSize class_scatter(const std::filesystem::path& path, std::span<const float> xy,
                         std::span<const int32_t> labels, const ScatterOptions& options) {
  return scatter_impl(path, xy, labels, options);
}

FigureSize class_scatter(const std::filesystem::path& path, std::span<const float> xy,
                         std::span<const uint8_t> labels, const ScatterOptions& options) {
  return scatter_impl(path, xy, labels, options);
}

}  // namespace zs::plot
