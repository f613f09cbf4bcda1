// Internal drawing layer of the plot module: a white Cairo image surface with text helpers and
// atomic PNG output. Coordinates are pixels, origin top-left, y down.
#pragma once

#include <cairo.h>

#include <filesystem>
#include <string_view>

#include "runtime/plot/palette.h"

namespace zs::plot {

enum class HAlign { Left, Center, Right };
// Top/Bottom use the font's ascent/descent (not the ink), so labels of one row share a baseline.
enum class VAlign { Top, Middle, Baseline, Bottom };

struct TextExtent {
  double width;
  double height;  // Ascent + descent of the font at that size.
};

struct Rect {
  double x, y, width, height;
  double right() const { return x + width; }
  double bottom() const { return y + height; }
};

// Font sizes (pixels) used by every figure, so all figures look alike.
inline constexpr double kTitleFont = 17;
inline constexpr double kLabelFont = 14;  // Axis titles.
inline constexpr double kTickFont = 12;   // Tick labels, legends, row titles.
inline constexpr double kPad = 8;         // Gap between text blocks.

class Canvas {
 public:
  Canvas(int width, int height);
  ~Canvas();
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  cairo_t* cr() const { return cr_; }
  int width() const { return width_; }
  int height() const { return height_; }

  void set_colour(Rgb c, double alpha = 1.0);
  TextExtent measure(std::string_view text, double size, bool bold = false);
  // Draws `text` anchored at (x, y). `angle` in radians, counter-clockwise as seen on screen
  // (pi/2 for a vertical axis title read bottom to top); alignment applies before rotation.
  void text(std::string_view text, double x, double y, double size, HAlign h, VAlign v,
            Rgb colour = kText, bool bold = false, double angle = 0);
  // Writes the surface as PNG atomically (temp name + rename).
  void save_png(const std::filesystem::path& path);

 private:
  void select_font(double size, bool bold);

  int width_;
  int height_;
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

}  // namespace zs::plot
