#include "tools/train_mnist/train_loop.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/core/interrupt.h"
#include "runtime/data/batching.h"
#include "runtime/io/atomic_file.h"
#include "runtime/io/npy.h"
#include "runtime/train/trainer.h"
#include "tools/train_mnist/checkpoint_checks.h"
#include "tools/train_mnist/figures.h"
#include "tools/train_mnist/progress.h"
#include "tools/train_mnist/run_guards.h"

namespace zs::driver {

using Clock = std::chrono::steady_clock;

TrainLoop::TrainLoop(RunContext& ctx, Model& model, int batch, int epochs, const SafetensorsFile& resume,
                     const std::string& resume_path)
    : ctx_(ctx), model_(model), batch_(batch), epochs_(epochs), terms_(model.loss_terms()) {
  if (!resume_path.empty()) first_epoch_ = 1 + restore_checkpoint(resume, resume_path, model);
  Backend& be = *ctx.backend;
  // Both splits go to backend memory once; each epoch's shuffle is a gather there. Under mpirun
  // the training split is this rank's block (TrainSplit::RankShard), which the Trainer trains on as
  // one process on the whole set (runtime/train/trainer.h).
  train_x_ = Buffer(be, pixels_to_float(ctx.data.train));
  test_x_ = Buffer(be, pixels_to_float(ctx.data.test));
}

void TrainLoop::for_each_batch(bool test_split, const std::function<void(const float*, int, int)>& fn) {
  const ImageSet& set = test_split ? ctx_.data.test : ctx_.data.train;
  const float* base = test_split ? test_x_.data() : train_x_.data();
  for (int first = 0; first < set.count; first += batch_) {
    int n = std::min(batch_, set.count - first);
    fn(base + int64_t(first) * kPixels, first, n);
  }
}

void TrainLoop::run(double lr) {
  GracefulStopScope stop_at_step_boundary;  // SIGINT/SIGTERM: finish the step, keep the last checkpoint
  const int n_train = ctx_.data.train_total;   // the whole set's images an epoch trains on
  Trainer trainer(*ctx_.backend, model_, kPixels);
  trainer.set_communicator(&world());   // data-parallel under mpirun (runtime/dist)
  Progress progress(ctx_.opt.quiet, epochs_, n_train, first_epoch_);
  const std::string last_checkpoint = ctx_.out_path("model.safetensors");
  for (int epoch = first_epoch_; epoch < first_epoch_ + epochs_; ++epoch) {
    const auto t0 = Clock::now();
    int step = 0;
    const auto report = [&](int64_t done, const std::vector<double>& means) {
      step = int((done + batch_ - 1) / batch_);
      check_loss_range(means[0], epoch, step);
      if (!std::isfinite(means[0])) {
        std::ostringstream msg;
        msg << "training diverged: the loss is " << means[0] << " at epoch " << epoch << " (seen by step " << step
            << ")";
        if (epoch > first_epoch_)
          msg << "; the checkpoint of epoch " << epoch - 1 << " is kept in " << ctx_.out_path("model.safetensors");
        msg << "; lower --lr (or --kl-weight) and run again";
        throw UserError(msg.str());
      }
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      progress.batch(epoch, done, means[0], double(done) / std::max(secs, 1e-9));
    };
    const std::vector<double> means =
        trainer.train_epoch(train_x_.data(), ctx_.data.train.count, batch_, ctx_.opt.seed, epoch, AdamHyper{float(lr)}, report, 16,
                            [&] { throw_if_interrupted(epoch > first_epoch_ ? last_checkpoint : "", epoch - 1); });
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    train_seconds_ += secs;
    images_trained_ += n_train;
    train_hist_.push_back(means);
    test_hist_.push_back(trainer.evaluate(test_x_.data(), ctx_.data.test.count, batch_, epoch));
    if (!std::isfinite(test_hist_.back()[0]))
      throw UserError("the test loss is not finite after epoch " + std::to_string(epoch) + "; lower --lr and run again");
    std::ostringstream extra;
    extra.precision(5);
    extra << std::fixed << "test " << test_hist_.back()[0];
    progress.epoch_done(epoch, means[0], double(n_train) / std::max(secs, 1e-9), extra.str());
    save_checkpoint(ctx_.out_path("model.safetensors"), model_, epoch);
    throw_if_interrupted(ctx_.out_path("model.safetensors"), epoch);
  }
}

nlohmann::json TrainLoop::metrics(const std::string& command) const {
  nlohmann::json m;
  m["command"] = command;
  m["device"] = ctx_.backend->name();
  m["device_name"] = ctx_.backend->device_description();
  m["cpu_isa"] = ctx_.cpu_isa;
  m["precision"] = ctx_.opt.precision;
  m["epochs"] = epochs_;
  m["first_epoch"] = first_epoch_;
  m["train_count"] = ctx_.data.train_total;
  m["test_count"] = ctx_.data.test.count;
  m["seed"] = ctx_.opt.seed;
  m["threads"] = ctx_.opt.threads;
  if (world().size() > 1) m["ranks"] = world().size();   // under mpirun (docs/distributed.md)
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

void save_checkpoint(const std::string& path, Model& model, int epochs_done) {
  auto meta = model.checkpoint_metadata();
  meta["epochs_done"] = std::to_string(epochs_done);
  meta["adam_step"] = std::to_string(model.params().steps_taken());
  meta["format"] = "zspace-checkpoint-1";
  save_safetensors(path, model.params().to_host(true), meta);
}

namespace {

// How to ask for a checkpoint's metadata entry `value` (a command, or the option that sets it).
std::string how_to_match(const std::string& key, const std::string& value) {
  if (key == "command") return "run train_mnist " + value;
  std::string option = "--" + key;
  for (char& c : option)
    if (c == '_') c = '-';
  return "pass " + option + " " + value;
}

}  // namespace

int restore_checkpoint(const SafetensorsFile& f, const std::string& path, Model& model) {
  check_checkpoint_origin(f, path);
  for (const auto& [key, want] : model.checkpoint_metadata()) {
    auto it = f.metadata.find(key);
    // Checkpoints from before the blog's decoder head became the default have no decoder_head
    // entry: they were trained with the plain sigmoid head.
    const bool legacy_head = it == f.metadata.end() && key == "decoder_head";
    std::string have = legacy_head ? "sigmoid" : it == f.metadata.end() ? "(missing)" : it->second;
    if (have == want) continue;
    if (legacy_head)
      throw UserError("--resume " + path + ": the checkpoint was written before the blog's decoder head (LeakyReLU "
                      "then sigmoid) became the default and has the plain sigmoid head; resume it with "
                      "--decoder-head sigmoid, or start without --resume");
    throw UserError("--resume " + path + ": the checkpoint has " + key + " = " + have + " but this run asks for " + want +
                    "; " + how_to_match(key, have) + " as it was trained, or start without --resume");
  }
  ParamStore& ps = model.params();
  const CheckpointCounters counters = check_checkpoint(f, path, ps);  // names, values, counter ranges
  ps.from_host(f.tensors, "--resume " + path, true);
  ps.set_steps_taken(counters.adam_step);
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
  ctx.write_metrics(std::move(metrics));
}

}  // namespace zs::driver
