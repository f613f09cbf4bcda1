#include "runtime/train/trainer.h"

#include <algorithm>

#include "runtime/data/batching.h"

namespace zs {

Trainer::Trainer(Backend& be, Model& model, int row_len)
    : be_(be), model_(model), row_len_(row_len), terms_(model.loss_terms().size()), sums_(be, terms_) {
  if (be.supports_capture()) staged_input_ = Buffer(be, size_t(model.max_batch()) * size_t(row_len));
  reset_sums();
}

void Trainer::reset_sums() { be_.fill_zero(sums_.data(), terms_); }

std::vector<double> Trainer::read_sums() {
  std::vector<double> sums(terms_);
  be_.to_host(sums.data(), sums_.data(), terms_);
  if (distributed(comm_)) comm_->allreduce_sum(std::span<double>(sums));   // every rank's slices
  return sums;
}

// The data-parallel step: this rank's slice of the global batch x[n].
const float* Trainer::step_slice(const float* x, int n, const AdamHyper& h) {
  const Shard slice = shard_of(n, comm_->rank(), comm_->size());
  const int mine = int(slice.rows());
  ParamStore& p = model_.params();
  const float* input = x + slice.begin * row_len_;
  if (mine > 0) {
    step_terms_ = model_.forward_loss(input, mine, slice.begin);
    model_.backward(input, mine);
  } else {
    be_.fill_zero(p.grads(), size_t(p.total()));   // a batch smaller than R: this rank adds nothing
  }
  // The slice's mean gradient, weighted by its share of the batch: the sum is the batch mean.
  comm_->allreduce_sum_device(be_, p.grads(), size_t(p.total()), double(mine) / double(n));
  p.adam_update(be_, h);
  if (mine > 0) be_.sum_loss_terms(sums_.data(), step_terms_, mine, int(terms_));
  return step_terms_;
}

const float* Trainer::step(const float* x, int n, const AdamHyper& h) {
  if (distributed(comm_)) return step_slice(x, n, h);
  const auto work = [&, n, h](const float* input) {
    step_terms_ = model_.forward_loss(input, n, 0);
    model_.backward(input, n);
    model_.params().adam_update(be_, h);
    be_.sum_loss_terms(sums_.data(), step_terms_, n, int(terms_));
  };
  if (!be_.supports_capture()) {
    work(x);
    return step_terms_;
  }
  // A captured graph reads its input from one fixed buffer; the copy is device to device.
  be_.copy(staged_input_.data(), x, size_t(n) * size_t(row_len_));
  graphs_.run(be_, n, h, [&] { work(staged_input_.data()); });
  return step_terms_;
}

std::vector<double> Trainer::train_epoch(const float* data, int rows, int batch, uint64_t seed, int epoch,
                                         const AdamHyper& h, const Report& report, int report_every,
                                         const std::function<void()>& before_step) {
  if (shuffled_.size() < size_t(rows) * size_t(row_len_)) shuffled_ = Buffer(be_, size_t(rows) * size_t(row_len_));
  be_.gather_rows(shuffled_.data(), data, rows, epoch_permutation(rows, seed, epoch), row_len_);
  reset_sums();
  int64_t done = 0;
  std::vector<double> means(terms_, 0.0);
  int step_index = 0;
  for (int first = 0; first < rows; first += batch, ++step_index) {
    const int n = std::min(batch, rows - first);
    if (before_step) before_step();
    step(shuffled_.data() + int64_t(first) * row_len_, n, h);
    done += n;
    if ((step_index + 1) % report_every == 0 || first + n >= rows) {
      means = read_sums();
      for (double& m : means) m /= double(done);
      report(done, means);
    }
  }
  return means;
}

std::vector<double> Trainer::evaluate(const float* data, int rows, int batch, int epoch) {
  reset_sums();
  for (int first = 0; first < rows; first += batch) {
    int n = std::min(batch, rows - first);
    const float* x = data + int64_t(first) * row_len_;
    int64_t first_row = 0;
    if (distributed(comm_)) {   // this rank's slice; read_sums adds the ranks
      const Shard slice = shard_of(n, comm_->rank(), comm_->size());
      x += slice.begin * row_len_;
      first_row = slice.begin;
      n = int(slice.rows());
      if (n == 0) continue;
    }
    be_.sum_loss_terms(sums_.data(), model_.evaluate(x, n, epoch, first_row), n, int(terms_));
  }
  std::vector<double> means = read_sums();
  for (double& m : means) m /= double(rows);
  return means;
}

}  // namespace zs
