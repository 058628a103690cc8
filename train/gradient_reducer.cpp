#include "train/gradient_reducer.h"

#include "tensor/check.h"

namespace neat {

GradientReducer::GradientReducer(Communicator& comm, std::vector<Variable> params,
                                 size_t bucket_bytes)
    : comm_(comm), params_(std::move(params)), bucket_of_(params_.size()),
      is_ready_(params_.size(), false) {
  size_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Variable& p = params_[k];
    NEAT_CHECK(p.dtype() == DType::Float32, "GradientReducer: parameter ", k, " is ",
               dtype_name(p.dtype()), "; the gradient sums are float32");
    if (buckets_.empty() || bytes >= bucket_bytes) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().params.push_back(k);
    bucket_of_[k] = buckets_.size() - 1;
    bytes += size_t(p.numel()) * sizeof(float);
    index_[p.impl()] = k;
  }
}

size_t GradientReducer::bytes() const {
  size_t n = 0;
  for (const Variable& p : params_) n += size_t(p.numel()) * sizeof(float);
  return n;
}

GradReadyHook GradientReducer::hook() {
  return [this](const std::shared_ptr<VariableImpl>& leaf) {
    const auto it = index_.find(leaf.get());
    if (it != index_.end()) ready(it->second);
  };
}

void GradientReducer::ready(size_t param) {
  if (is_ready_[param]) return;
  is_ready_[param] = true;
  ++buckets_[bucket_of_[param]].ready;
  start_ready_buckets();
  for (const std::unique_ptr<Reduction>& r : started_) r->test();   // MPI progresses in calls
}

void GradientReducer::start_ready_buckets() {
  while (started_.size() < buckets_.size()) {
    const Bucket& bucket = buckets_[started_.size()];
    if (bucket.ready < bucket.params.size()) return;
    std::vector<Tensor> grads;
    for (size_t k : bucket.params) grads.push_back(params_[k].grad());
    started_.push_back(comm_.start_sum(std::move(grads)));
  }
}

void GradientReducer::finish() {
  // 1 where this rank has a gradient; the maximum over the ranks says who keeps one.
  std::vector<double> has_grad(params_.size(), 0);
  for (size_t k = 0; k < params_.size(); ++k) {
    Variable& p = params_[k];
    has_grad[k] = p.grad().defined() ? 1 : 0;
    if (!p.grad().defined()) p.mutable_grad() = zeros(p.shape(), DType::Float32, p.device());
    if (!is_ready_[k]) {
      is_ready_[k] = true;
      ++buckets_[bucket_of_[k]].ready;
    }
  }
  start_ready_buckets();
  for (const std::unique_ptr<Reduction>& r : started_) r->wait();
  comm_.max(has_grad);
  for (size_t k = 0; k < params_.size(); ++k)
    if (has_grad[k] == 0) params_[k].zero_grad();
  started_.clear();
  is_ready_.assign(params_.size(), false);
  for (Bucket& b : buckets_) b.ready = 0;
}

}  // namespace neat
