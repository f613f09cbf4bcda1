#include "tools/train_mnist/figures.h"

#include <algorithm>

namespace zs::driver {

void draw_loss_curves(TrainLoop& loop) {
  std::vector<plot::Series> series;
  const auto& terms = loop.terms();
  for (size_t t = 0; t < terms.size(); ++t)
    for (bool test : {false, true}) {
      plot::Series s;
      s.name = std::string(test ? "test " : "train ") + terms[t];
      const auto& hist = test ? loop.test_history() : loop.train_history();
      for (size_t e = 0; e < hist.size(); ++e) {
        s.x.push_back(loop.first_epoch() + int(e));
        s.y.push_back(hist[e][t]);
      }
      s.markers = hist.size() < 30;
      series.push_back(std::move(s));
    }
  plot::LinePlotOptions o;
  o.title = "training loss per epoch";
  o.x_label = "epoch";
  o.y_label = "loss (mean per image)";
  o.log_y = terms.size() > 1;  // VAE terms differ by orders of magnitude
  plot::line_plot(loop.ctx().out_path("loss.png"), series, o);
}

void draw_reconstructions(TrainLoop& loop, const std::function<const float*(const float*, int)>& reconstruct) {
  RunContext& ctx = loop.ctx();
  const int cols = std::min(10, ctx.data.test.count);
  std::vector<float> images(size_t(2 * cols) * kPixels);
  ctx.backend->to_host(images.data(), loop.test_images(), size_t(cols) * kPixels);
  // In pieces of at most --batch images: the model's buffers are planned for that many (a --batch
  // below 10 used to overrun the plan here, after the whole training had run).
  for (int first = 0; first < cols; first += loop.batch()) {
    const int n = std::min(loop.batch(), cols - first);
    ctx.backend->to_host(images.data() + size_t(cols + first) * kPixels,
                         reconstruct(loop.test_images() + int64_t(first) * kPixels, n), size_t(n) * kPixels);
  }
  plot::ImageGridOptions o;
  o.title = "test digits (top) and their reconstructions (bottom)";
  o.scale = 3;
  o.row_titles = {"original", "reconstructed"};
  plot::image_grid(ctx.out_path("reconstructions.png"), images, 2, cols, o);
}

}  // namespace zs::driver
