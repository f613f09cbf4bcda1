// Image grid: rows x cols grayscale images, scaled up with nearest-neighbour sampling, with
// optional row titles and manifold tick labels (one value per column / row).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/plot/canvas.h"
#include "runtime/plot/plot.h"
#include "runtime/plot/ticks.h"

namespace zs::plot {
namespace {

constexpr double kTickLength = 4;
constexpr double kTickGap = 3;
const Rgb kInvertedSeparator = rgb8(190, 190, 190);  // Visible between white cells.

// Decimals that keep neighbouring values distinct (e.g. 0.32 apart -> 1 decimal).
int decimals_for_values(const std::vector<double>& values) {
  double smallest_gap = INFINITY;
  for (std::size_t i = 1; i < values.size(); ++i) {
    double gap = std::fabs(values[i] - values[i - 1]);
    if (gap > 0) smallest_gap = std::min(smallest_gap, gap);
  }
  if (!std::isfinite(smallest_gap)) return 1;
  return std::clamp(static_cast<int>(std::ceil(-std::log10(smallest_gap) - 1e-9)), 0, 6);
}

std::vector<std::string> value_labels(const std::vector<double>& values) {
  std::vector<std::string> labels;
  int decimals = decimals_for_values(values);
  for (double v : values) labels.push_back(decimal_text(v, decimals));
  return labels;
}

// Label every `stride`-th cell so that labels `extent` long fit cells `pitch` apart.
int label_stride(double extent, double pitch) {
  return std::max(1, static_cast<int>(std::ceil((extent + kPad) / pitch)));
}

// One image as an RGB24 Cairo surface at native resolution (scaled up when painted).
cairo_surface_t* image_surface(const float* pixels, int height, int width, bool invert) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_surface_flush(surface);
  unsigned char* data = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  for (int y = 0; y < height; ++y) {
    auto* row = reinterpret_cast<uint32_t*>(data + static_cast<std::ptrdiff_t>(y) * stride);
    for (int x = 0; x < width; ++x) {
      float v = pixels[y * width + x];
      if (std::isnan(v)) {
        row[x] = 0xff00ffu;  // Magenta: a NaN must never look like a plausible pixel.
        continue;
      }
      double level = std::clamp(static_cast<double>(v), 0.0, 1.0);
      if (invert) level = 1.0 - level;
      uint32_t g = static_cast<uint32_t>(std::lround(level * 255));
      row[x] = (g << 16) | (g << 8) | g;
    }
  }
  cairo_surface_mark_dirty(surface);
  return surface;
}

struct Layout {
  double cell_w, cell_h, pitch_x, pitch_y, grid_w, grid_h;
  double left, top;  // Grid origin.
  int width, height;
};

}  // namespace

FigureSize image_grid(const std::filesystem::path& path, std::span<const float> images, int rows, int cols,
                      const ImageGridOptions& options) {
  const int ih = options.image_height, iw = options.image_width;
  if (rows <= 0 || cols <= 0 || ih <= 0 || iw <= 0 || options.scale <= 0 || options.separator < 0)
    throw std::invalid_argument("image_grid: rows, cols, image size and scale must be positive");
  const std::size_t per_image = static_cast<std::size_t>(ih) * iw;
  if (images.size() != static_cast<std::size_t>(rows) * cols * per_image)
    throw std::invalid_argument("image_grid: " + std::to_string(images.size()) + " values for " + std::to_string(rows) +
                                "x" + std::to_string(cols) + " images of " + std::to_string(ih) + "x" + std::to_string(iw));
  if (!options.row_titles.empty() && options.row_titles.size() != static_cast<std::size_t>(rows))
    throw std::invalid_argument("image_grid: row_titles needs one entry per row");
  if (!options.column_values.empty() && options.column_values.size() != static_cast<std::size_t>(cols))
    throw std::invalid_argument("image_grid: column_values needs one entry per column");
  if (!options.row_values.empty() && options.row_values.size() != static_cast<std::size_t>(rows))
    throw std::invalid_argument("image_grid: row_values needs one entry per row");

  const std::vector<std::string> column_labels = value_labels(options.column_values);
  const std::vector<std::string> row_labels = value_labels(options.row_values);

  // Measure every text block first: the figure size follows from them.
  Canvas probe(1, 1);
  const double text_h = probe.measure("Ag", kTickFont).height;
  const double label_h = probe.measure("Ag", kLabelFont).height;
  const double title_h = options.title.empty() ? 0 : probe.measure(options.title, kTitleFont, true).height;
  double row_title_w = 0, row_label_w = 0, column_label_w = 0;
  for (const auto& t : options.row_titles) row_title_w = std::max(row_title_w, probe.measure(t, kTickFont).width);
  for (const auto& t : row_labels) row_label_w = std::max(row_label_w, probe.measure(t, kTickFont).width);
  for (const auto& t : column_labels) column_label_w = std::max(column_label_w, probe.measure(t, kTickFont).width);
  const bool has_y_axis = !row_labels.empty(), has_x_axis = !column_labels.empty();

  Layout L;
  L.cell_w = static_cast<double>(iw) * options.scale;
  L.cell_h = static_cast<double>(ih) * options.scale;
  L.pitch_x = L.cell_w + options.separator;
  L.pitch_y = L.cell_h + options.separator;
  L.grid_w = cols * L.pitch_x - options.separator;
  L.grid_h = rows * L.pitch_y - options.separator;
  double left = kPad;
  if (has_y_axis && !options.y_label.empty()) left += label_h + kPad;
  if (row_title_w > 0) left += row_title_w + kPad;
  if (has_y_axis) left += row_label_w + kTickGap + kTickLength;
  double bottom = kPad;
  if (has_x_axis) bottom += kTickLength + kTickGap + text_h + (options.x_label.empty() ? 0 : kPad / 2 + label_h);
  const double top = kPad + (title_h > 0 ? title_h + kPad : 0);
  double width = left + L.grid_w + kPad;
  const double title_w = options.title.empty() ? 0 : probe.measure(options.title, kTitleFont, true).width + 2 * kPad;
  if (title_w > width) left += (title_w - width) / 2, width = title_w;  // Centre the grid under a long title.
  L.left = std::round(left);
  L.top = std::round(top);
  L.width = static_cast<int>(std::ceil(width));
  L.height = static_cast<int>(std::ceil(top + L.grid_h + bottom));

  Canvas canvas(L.width, L.height);
  cairo_t* cr = canvas.cr();
  canvas.text(options.title, L.width / 2.0, kPad, kTitleFont, HAlign::Center, VAlign::Top, kText, true);

  // Separators are the background showing between cells; white (inverted) cells also get a
  // 1-pixel outline, or they would merge with the page.
  const double outline = options.invert ? 1 : 0;
  canvas.set_colour(options.invert ? kInvertedSeparator : kWhite);
  cairo_rectangle(cr, L.left - outline, L.top - outline, L.grid_w + 2 * outline, L.grid_h + 2 * outline);
  cairo_fill(cr);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const float* pixels = images.data() + (static_cast<std::size_t>(r) * cols + c) * per_image;
      cairo_surface_t* image = image_surface(pixels, ih, iw, options.invert);
      cairo_save(cr);
      cairo_translate(cr, L.left + c * L.pitch_x, L.top + r * L.pitch_y);
      cairo_scale(cr, options.scale, options.scale);
      cairo_set_source_surface(cr, image, 0, 0);
      cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);  // Crisp pixels.
      cairo_paint(cr);
      cairo_restore(cr);
      cairo_surface_destroy(image);
    }
  }

  // Left of the grid, from the inside out: tick labels, row titles, the y axis title.
  double x = L.left;
  if (has_y_axis) {
    x -= kTickLength;
    const int stride = label_stride(text_h, L.pitch_y);
    canvas.set_colour(kFrame);
    cairo_set_line_width(cr, 1);
    for (int r = 0; r < rows; r += stride) {
      double y = std::round(L.top + r * L.pitch_y + L.cell_h / 2) + 0.5;
      cairo_move_to(cr, x, y);
      cairo_line_to(cr, L.left, y);
      cairo_stroke(cr);
      canvas.text(row_labels[r], x - kTickGap, y, kTickFont, HAlign::Right, VAlign::Middle);
    }
    x -= kTickGap + row_label_w;
  }
  if (row_title_w > 0) {
    x -= kPad;
    for (int r = 0; r < rows; ++r)
      canvas.text(options.row_titles[r], x, L.top + r * L.pitch_y + L.cell_h / 2, kTickFont, HAlign::Right,
                  VAlign::Middle);
    x -= row_title_w;
  }
  if (has_y_axis && !options.y_label.empty())
    canvas.text(options.y_label, x - kPad, L.top + L.grid_h / 2, kLabelFont, HAlign::Center, VAlign::Bottom, kText,
                false, std::numbers::pi / 2);

  if (has_x_axis) {
    const double tick_top = L.top + L.grid_h;
    const int stride = label_stride(column_label_w, L.pitch_x);
    canvas.set_colour(kFrame);
    cairo_set_line_width(cr, 1);
    for (int c = 0; c < cols; c += stride) {
      double cx = std::round(L.left + c * L.pitch_x + L.cell_w / 2) + 0.5;
      cairo_move_to(cr, cx, tick_top);
      cairo_line_to(cr, cx, tick_top + kTickLength);
      cairo_stroke(cr);
      canvas.text(column_labels[c], cx, tick_top + kTickLength + kTickGap, kTickFont, HAlign::Center, VAlign::Top);
    }
    canvas.text(options.x_label, L.left + L.grid_w / 2, tick_top + kTickLength + kTickGap + text_h + kPad / 2,
                kLabelFont, HAlign::Center, VAlign::Top);
  }

  canvas.save_png(path);
  return {L.width, L.height};
}

}  // namespace zs::plot
