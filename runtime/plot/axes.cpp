// 2-D data frame layout and drawing; see axes.h.
#include "runtime/plot/axes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

namespace zs::plot {
namespace {

constexpr double kPadFraction = 0.05;  // Data never touches the frame.
constexpr double kTickLength = 5;
constexpr double kTickGap = 4;  // Between a tick and its label.

double to_axis(const AxisSpec& a, double v) { return a.log ? std::log10(v) : v; }

AxisSpec finish(AxisSpec a, const std::string& title, bool integer_ticks) {
  a.base_title = title;
  a.integer_ticks = integer_ticks;
  a.ticks = a.log ? log_ticks(a.lo, a.hi) : linear_ticks(a.lo, a.hi, a.tick_target, integer_ticks);
  a.title = title + a.ticks.title_suffix;
  return a;
}

// Smallest pixel distance between neighbouring ticks.
template <class ToPixel>
double min_tick_spacing(const AxisSpec& a, ToPixel to_pixel) {
  double spacing = std::numeric_limits<double>::infinity();
  for (std::size_t i = 1; i < a.ticks.values.size(); ++i)
    spacing = std::min(spacing, std::fabs(to_pixel(a.ticks.values[i]) - to_pixel(a.ticks.values[i - 1])));
  return spacing;
}

// Fewer ticks until neighbouring labels keep a gap (narrow figures, long labels): linear axes
// ask for fewer nice ticks, log axes keep every other one.
template <class ToPixel, class LabelExtent>
void thin_ticks(AxisSpec& a, ToPixel to_pixel, LabelExtent extent) {
  for (;;) {
    double widest = 0;
    for (const auto& label : a.ticks.labels) widest = std::max(widest, extent(label));
    if (a.ticks.values.size() <= 2 || min_tick_spacing(a, to_pixel) >= widest + kPad) return;
    if (a.log || a.tick_target <= 2) {
      Ticks kept;
      kept.title_suffix = a.ticks.title_suffix;
      for (std::size_t i = 0; i < a.ticks.values.size(); i += 2)
        kept.values.push_back(a.ticks.values[i]), kept.labels.push_back(a.ticks.labels[i]);
      a.ticks = kept;
    } else {
      --a.tick_target;
      a = finish(a, a.base_title, a.integer_ticks);
    }
  }
}

}  // namespace

AxisSpec fitted_axis(const std::vector<double>& values, const std::string& title, bool log, bool integer_ticks) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values) {
    if (!std::isfinite(v) || (log && v <= 0)) continue;
    double t = log ? std::log10(v) : v;
    lo = std::min(lo, t);
    hi = std::max(hi, t);
  }
  if (lo > hi) lo = 0, hi = 1;  // No usable data: an empty but labelled frame.
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(lo))) {
    double half = log ? 0.5 : std::max(0.5, std::fabs(lo) * 0.1);  // Constant data: centre it.
    lo -= half;
    hi += half;
  }
  double pad = (hi - lo) * kPadFraction;
  AxisSpec a;
  a.log = log;
  a.lo = log ? std::pow(10.0, lo - pad) : lo - pad;
  a.hi = log ? std::pow(10.0, hi + pad) : hi + pad;
  return finish(a, title, integer_ticks);
}

AxisSpec fixed_axis(double lo, double hi, const std::string& title) {
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
    throw std::invalid_argument("plot: fixed axis range must satisfy lo < hi");
  AxisSpec a;
  a.lo = lo;
  a.hi = hi;
  return finish(a, title, false);
}

Axes::Axes(Canvas& canvas, Rect area, AxisSpec x, AxisSpec y) : x_(std::move(x)), y_(std::move(y)) {
  double y_label_width = 0;
  for (const auto& label : y_.ticks.labels) y_label_width = std::max(y_label_width, canvas.measure(label, kTickFont).width);
  const double tick_text_height = canvas.measure("0", kTickFont).height;
  const double title_height = canvas.measure("Ag", kLabelFont).height;

  const double left = kPad + title_height + kPad + y_label_width + kTickGap + kTickLength;
  const double bottom = kTickLength + kTickGap + tick_text_height + kPad / 2 + title_height + kPad;
  // The last x label is centred on its tick and may stick out to the right of the frame; the top
  // y label sticks out by half its height.
  double right = kPad * 2;
  if (!x_.ticks.labels.empty())
    right = std::max(right, canvas.measure(x_.ticks.labels.back(), kTickFont).width / 2 + kPad);
  const double top = tick_text_height / 2 + 2;
  plot_ = {area.x + left, area.y + top, area.width - left - right, area.height - top - bottom};
  if (plot_.width < 20 || plot_.height < 20)
    throw std::invalid_argument("plot: figure too small for its labels");

  thin_ticks(x_, [this](double v) { return px(v); }, [&](const std::string& l) { return canvas.measure(l, kTickFont).width; });
  thin_ticks(y_, [this](double v) { return py(v); }, [&](const std::string&) { return tick_text_height; });
}

double Axes::px(double x) const {
  double lo = to_axis(x_, x_.lo), hi = to_axis(x_, x_.hi);
  return plot_.x + (to_axis(x_, x) - lo) / (hi - lo) * plot_.width;
}

double Axes::py(double y) const {
  double lo = to_axis(y_, y_.lo), hi = to_axis(y_, y_.hi);
  return plot_.bottom() - (to_axis(y_, y) - lo) / (hi - lo) * plot_.height;
}

void Axes::clip(Canvas& canvas) const {
  cairo_t* cr = canvas.cr();
  cairo_save(cr);
  cairo_rectangle(cr, plot_.x, plot_.y, plot_.width, plot_.height);
  cairo_clip(cr);
}

void Axes::draw_grid(Canvas& canvas) const {
  cairo_t* cr = canvas.cr();
  cairo_set_line_width(cr, 1);
  canvas.set_colour(kGrid);
  // +0.5 puts 1-pixel lines on pixel centres, so they stay crisp.
  for (double v : x_.ticks.values) {
    double p = std::round(px(v)) + 0.5;
    cairo_move_to(cr, p, plot_.y);
    cairo_line_to(cr, p, plot_.bottom());
  }
  for (double v : y_.ticks.values) {
    double p = std::round(py(v)) + 0.5;
    cairo_move_to(cr, plot_.x, p);
    cairo_line_to(cr, plot_.right(), p);
  }
  cairo_stroke(cr);
}

void Axes::draw_frame(Canvas& canvas) const {
  cairo_t* cr = canvas.cr();
  cairo_set_line_width(cr, 1);
  canvas.set_colour(kFrame);
  cairo_rectangle(cr, std::round(plot_.x) + 0.5, std::round(plot_.y) + 0.5, std::round(plot_.width),
                  std::round(plot_.height));
  for (double v : x_.ticks.values) {
    double p = std::round(px(v)) + 0.5;
    cairo_move_to(cr, p, plot_.bottom());
    cairo_line_to(cr, p, plot_.bottom() + kTickLength);
  }
  for (double v : y_.ticks.values) {
    double p = std::round(py(v)) + 0.5;
    cairo_move_to(cr, plot_.x, p);
    cairo_line_to(cr, plot_.x - kTickLength, p);
  }
  cairo_stroke(cr);

  const double x_label_top = plot_.bottom() + kTickLength + kTickGap;
  for (std::size_t i = 0; i < x_.ticks.values.size(); ++i)
    canvas.text(x_.ticks.labels[i], px(x_.ticks.values[i]), x_label_top, kTickFont, HAlign::Center, VAlign::Top);
  for (std::size_t i = 0; i < y_.ticks.values.size(); ++i)
    canvas.text(y_.ticks.labels[i], plot_.x - kTickLength - kTickGap, py(y_.ticks.values[i]), kTickFont,
                HAlign::Right, VAlign::Middle);

  const double tick_text_height = canvas.measure("0", kTickFont).height;
  canvas.text(x_.title, plot_.x + plot_.width / 2, x_label_top + tick_text_height + kPad / 2, kLabelFont,
              HAlign::Center, VAlign::Top);
  double y_label_width = 0;
  for (const auto& label : y_.ticks.labels) y_label_width = std::max(y_label_width, canvas.measure(label, kTickFont).width);
  canvas.text(y_.title, plot_.x - kTickLength - kTickGap - y_label_width - kPad, plot_.y + plot_.height / 2,
              kLabelFont, HAlign::Center, VAlign::Bottom, kText, false, std::numbers::pi / 2);
}

}  // namespace zs::plot
