// Cairo canvas with text helpers and atomic PNG output; see canvas.h.
#include "runtime/plot/canvas.h"

#include <exception>
#include <stdexcept>
#include <string>

#include "runtime/core/error.h"
#include "runtime/io/atomic_file.h"

namespace zs::plot {
namespace {

constexpr const char* kFontFamily = "DejaVu Sans";
constexpr int kMaxSide = 32767;  // Cairo's limit for image surfaces.

struct PngSink {
  AtomicFileWriter* writer;
  std::exception_ptr error;  // Cairo's C callback must not throw; rethrown after encoding.
};

cairo_status_t write_png_chunk(void* closure, const unsigned char* data, unsigned int length) {
  auto* sink = static_cast<PngSink*>(closure);
  try {
    sink->writer->write(data, length);
    return CAIRO_STATUS_SUCCESS;
  } catch (...) {
    sink->error = std::current_exception();
    return CAIRO_STATUS_WRITE_ERROR;
  }
}

}  // namespace

Canvas::Canvas(int width, int height) : width_(width), height_(height) {
  if (width <= 0 || height <= 0 || width > kMaxSide || height > kMaxSide)
    throw std::invalid_argument("plot: figure size " + std::to_string(width) + "x" +
                                std::to_string(height) + " is outside 1.." + std::to_string(kMaxSide));
  surface_ = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cr_ = cairo_create(surface_);
  if (cairo_status(cr_) != CAIRO_STATUS_SUCCESS) {
    std::string reason = cairo_status_to_string(cairo_status(cr_));
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
    throw std::runtime_error("plot: cannot create a " + std::to_string(width) + "x" + std::to_string(height) +
                             " Cairo surface: " + reason);
  }
  // Unhinted metrics: measured widths then match drawn widths at any position.
  cairo_font_options_t* font_options = cairo_font_options_create();
  cairo_font_options_set_hint_metrics(font_options, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_antialias(font_options, CAIRO_ANTIALIAS_GRAY);
  cairo_set_font_options(cr_, font_options);
  cairo_font_options_destroy(font_options);

  set_colour(kWhite);
  cairo_paint(cr_);
}

Canvas::~Canvas() {
  cairo_destroy(cr_);
  cairo_surface_destroy(surface_);
}

void Canvas::set_colour(Rgb c, double alpha) { cairo_set_source_rgba(cr_, c.r, c.g, c.b, alpha); }

void Canvas::select_font(double size, bool bold) {
  cairo_select_font_face(cr_, kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr_, size);
}

TextExtent Canvas::measure(std::string_view text, double size, bool bold) {
  select_font(size, bold);
  std::string s(text);
  cairo_text_extents_t te;
  cairo_text_extents(cr_, s.c_str(), &te);
  cairo_font_extents_t fe;
  cairo_font_extents(cr_, &fe);
  return {te.x_advance, fe.ascent + fe.descent};
}

void Canvas::text(std::string_view text, double x, double y, double size, HAlign h, VAlign v, Rgb colour,
                  bool bold, double angle) {
  if (text.empty()) return;
  select_font(size, bold);
  std::string s(text);
  cairo_text_extents_t te;
  cairo_text_extents(cr_, s.c_str(), &te);
  cairo_font_extents_t fe;
  cairo_font_extents(cr_, &fe);

  double dx = h == HAlign::Left ? 0 : h == HAlign::Center ? -te.x_advance / 2 : -te.x_advance;
  double dy = 0;
  switch (v) {
    case VAlign::Top: dy = fe.ascent; break;
    case VAlign::Middle: dy = (fe.ascent - fe.descent) / 2; break;
    case VAlign::Baseline: dy = 0; break;
    case VAlign::Bottom: dy = -fe.descent; break;
  }
  cairo_save(cr_);
  cairo_translate(cr_, x, y);
  cairo_rotate(cr_, -angle);  // Cairo's y axis points down, so positive rotation is clockwise.
  cairo_move_to(cr_, dx, dy);
  set_colour(colour);
  cairo_show_text(cr_, s.c_str());
  cairo_restore(cr_);
}

void Canvas::save_png(const std::filesystem::path& path) {
  cairo_surface_flush(surface_);
  AtomicFileWriter writer(path);
  PngSink sink{&writer, nullptr};
  cairo_status_t status = cairo_surface_write_to_png_stream(surface_, write_png_chunk, &sink);
  if (sink.error) std::rethrow_exception(sink.error);
  if (status != CAIRO_STATUS_SUCCESS)
    throw UserError("cannot write figure " + path.string() + ": " + cairo_status_to_string(status) +
                    "; check free space and permissions of the folder");
  writer.commit();
}

}  // namespace zs::plot
