#include "tools/train_mnist/train_loop.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/core/interrupt.h"
#include "runtime/data/batching.h"
#include "runtime/io/atomic_file.h"
#include "runtime/io/npy.h"
#include "tools/train_mnist/checkpoint_checks.h"
#include "tools/train_mnist/figures.h"
#include "tools/train_mnist/progress.h"
#include "tools/train_mnist/run_guards.h"

namespace zs::driver {

using Clock = std::chrono::steady_clock;

TrainLoop::TrainLoop(RunContext& ctx, int batch, int epochs, int first_epoch, std::vector<std::string> terms)
    : ctx_(ctx), batch_(batch), epochs_(epochs), first_epoch_(first_epoch), terms_(std::move(terms)) {
  Backend& be = *ctx.backend;
  // Both splits go to backend memory once; each epoch's shuffle is a gather there.
  const std::vector<float> train_host = pixels_to_float(ctx.data.train);
  const std::vector<float> test_host = pixels_to_float(ctx.data.test);
  train_x_ = Buffer(be, train_host.size());
  shuffled_x_ = Buffer(be, train_host.size());
  test_x_ = Buffer(be, test_host.size());
  be.to_device(train_x_.data(), train_host.data(), train_host.size());
  be.to_device(test_x_.data(), test_host.data(), test_host.size());
  loss_host_.resize(size_t(batch) * terms_.size());
}

void TrainLoop::for_each_batch(bool test_split, const std::function<void(const float*, int, int)>& fn) {
  const ImageSet& set = test_split ? ctx_.data.test : ctx_.data.train;
  const float* base = test_split ? test_x_.data() : train_x_.data();
  for (int first = 0; first < set.count; first += batch_) {
    int n = std::min(batch_, set.count - first);
    fn(base + int64_t(first) * kPixels, first, n);
  }
}

std::vector<double> TrainLoop::mean_terms(const StepFn& fn, bool test_split) {
  std::vector<double> sums(terms_.size(), 0.0);
  int count = 0;
  for_each_batch(test_split, [&](const float* x, int, int n) {
    const float* losses = fn(x, n);
    ctx_.backend->to_host(loss_host_.data(), losses, size_t(n) * terms_.size());
    for (size_t t = 0; t < terms_.size(); ++t)
      for (int i = 0; i < n; ++i) sums[t] += loss_host_[t * size_t(n) + size_t(i)];
    count += n;
  });
  for (double& s : sums) s /= count;
  return sums;
}

void TrainLoop::run(const StepFn& train, const StepFn& evaluate, const std::function<void(int)>& epoch_end) {
  GracefulStopScope stop_at_step_boundary;  // SIGINT/SIGTERM: finish the step, keep the last checkpoint
  Backend& be = *ctx_.backend;
  const int n_train = ctx_.data.train.count;
  Progress progress(ctx_.opt.quiet, epochs_, n_train, first_epoch_);
  for (int epoch = first_epoch_; epoch < first_epoch_ + epochs_; ++epoch) {
    // The shuffle is a gather in backend memory (only the permutation is uploaded): batches are
    // then contiguous slices of shuffled_x_.
    const std::vector<int> perm = epoch_permutation(n_train, ctx_.opt.seed, epoch);
    be.gather_rows(shuffled_x_.data(), train_x_.data(), n_train, perm, kPixels);

    std::vector<double> sums(terms_.size(), 0.0);
    int64_t done = 0;
    int step = 0;
    auto t0 = Clock::now();
    for (int first = 0; first < n_train; first += batch_, ++step) {
      throw_if_interrupted(epoch > first_epoch_ ? ctx_.out_path("model.safetensors") : "", epoch - 1);
      int n = std::min(batch_, n_train - first);
      const float* losses = train(shuffled_x_.data() + int64_t(first) * kPixels, n);
      be.to_host(loss_host_.data(), losses, size_t(n) * terms_.size());
      for (size_t t = 0; t < terms_.size(); ++t)
        for (int i = 0; i < n; ++i) sums[t] += loss_host_[t * size_t(n) + size_t(i)];
      done += n;
      check_loss_range(sums[0] / double(done), epoch, step + 1);
      if (!std::isfinite(sums[0])) {
        std::ostringstream msg;
        msg << "training diverged: the loss is " << sums[0] << " at epoch " << epoch << ", step " << step + 1;
        if (epoch > first_epoch_)
          msg << "; the checkpoint of epoch " << epoch - 1 << " is kept in " << ctx_.out_path("model.safetensors");
        msg << "; lower --lr (or --kl-weight) and run again";
        throw UserError(msg.str());
      }
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      progress.batch(epoch, done, sums[0] / double(done), double(done) / std::max(secs, 1e-9));
    }
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    train_seconds_ += secs;
    images_trained_ += done;
    for (double& s : sums) s /= double(done);
    train_hist_.push_back(sums);
    test_hist_.push_back(mean_terms(evaluate, true));
    if (!std::isfinite(test_hist_.back()[0]))
      throw UserError("the test loss is not finite after epoch " + std::to_string(epoch) + "; lower --lr and run again");
    std::ostringstream extra;
    extra.precision(5);
    extra << std::fixed << "test " << test_hist_.back()[0];
    progress.epoch_done(epoch, sums[0], double(done) / std::max(secs, 1e-9), extra.str());
    epoch_end(epoch);
    throw_if_interrupted(ctx_.out_path("model.safetensors"), epoch);
  }
}

nlohmann::json TrainLoop::metrics(const std::string& command) const {
  nlohmann::json m;
  m["command"] = command;
  m["device"] = ctx_.backend->name();
  m["epochs"] = epochs_;
  m["first_epoch"] = first_epoch_;
  m["train_count"] = ctx_.data.train.count;
  m["test_count"] = ctx_.data.test.count;
  m["seed"] = ctx_.opt.seed;
  m["threads"] = ctx_.opt.threads;
  auto column = [&](const std::vector<std::vector<double>>& h, size_t t) {
    std::vector<double> c;
    for (const auto& row : h) c.push_back(row[t]);
    return c;
  };
  for (size_t t = 0; t < terms_.size(); ++t) {
    std::string key = t == 0 ? "" : "_" + terms_[t];
    m["train" + (t == 0 ? std::string("_loss") : key)] = column(train_hist_, t);
    m["test" + (t == 0 ? std::string("_loss") : key)] = test_hist_.empty() ? 0.0 : test_hist_.back()[t];
    m["test" + (t == 0 ? std::string("_loss") : key) + "_per_epoch"] = column(test_hist_, t);
  }
  m["images_per_second"] = images_per_second();
  m["train_seconds"] = train_seconds_;
  return m;
}

void save_checkpoint(const std::string& path, const ParamStore& ps, int64_t adam_step,
                     const std::map<std::string, std::string>& metadata) {
  auto meta = metadata;
  meta["adam_step"] = std::to_string(adam_step);
  meta["format"] = "zspace-checkpoint-1";
  save_safetensors(path, ps.to_host(true), meta);
}

int restore_checkpoint(const SafetensorsFile& f, const std::string& path, ParamStore& ps, int64_t* adam_step,
                       const std::map<std::string, std::string>& must_match) {
  check_checkpoint_origin(f, path);
  for (const auto& [key, want] : must_match) {
    auto it = f.metadata.find(key);
    std::string have = it == f.metadata.end() ? "(missing)" : it->second;
    if (have != want)
      throw UserError("--resume " + path + ": the checkpoint has " + key + " = " + have + " but this run asks for " + want +
                      "; pass the same options it was trained with, or start without --resume");
  }
  const CheckpointCounters counters = check_checkpoint(f, path, ps);  // names, values, counter ranges
  ps.from_host(f.tensors, "--resume " + path, true);
  *adam_step = counters.adam_step;
  return counters.epochs_done;
}

void write_loss_outputs(TrainLoop& loop) {
  RunContext& ctx = loop.ctx();
  std::ostringstream csv;
  csv.precision(7);
  csv << "epoch";
  for (const auto& t : loop.terms()) csv << ",train_" << t << ",test_" << t;
  csv << "\n";
  for (size_t e = 0; e < loop.train_history().size(); ++e) {
    csv << loop.first_epoch() + int(e);
    for (size_t t = 0; t < loop.terms().size(); ++t) csv << "," << loop.train_history()[e][t] << "," << loop.test_history()[e][t];
    csv << "\n";
  }
  write_text_atomic(ctx.out_path("loss.csv"), csv.str());
  draw_loss_curves(loop);
}

void write_run_outputs(TrainLoop& loop, nlohmann::json metrics) {
  RunContext& ctx = loop.ctx();
  write_loss_outputs(loop);
  metrics["seconds_total"] = ctx.seconds_since_start();
  write_json_atomic(ctx.out_path("metrics.json"), metrics);
}

}  // namespace zs::driver
