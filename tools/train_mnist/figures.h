// The figures the training commands draw, on the shared plotting module (runtime/plot).
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "runtime/plot/plot.h"
#include "tools/train_mnist/train_loop.h"

namespace zs::driver {

// loss.png: train and test curves of every loss term per epoch.
void draw_loss_curves(TrainLoop& loop);
// reconstructions.png: the first 10 test images above their reconstructions (as in the blog).
void draw_reconstructions(TrainLoop& loop, const std::function<const float*(const float* x, int n)>& reconstruct);

}  // namespace zs::driver
