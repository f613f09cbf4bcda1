// Tests for runtime/plot: tick placement and labels, and every figure function (PNG written
// atomically, of the reported size, not blank, class colours from the fixed palette).
// Set ZS_PLOT_SAMPLES=/some/folder to keep the figures for a visual check.
#include <catch2/catch.hpp>

#include <cairo.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/plot/palette.h"
#include "runtime/plot/plot.h"
#include "runtime/plot/ticks.h"

namespace fs = std::filesystem;
namespace plot = zs::plot;


namespace {

// Where figures go: ZS_PLOT_SAMPLES if set (kept), else a temporary folder (removed).
struct FigureDir {
  fs::path path;
  bool keep = false;
  FigureDir() {
    if (const char* samples = std::getenv("ZS_PLOT_SAMPLES")) {
      path = samples;
      keep = true;
    } else {
      static int serial = 0;
      path = fs::temp_directory_path() / ("zs_test_plot_" + std::to_string(::getpid()) + "_" + std::to_string(serial++));
      fs::remove_all(path);
    }
    fs::create_directories(path);
  }
  ~FigureDir() {
    std::error_code ec;
    if (!keep) fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

bool no_temporaries(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return false;
  return true;
}

// A PNG decoded by Cairo, with the checks every figure needs.
struct Png {
  cairo_surface_t* surface = nullptr;
  int width = 0, height = 0;
  explicit Png(const fs::path& p) {
    surface = cairo_image_surface_create_from_png(p.c_str());
    INFO("reading " << p);
    REQUIRE(cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS);
    width = cairo_image_surface_get_width(surface);
    height = cairo_image_surface_get_height(surface);
  }
  ~Png() { cairo_surface_destroy(surface); }
  Png(const Png&) = delete;
  Png& operator=(const Png&) = delete;

  // 0xRRGGBB of pixel (x, y); our figures are opaque, so premultiplication does not matter.
  uint32_t rgb(int x, int y) const {
    const unsigned char* data = cairo_image_surface_get_data(surface);
    const int stride = cairo_image_surface_get_stride(surface);
    return reinterpret_cast<const uint32_t*>(data + static_cast<std::ptrdiff_t>(y) * stride)[x] & 0xffffffu;
  }
  double luminance_variance() const {
    double sum = 0, sum2 = 0;
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        uint32_t p = rgb(x, y);
        double l = 0.299 * (p >> 16) + 0.587 * ((p >> 8) & 0xff) + 0.114 * (p & 0xff);
        sum += l, sum2 += l * l;
      }
    double n = static_cast<double>(width) * height;
    return sum2 / n - (sum / n) * (sum / n);
  }
  // Number of pixels within `tolerance` (per channel) of colour c.
  int count_colour(plot::Rgb c, int tolerance = 0) const {
    const int r = static_cast<int>(std::lround(c.r * 255)), g = static_cast<int>(std::lround(c.g * 255)),
              b = static_cast<int>(std::lround(c.b * 255));
    int n = 0;
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        uint32_t p = rgb(x, y);
        if (std::abs(static_cast<int>(p >> 16) - r) <= tolerance &&
            std::abs(static_cast<int>((p >> 8) & 0xff) - g) <= tolerance &&
            std::abs(static_cast<int>(p & 0xff) - b) <= tolerance)
          ++n;
      }
    return n;
  }
};

void check_figure(const fs::path& file, plot::FigureSize reported, int expected_w, int expected_h) {
  INFO("figure " << file);
  REQUIRE(fs::exists(file));
  CHECK(no_temporaries(file.parent_path()));
  Png png(file);
  CHECK(png.width == reported.width);
  CHECK(png.height == reported.height);
  if (expected_w > 0) CHECK(png.width == expected_w);
  if (expected_h > 0) CHECK(png.height == expected_h);
  CHECK(png.luminance_variance() > 100);  // Not blank: text, lines and fills on white.
}

// A digit-like 28x28 image in [0, 1]: the glyph drawn by Cairo, optionally blurred to look
// like an autoencoder reconstruction. Only for realistic-looking sample figures.
std::vector<float> digit_image(int digit, int blur_passes = 0, double shift = 0) {
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_A8, 28, 28);
  cairo_t* cr = cairo_create(s);
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size(cr, 24);
  std::string text = std::to_string(digit);
  cairo_text_extents_t te;
  cairo_text_extents(cr, text.c_str(), &te);
  cairo_move_to(cr, 14 - te.width / 2 - te.x_bearing + shift, 14 - te.height / 2 - te.y_bearing);
  cairo_show_text(cr, text.c_str());
  cairo_surface_flush(s);
  std::vector<float> img(784);
  const unsigned char* data = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) img[y * 28 + x] = data[y * stride + x] / 255.f;
  cairo_destroy(cr);
  cairo_surface_destroy(s);
  for (int pass = 0; pass < blur_passes; ++pass) {
    std::vector<float> b(784, 0.f);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        float sum = 0;
        int n = 0;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx)
            if (y + dy >= 0 && y + dy < 28 && x + dx >= 0 && x + dx < 28) sum += img[(y + dy) * 28 + x + dx], ++n;
        b[y * 28 + x] = sum / n;
      }
    img = b;
  }
  return img;
}

}  // namespace

// ====================================================================== ticks

TEST_CASE("nice steps are 1, 2 or 5 times a power of ten", "[plot][ticks]") {
  CHECK(plot::nice_step(1.0, 6) == Approx(0.2));
  CHECK(plot::nice_step(100, 6) == Approx(20));
  CHECK(plot::nice_step(7, 6) == Approx(2));
  CHECK(plot::nice_step(0.003, 4) == Approx(0.001));
  CHECK(plot::nice_step(36, 5) == Approx(10));
}

TEST_CASE("linear ticks and labels", "[plot][ticks]") {
  auto t = plot::linear_ticks(0, 1);
  CHECK(t.labels == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
  CHECK(t.title_suffix.empty());

  t = plot::linear_ticks(-0.55, 0.55);
  CHECK(t.labels == std::vector<std::string>{"−0.4", "−0.2", "0.0", "0.2", "0.4"});  // Never "−0.0".

  t = plot::linear_ticks(0, 350000);
  CHECK(t.labels == std::vector<std::string>{"0.0", "0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5"});
  CHECK(t.title_suffix == " (×10⁵)");

  t = plot::linear_ticks(0.00012, 0.00048, 3);
  CHECK(t.labels == std::vector<std::string>{"2", "3", "4"});
  CHECK(t.title_suffix == " (×10⁻⁴)");

  t = plot::linear_ticks(0.5, 10.4, 6, /*integers_only=*/true);
  CHECK(t.labels == std::vector<std::string>{"2", "4", "6", "8", "10"});
  t = plot::linear_ticks(0.8, 3.2, 6, true);
  CHECK(t.labels == std::vector<std::string>{"1", "2", "3"});  // Never 1.5 epochs.

  CHECK(plot::decimal_text(-0.0001, 2) == "0.00");
  CHECK(plot::decimal_text(-2.5, 1) == "−2.5");
}

TEST_CASE("log ticks and labels", "[plot][ticks]") {
  auto t = plot::log_ticks(0.0009, 20);
  CHECK(t.labels == std::vector<std::string>{"0.001", "0.01", "0.1", "1", "10"});
  t = plot::log_ticks(2e-9, 0.02);  // Tiny values: powers of ten throughout, not mixed.
  CHECK(t.labels == std::vector<std::string>{"10⁻⁸", "10⁻⁷", "10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²"});
  t = plot::log_ticks(0.095, 0.31);  // Less than a decade: 1..9 x 10^k.
  CHECK(t.labels == std::vector<std::string>{"0.1", "0.2", "0.3"});
  t = plot::log_ticks(0.15, 0.6);
  CHECK(t.labels == std::vector<std::string>{"0.2", "0.3", "0.4", "0.5", "0.6"});  // 0.2, 0.5 alone: too few.
  t = plot::log_ticks(1, 1e30);
  CHECK(t.values.size() <= 9);
  CHECK(t.labels.front() == "10⁰");
}

// ====================================================================== figures

TEST_CASE("line plot: loss curves and the elbow curve", "[plot]") {
  FigureDir dir;
  std::vector<double> epochs, train, test;
  for (int e = 1; e <= 30; ++e) {
    epochs.push_back(e);
    train.push_back(0.08 + 0.2 * std::exp(-e / 4.0));
    test.push_back(0.085 + 0.18 * std::exp(-e / 4.5));
  }
  plot::LinePlotOptions opt{.title = "Conv autoencoder (z = 16): binary cross-entropy",
                            .x_label = "epoch", .y_label = "loss"};
  const std::vector<plot::Series> losses = {{"train", epochs, train}, {"test", epochs, test}};
  auto size = plot::line_plot(dir / "loss_curves.png", losses, opt);
  check_figure(dir / "loss_curves.png", size, 800, 500);
  {
    Png png(dir / "loss_curves.png");
    CHECK(png.count_colour(plot::class_colour(0)) > 20);  // Series colours follow the palette.
    CHECK(png.count_colour(plot::class_colour(1)) > 20);
  }

  opt.log_y = true;
  opt.title = "VAE loss (log scale)";
  std::vector<double> vae_train, vae_test;
  for (int e = 1; e <= 30; ++e) vae_train.push_back(200 * std::exp(-e / 3.0) + 140), vae_test.push_back(180 * std::exp(-e / 3.5) + 150);
  size = plot::line_plot(dir / "loss_curves_log.png", {{"train", epochs, vae_train}, {"test", epochs, vae_test}}, opt);
  check_figure(dir / "loss_curves_log.png", size, 800, 500);

  std::vector<double> ks, inertia;
  for (int k = 1; k <= 20; ++k) ks.push_back(k), inertia.push_back(2.6e5 / std::sqrt(k) + 1.2e5);
  size = plot::line_plot(dir / "elbow.png", {{"inertia", ks, inertia, true}},
                         {.title = "KMeans elbow curve", .x_label = "number of clusters k", .y_label = "inertia",
                          .width = 720, .height = 480});
  check_figure(dir / "elbow.png", size, 720, 480);

  // Gaps (NaN) and an empty series do not break the figure.
  std::vector<double> gappy = train;
  gappy[10] = NAN;
  size = plot::line_plot(dir / "gaps.png", {{"train", epochs, gappy}, {"nothing", {}, {}}}, {.title = "gaps"});
  check_figure(dir / "gaps.png", size, 800, 500);
  CHECK_THROWS_AS(plot::line_plot(dir / "x.png", {{"bad", {1, 2}, {1}}}, {}), std::invalid_argument);
}

TEST_CASE("class scatter: latent space coloured by digit", "[plot]") {
  FigureDir dir;
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.f, 0.6f);
  const int n = 5000;
  std::vector<float> xy;
  std::vector<int32_t> labels;
  for (int i = 0; i < n; ++i) {
    int d = static_cast<int>(rng() % 10);
    double angle = d * 2 * std::numbers::pi / 10;
    xy.push_back(static_cast<float>(3 * std::cos(angle)) + noise(rng));
    xy.push_back(static_cast<float>(3 * std::sin(angle)) * 1.5f + noise(rng));
    labels.push_back(d);
  }
  auto size = plot::class_scatter(dir / "latent_ae.png", xy, labels, {.title = "AE latent space (test set)"});
  check_figure(dir / "latent_ae.png", size, 760, 640);
  {
    Png png(dir / "latent_ae.png");
    for (int d = 0; d < 10; ++d) {
      INFO("digit " << d);
      CHECK(png.count_colour(plot::class_colour(d)) > 0);  // At least the opaque legend dot.
    }
  }

  // Fixed ranges (shared with another figure): points outside are clipped, not a problem.
  std::vector<uint8_t> u8(labels.begin(), labels.end());
  plot::ScatterOptions fixed{.title = "VAE latent space, same scale as the AE"};
  fixed.x_range = plot::AxisRange{-2, 2};
  fixed.y_range = plot::AxisRange{-2, 2};
  size = plot::class_scatter(dir / "latent_vae_fixed.png", xy, u8, fixed);
  check_figure(dir / "latent_vae_fixed.png", size, 760, 640);

  CHECK_THROWS_AS(plot::class_scatter(dir / "x.png", std::vector<float>{1, 2, 3}, std::vector<int32_t>{0, 1}, {}),
                  std::invalid_argument);
  CHECK_THROWS_AS(plot::class_scatter(dir / "x.png", std::vector<float>{1, 2}, std::vector<int32_t>{-1}, {}),
                  std::invalid_argument);
  fixed.x_range = plot::AxisRange{1, 1};
  CHECK_THROWS_AS(plot::class_scatter(dir / "x.png", xy, labels, fixed), std::invalid_argument);
}

TEST_CASE("image grid: reconstructions, samples and a latent manifold", "[plot]") {
  FigureDir dir;
  const int cols = 10;
  std::vector<float> images;
  for (int row = 0; row < 2; ++row)
    for (int c = 0; c < cols; ++c) {
      auto img = digit_image(c, row == 0 ? 0 : 2);
      images.insert(images.end(), img.begin(), img.end());
    }
  plot::ImageGridOptions opt{.title = "Test digits and their reconstructions"};
  opt.row_titles = {"original", "reconstruction"};
  auto size = plot::image_grid(dir / "reconstructions.png", images, 2, cols, opt);
  check_figure(dir / "reconstructions.png", size, 0, 0);
  {
    Png png(dir / "reconstructions.png");
    CHECK(png.width >= cols * 28 * 2 + (cols - 1) * 2);
    CHECK(png.height >= 2 * 28 * 2 + 2);
    CHECK(png.count_colour(plot::kBlack) > 1000);  // Image background.
    CHECK(png.count_colour(plot::kWhite) > 1000);  // Stroke centres and the page.
  }

  // A decoded manifold: 15 x 15 cells with z values on both axes.
  const int n = 15;
  std::vector<float> manifold;
  std::vector<double> zs;
  for (int i = 0; i < n; ++i) zs.push_back(-3 + 6.0 * i / (n - 1));
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) {
      auto img = digit_image((r * 3 / n) * 3 + c * 3 / n, 1, (c % 5) - 2.0);
      manifold.insert(manifold.end(), img.begin(), img.end());
    }
  plot::ImageGridOptions mopt{.title = "Decoded latent manifold", .separator = 0};
  mopt.column_values = zs;
  mopt.row_values = std::vector<double>(zs.rbegin(), zs.rend());  // z[1] grows upwards.
  mopt.x_label = "z[0]";
  mopt.y_label = "z[1]";
  size = plot::image_grid(dir / "manifold.png", manifold, n, n, mopt);
  check_figure(dir / "manifold.png", size, 0, 0);

  // Inverted (black on white), larger scale, NaN pixels shown in magenta.
  std::vector<float> samples(images.begin(), images.begin() + 5 * 784);
  samples[3 * 784 + 100] = NAN;
  size = plot::image_grid(dir / "samples_inverted.png", samples, 1, 5,
                          {.title = "Generated samples", .scale = 3, .invert = true});
  check_figure(dir / "samples_inverted.png", size, 0, 0);
  {
    Png png(dir / "samples_inverted.png");
    CHECK(png.count_colour(plot::kMissing) == 9);  // One pixel scaled 3x3.
    CHECK(png.width >= 5 * 28 * 3);
  }

  CHECK_THROWS_AS(plot::image_grid(dir / "x.png", images, 3, cols, opt), std::invalid_argument);
  opt.row_titles = {"only one"};
  CHECK_THROWS_AS(plot::image_grid(dir / "x.png", images, 2, cols, opt), std::invalid_argument);
}

TEST_CASE("confusion heatmap with counts in the cells", "[plot]") {
  FigureDir dir;
  std::vector<int64_t> counts(100);
  std::mt19937 rng(3);
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p) counts[t * 10 + p] = t == p ? 800 + static_cast<int64_t>(rng() % 200) : rng() % 40;
  counts[4 * 10 + 9] = 310;  // A typical 4 -> 9 confusion.
  auto size = plot::confusion_heatmap(dir / "confusion.png", counts, 10, 10,
                                      {.title = "KMeans (k = 10) as a classifier: test set"});
  check_figure(dir / "confusion.png", size, 0, 0);
  {
    Png png(dir / "confusion.png");
    CHECK(png.width >= 10 * 44);
    CHECK(png.height >= 10 * 44);
    CHECK(png.count_colour(plot::rgb8(8, 48, 107)) > 100);     // The largest count: darkest blue.
    CHECK(png.count_colour(plot::rgb8(247, 251, 255)) > 100);  // Zero-ish cells: lightest.
  }

  // Clusters x digits, large counts (font shrinks to fit), no colour bar.
  std::vector<int64_t> big(12 * 10);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<int64_t>((i * 7919) % 60000);
  plot::HeatmapOptions opt{.title = "clusters vs digits", .x_label = "digit", .y_label = "cluster", .colour_bar = false};
  size = plot::confusion_heatmap(dir / "clusters.png", big, 12, 10, opt);
  check_figure(dir / "clusters.png", size, 0, 0);

  opt.colour_bar = true;
  opt.title = "with a colour bar factor";
  for (auto& v : big) v *= 10;
  size = plot::confusion_heatmap(dir / "clusters_bar.png", big, 12, 10, opt);
  check_figure(dir / "clusters_bar.png", size, 0, 0);

  CHECK_THROWS_AS(plot::confusion_heatmap(dir / "x.png", counts, 10, 9, {}), std::invalid_argument);
}

TEST_CASE("degenerate inputs still give labelled figures", "[plot]") {
  FigureDir dir;
  plot::FigureSize size;
  size = plot::line_plot(dir / "edge_one_point.png", {{"only point", {3}, {0.5}, true}},
                         {.title = "A single point", .x_label = "epoch", .y_label = "loss"});
  check_figure(dir / "edge_one_point.png", size, 800, 500);
  size = plot::line_plot(dir / "edge_log_nonpositive.png", {{"zeros", {1, 2, 3}, {0, -1, 0}}},
                         {.title = "Nothing positive on a log axis", .x_label = "x", .y_label = "y", .log_y = true});
  check_figure(dir / "edge_log_nonpositive.png", size, 800, 500);
  size = plot::class_scatter(dir / "edge_empty_scatter.png", std::vector<float>{}, std::vector<int32_t>{},
                             {.title = "No points"});
  check_figure(dir / "edge_empty_scatter.png", size, 760, 640);
  size = plot::confusion_heatmap(dir / "edge_zero_heatmap.png", std::vector<int64_t>(6, 0), 2, 3, {.title = "All zero"});
  check_figure(dir / "edge_zero_heatmap.png", size, 0, 0);
  std::vector<double> xs, ys;
  for (int i = 0; i <= 40; ++i) xs.push_back(1000.5 + i * 0.25), ys.push_back(std::pow(10.0, -i / 4.0));
  size = plot::line_plot(dir / "edge_narrow.png", {{"decay", xs, ys}},
                         {.title = "Narrow", .x_label = "x", .y_label = "y", .log_y = true, .width = 240, .height = 200});
  check_figure(dir / "edge_narrow.png", size, 240, 200);
  size = plot::image_grid(dir / "edge_single_image.png", digit_image(7), 1, 1,
                          {.title = "A single image under a title much wider than the grid"});
  check_figure(dir / "edge_single_image.png", size, 0, 0);
}

TEST_CASE("a figure into a missing folder is a UserError and leaves nothing", "[plot]") {
  FigureDir dir;
  const fs::path target = dir / "missing" / "fig.png";
  CHECK_THROWS_AS(plot::line_plot(target, {{"a", {1, 2}, {1, 2}}}, {.title = "t"}), zs::UserError);
  CHECK_FALSE(fs::exists(target.parent_path()));
}
