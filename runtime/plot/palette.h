// Colours shared by every figure. Class ids map to the Tableau 10 qualitative palette (also
// matplotlib's default "tab10"), so digit d has the same colour everywhere; series in line plots
// use the same list in order.
#pragma once

#include <array>
#include <cstddef>

namespace zs::plot {

struct Rgb {
  double r, g, b;  // Each in [0, 1].
};

constexpr Rgb rgb8(int r, int g, int b) { return {r / 255.0, g / 255.0, b / 255.0}; }

inline constexpr std::array<Rgb, 10> kClassPalette = {
    rgb8(31, 119, 180),   // 0 blue
    rgb8(255, 127, 14),   // 1 orange
    rgb8(44, 160, 44),    // 2 green
    rgb8(214, 39, 40),    // 3 red
    rgb8(148, 103, 189),  // 4 purple
    rgb8(140, 86, 75),    // 5 brown
    rgb8(227, 119, 194),  // 6 pink
    rgb8(127, 127, 127),  // 7 grey
    rgb8(188, 189, 34),   // 8 olive
    rgb8(23, 190, 207),   // 9 cyan
};

// Ids >= 10 (e.g. more clusters than digits) reuse the palette cyclically.
constexpr Rgb class_colour(std::size_t id) { return kClassPalette[id % kClassPalette.size()]; }

inline constexpr Rgb kBlack = rgb8(0, 0, 0);
inline constexpr Rgb kWhite = rgb8(255, 255, 255);
inline constexpr Rgb kText = rgb8(34, 34, 34);
inline constexpr Rgb kFrame = rgb8(64, 64, 64);
inline constexpr Rgb kGrid = rgb8(228, 228, 228);
inline constexpr Rgb kMissing = rgb8(255, 0, 255);  // NaN pixels: impossible to overlook.

}  // namespace zs::plot
