// Confusion heatmap: a rows x cols count matrix as coloured cells with the count written in
// each, row/column labels, axis titles and an optional colour bar. Colours run from white (0)
// to dark blue (the largest count), ColorBrewer "Blues".
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/plot/canvas.h"
#include "runtime/plot/plot.h"
#include "runtime/plot/ticks.h"

namespace zs::plot {
namespace {

// ColorBrewer "Blues" (9 classes), evenly spaced from 0 to 1.
constexpr std::array<Rgb, 9> kBlues = {rgb8(247, 251, 255), rgb8(222, 235, 247), rgb8(198, 219, 239),
                                       rgb8(158, 202, 225), rgb8(107, 174, 214), rgb8(66, 146, 198),
                                       rgb8(33, 113, 181),  rgb8(8, 81, 156),    rgb8(8, 48, 107)};
constexpr double kBarWidth = 16;
constexpr double kTickLength = 4;
constexpr double kTickGap = 3;
constexpr double kCellTextMargin = 4;  // Free pixels left and right of a count.
constexpr double kMinCountFont = 10;   // Below this, cells widen instead of the text shrinking.

Rgb blues(double t) {
  t = std::clamp(t, 0.0, 1.0) * (kBlues.size() - 1);
  std::size_t i = std::min<std::size_t>(static_cast<std::size_t>(t), kBlues.size() - 2);
  double f = t - static_cast<double>(i);
  const Rgb &a = kBlues[i], &b = kBlues[i + 1];
  return {a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b)};
}

// White text on dark cells, dark text on light ones (relative luminance, Rec. 709).
Rgb text_colour_on(Rgb background) {
  double luminance = 0.2126 * background.r + 0.7152 * background.g + 0.0722 * background.b;
  return luminance < 0.5 ? kWhite : kText;
}

std::vector<std::string> labels_or_indices(const std::vector<std::string>& labels, int n, const char* what) {
  if (labels.empty()) {
    std::vector<std::string> indices;
    for (int i = 0; i < n; ++i) indices.push_back(std::to_string(i));
    return indices;
  }
  if (labels.size() != static_cast<std::size_t>(n))
    throw std::invalid_argument(std::string("confusion_heatmap: ") + what + " needs " + std::to_string(n) + " entries");
  return labels;
}

}  // namespace

FigureSize confusion_heatmap(const std::filesystem::path& path, std::span<const int64_t> counts, int rows, int cols,
                             const HeatmapOptions& options) {
  if (rows <= 0 || cols <= 0 || options.cell_size < 8)
    throw std::invalid_argument("confusion_heatmap: rows and cols must be positive and cell_size >= 8");
  if (counts.size() != static_cast<std::size_t>(rows) * cols)
    throw std::invalid_argument("confusion_heatmap: " + std::to_string(counts.size()) + " counts for a " +
                                std::to_string(rows) + "x" + std::to_string(cols) + " matrix");
  const std::vector<std::string> row_labels = labels_or_indices(options.row_labels, rows, "row_labels");
  const std::vector<std::string> column_labels = labels_or_indices(options.column_labels, cols, "column_labels");
  const int64_t largest = std::max<int64_t>(1, *std::max_element(counts.begin(), counts.end()));

  Canvas probe(1, 1);
  // Counts too wide for a cell first shrink (down to kMinCountFont), then widen the cells.
  double widest_count = 0;
  for (int64_t c : counts) widest_count = std::max(widest_count, probe.measure(std::to_string(c), kTickFont).width);
  const double cell_h = options.cell_size;
  const double fit = (cell_h - 2 * kCellTextMargin) / std::max(1.0, widest_count);
  const double count_font = std::clamp(kTickFont * fit, kMinCountFont, kTickFont);
  const double cell_w = std::max(cell_h, std::ceil(widest_count * count_font / kTickFont + 2 * kCellTextMargin));
  const double text_h = probe.measure("Ag", kTickFont).height;
  const double label_h = probe.measure("Ag", kLabelFont).height;
  const double title_h = options.title.empty() ? 0 : probe.measure(options.title, kTitleFont, true).height;
  double row_label_w = 0;
  for (const auto& t : row_labels) row_label_w = std::max(row_label_w, probe.measure(t, kTickFont).width);
  const Ticks bar_ticks = linear_ticks(0, static_cast<double>(largest), 5);
  double bar_label_w = 0;
  for (const auto& t : bar_ticks.labels) bar_label_w = std::max(bar_label_w, probe.measure(t, kTickFont).width);

  double left = kPad + label_h + kPad + row_label_w + kTickGap;
  const double top = kPad + (title_h > 0 ? title_h + kPad : 0);
  const double grid_w = cols * cell_w, grid_h = rows * cell_h;
  const double bottom = kTickGap + text_h + kPad / 2 + label_h + kPad;
  double right = kPad;
  if (options.colour_bar)  // Bar, ticks, labels and the vertical title "count".
    right = 2 * kPad + kBarWidth + kTickLength + kTickGap + bar_label_w + kPad + text_h + kPad;
  double width = left + grid_w + right;
  const double title_w = options.title.empty() ? 0 : probe.measure(options.title, kTitleFont, true).width + 2 * kPad;
  if (title_w > width) left += (title_w - width) / 2, width = title_w;
  left = std::round(left);
  const int figure_w = static_cast<int>(std::ceil(width));
  const int figure_h = static_cast<int>(std::ceil(top + grid_h + bottom));

  Canvas canvas(figure_w, figure_h);
  cairo_t* cr = canvas.cr();
  canvas.text(options.title, figure_w / 2.0, kPad, kTitleFont, HAlign::Center, VAlign::Top, kText, true);

  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const int64_t count = counts[static_cast<std::size_t>(r) * cols + c];
      const Rgb fill = blues(static_cast<double>(count) / static_cast<double>(largest));
      const double x = left + c * cell_w, y = top + r * cell_h;
      canvas.set_colour(fill);
      cairo_rectangle(cr, x, y, cell_w, cell_h);
      cairo_fill(cr);
      canvas.text(std::to_string(count), x + cell_w / 2, y + cell_h / 2, count_font, HAlign::Center, VAlign::Middle,
                  text_colour_on(fill));
    }
  }
  // Thin white rules keep equal-coloured neighbours apart.
  canvas.set_colour(kWhite);
  cairo_set_line_width(cr, 1);
  for (int c = 1; c < cols; ++c) cairo_move_to(cr, left + c * cell_w, top), cairo_line_to(cr, left + c * cell_w, top + grid_h);
  for (int r = 1; r < rows; ++r) cairo_move_to(cr, left, top + r * cell_h), cairo_line_to(cr, left + grid_w, top + r * cell_h);
  cairo_stroke(cr);

  for (int r = 0; r < rows; ++r)
    canvas.text(row_labels[r], left - kTickGap, top + r * cell_h + cell_h / 2, kTickFont, HAlign::Right, VAlign::Middle);
  for (int c = 0; c < cols; ++c)
    canvas.text(column_labels[c], left + c * cell_w + cell_w / 2, top + grid_h + kTickGap, kTickFont, HAlign::Center,
                VAlign::Top);
  canvas.text(options.x_label, left + grid_w / 2, top + grid_h + kTickGap + text_h + kPad / 2, kLabelFont,
              HAlign::Center, VAlign::Top);
  canvas.text(options.y_label, left - kTickGap - row_label_w - kPad, top + grid_h / 2, kLabelFont, HAlign::Center,
              VAlign::Bottom, kText, false, std::numbers::pi / 2);

  if (options.colour_bar) {
    const double bar_x = left + grid_w + 2 * kPad;
    cairo_pattern_t* gradient = cairo_pattern_create_linear(0, top + grid_h, 0, top);
    for (std::size_t i = 0; i < kBlues.size(); ++i)
      cairo_pattern_add_color_stop_rgb(gradient, static_cast<double>(i) / (kBlues.size() - 1), kBlues[i].r,
                                       kBlues[i].g, kBlues[i].b);
    cairo_rectangle(cr, bar_x, top, kBarWidth, grid_h);
    cairo_set_source(cr, gradient);
    cairo_fill(cr);
    cairo_pattern_destroy(gradient);
    canvas.set_colour(kFrame);
    cairo_rectangle(cr, bar_x + 0.5, top + 0.5, kBarWidth - 1, grid_h - 1);
    cairo_stroke(cr);
    const double tick_x = bar_x + kBarWidth;
    for (std::size_t i = 0; i < bar_ticks.values.size(); ++i) {
      double y = std::round(top + grid_h - bar_ticks.values[i] / static_cast<double>(largest) * grid_h) + 0.5;
      canvas.set_colour(kFrame);
      cairo_move_to(cr, tick_x, y);
      cairo_line_to(cr, tick_x + kTickLength, y);
      cairo_stroke(cr);
      canvas.text(bar_ticks.labels[i], tick_x + kTickLength + kTickGap, y, kTickFont, HAlign::Left, VAlign::Middle);
    }
    canvas.text("count" + bar_ticks.title_suffix, tick_x + kTickLength + kTickGap + bar_label_w + kPad,
                top + grid_h / 2, kTickFont, HAlign::Center, VAlign::Top, kText, false, std::numbers::pi / 2);
  }

  canvas.save_png(path);
  return {figure_w, figure_h};
}

}  // namespace zs::plot
