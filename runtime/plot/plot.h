// Figures for every train_mnist command, drawn with Cairo and written as PNG.
//
// Conventions shared by all figures:
// - Output is atomic (temporary file in the same folder, then rename); I/O failures are
//   zs::UserError naming the file. Inconsistent arguments (sizes that do not match) are
//   std::invalid_argument: they are programming errors, not user errors.
// - Class colours come from one fixed qualitative palette (Tableau 10, see palette.h): digit d
//   has the same colour in every figure.
// - Every axis has tick labels at "nice" values (1, 2, 5 x 10^k) and a title; every figure has
//   a title. Text is DejaVu Sans through Cairo's toy font API.
// - Each function returns the pixel size of the PNG it wrote.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace zs::plot {

struct FigureSize {
  int width = 0;
  int height = 0;
};

struct AxisRange {
  double lo = 0;
  double hi = 1;
};

// ---------------------------------------------------------------- line plot
// Loss curves (train/test per epoch) and the elbow curve (inertia vs k, with markers).

struct Series {
  std::string name{};       // Legend entry.
  std::vector<double> x{};  // Same length as y.
  std::vector<double> y{};  // Non-finite values (and values <= 0 on a log axis) are skipped.
  bool markers = false;    // Draw a dot on each point (e.g. the elbow curve).
};

struct LinePlotOptions {
  std::string title{};
  std::string x_label{};
  std::string y_label{};
  bool log_y = false;
  int width = 800;
  int height = 500;
};

FigureSize line_plot(const std::filesystem::path& path, const std::vector<Series>& series,
                     const LinePlotOptions& options);

// ---------------------------------------------------------------- class scatter
// 2-D points coloured by class (latent spaces). Thousands of points: small translucent dots.

struct ScatterOptions {
  std::string title{};
  std::string x_label = "z[0]";
  std::string y_label = "z[1]";
  std::string legend_title = "digit";
  // Fixed ranges let two figures (AE and VAE latents) share one scale; default: fit the data.
  std::optional<AxisRange> x_range{};
  std::optional<AxisRange> y_range{};
  double point_radius = 1.6;  // Pixels.
  double point_alpha = 0.55;
  int width = 760;
  int height = 640;
};

// xy holds N points interleaved (x0, y0, x1, y1, ...), i.e. an N x 2 row-major matrix; labels
// holds N non-negative class ids (digits 0-9; larger ids reuse the palette cyclically).
FigureSize class_scatter(const std::filesystem::path& path, std::span<const float> xy,
                         std::span<const int32_t> labels, const ScatterOptions& options);
FigureSize class_scatter(const std::filesystem::path& path, std::span<const float> xy,
                         std::span<const uint8_t> labels, const ScatterOptions& options);

// ---------------------------------------------------------------- image grid
// Reconstructions, generated samples, decoded 2-D latent manifolds.

struct ImageGridOptions {
  std::string title{};
  int image_height = 28;
  int image_width = 28;
  int scale = 2;          // Each pixel becomes scale x scale screen pixels (nearest neighbour).
  int separator = 2;      // Pixels of background between cells.
  bool invert = false;    // false: 0 = black, 1 = white (matplotlib "gray"); true: the reverse.
  // One title per row, drawn left of it (e.g. "original", "reconstruction"); empty: none.
  std::vector<std::string> row_titles{};
  // Manifold axes: one value per column (x) / per row (y, top row first), labelled under the
  // columns and left of the rows; empty: no ticks. Labels are thinned out if they would collide.
  std::vector<double> column_values{};
  std::vector<double> row_values{};
  std::string x_label{};  // e.g. "z[0]"; drawn only with column_values.
  std::string y_label{};  // e.g. "z[1]"; drawn only with row_values.
};

// images: rows * cols images of image_height x image_width floats in [0, 1] (values outside are
// clamped; NaN is shown in magenta so it cannot pass unnoticed), row-major, row by row.
FigureSize image_grid(const std::filesystem::path& path, std::span<const float> images, int rows,
                      int cols, const ImageGridOptions& options);

// ---------------------------------------------------------------- confusion heatmap

struct HeatmapOptions {
  std::string title{};
  std::string x_label = "predicted digit";
  std::string y_label = "true digit";
  std::vector<std::string> row_labels{};     // Default "0", "1", ...
  std::vector<std::string> column_labels{};  // Default "0", "1", ...
  bool colour_bar = true;
  int cell_size = 44;  // Cell height in pixels; cells widen when a count needs it.
};

// counts: rows x cols, row-major; each cell shows its count in a colour that contrasts with it.
FigureSize confusion_heatmap(const std::filesystem::path& path, std::span<const int64_t> counts,
                             int rows, int cols, const HeatmapOptions& options);

}  // namespace zs::plot
