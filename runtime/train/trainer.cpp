#include "runtime/train/trainer.h"

#include <algorithm>

#include "runtime/data/batching.h"
#include "runtime/dist/row_exchange.h"

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

// The data-parallel step: this rank's slice (rows slice of the global batch of n; mine[slice.rows()]).
const float* Trainer::step_slice(const float* mine, Shard slice, int n, const AdamHyper& h) {
  const int rows = int(slice.rows());
  ParamStore& p = model_.params();
  if (rows > 0) {
    step_terms_ = model_.forward_loss(mine, rows, slice.begin);
    model_.backward(mine, rows);
  } else {
    be_.fill_zero(p.grads(), size_t(p.total()));   // a batch smaller than R: this rank adds nothing
  }
  // The slice's mean gradient, weighted by its share of the batch: the sum is the batch mean.
  comm_->allreduce_sum_device(be_, p.grads(), size_t(p.total()), double(rows) / double(n));
  p.adam_update(be_, h);
  if (rows > 0) be_.sum_loss_terms(sums_.data(), step_terms_, rows, int(terms_));
  return step_terms_;
}

const float* Trainer::step(const float* x, int n, const AdamHyper& h) {
  if (distributed(comm_)) {
    const Shard slice = shard_of(n, comm_->rank(), comm_->size());
    return step_slice(x + slice.begin * row_len_, slice, n, h);
  }
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

// Batches of `batch` over `total` rows in order: before_step, the step on rows [first, first + n)
// of the epoch's order, and the report every report_every steps and at the end.
std::vector<double> Trainer::run_epoch(int total, int batch, const Report& report, int report_every,
                                       const std::function<void()>& before_step,
                                       const std::function<void(int first, int n)>& step_at) {
  reset_sums();
  int64_t done = 0;
  std::vector<double> means(terms_, 0.0);
  int step_index = 0;
  for (int first = 0; first < total; first += batch, ++step_index) {
    const int n = std::min(batch, total - first);
    if (before_step) before_step();
    step_at(first, n);
    done += n;
    if ((step_index + 1) % report_every == 0 || first + n >= total) {
      means = read_sums();
      for (double& m : means) m /= double(done);
      report(done, means);
    }
  }
  return means;
}

std::vector<double> Trainer::train_epoch(const float* data, int rows, int batch, uint64_t seed, int epoch,
                                         const AdamHyper& h, const Report& report, int report_every,
                                         const std::function<void()>& before_step) {
  if (distributed(comm_)) return train_sharded_epoch(data, rows, batch, seed, epoch, h, report, report_every, before_step);
  if (shuffled_.size() < size_t(rows) * size_t(row_len_)) shuffled_ = Buffer(be_, size_t(rows) * size_t(row_len_));
  be_.gather_rows(shuffled_.data(), data, rows, epoch_permutation(rows, seed, epoch), row_len_);
  return run_epoch(rows, batch, report, report_every, before_step,
                   [&](int first, int n) { step(shuffled_.data() + int64_t(first) * row_len_, n, h); });
}

// The data-parallel epoch: `data` is this rank's block of the training set. Every rank walks the
// global permutation; for each global batch the rows are fetched from their owners (fetch_rows:
// every rank receives the whole batch) and the rank uploads and trains on its slice.
std::vector<double> Trainer::train_sharded_epoch(const float* data, int rows, int batch, uint64_t seed, int epoch,
                                                 const AdamHyper& h, const Report& report, int report_every,
                                                 const std::function<void()>& before_step) {
  const ShardLayout layout = shard_layout(rows, *comm_);
  const int total = int(layout.total);
  const std::vector<int> order = epoch_permutation(total, seed, epoch);
  const size_t max_rows = size_t(std::max(1, std::min(batch, total)));
  if (slice_input_.size() < max_rows * size_t(row_len_)) slice_input_ = Buffer(be_, max_rows * size_t(row_len_));
  if (picked_.size() < max_rows * size_t(row_len_)) picked_ = Buffer(be_, max_rows * size_t(row_len_));
  std::vector<int32_t> local_ids;
  const ReadLocalRows read_local = [&](float* out, std::span<const int64_t> local) {
    local_ids.assign(local.begin(), local.end());
    be_.gather_rows(picked_.data(), data, rows, local_ids, row_len_);
    be_.to_host(out, picked_.data(), local.size() * size_t(row_len_));
  };
  std::vector<int64_t> ids;
  return run_epoch(total, batch, report, report_every, before_step, [&](int first, int n) {
    ids.assign(order.begin() + first, order.begin() + first + n);
    const std::vector<float> x = fetch_rows(ids, layout, rows, row_len_, read_local, *comm_);
    const Shard slice = shard_of(n, comm_->rank(), comm_->size());
    if (slice.rows() > 0)
      be_.to_device(slice_input_.data(), x.data() + slice.begin * row_len_, size_t(slice.rows()) * size_t(row_len_));
    step_slice(slice_input_.data(), slice, n, h);
  });
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
