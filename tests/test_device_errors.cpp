// Deferred value checks (tensor/device_errors.h): the error texts of every check, the record
// that keeps the first failure, the log that turns a recorded id into its text, the CPU's
// immediate answer inside a DeferDeviceChecks scope, the trainer's reads; on a GPU, the
// deferred answer itself.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <sstream>

#include "autograd/shape_ops.h"
#include "nn/attention.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "tensor/cpu/shape_ops.h"
#include "tensor/cross_entropy.h"
#include "tensor/device_errors.h"
#include "tensor/embedding.h"
#include "tensor/gpu.h"
#include "tensor/shape_ops.h"
#include "tensor/softmax.h"
#include "tests/op_test_util.h"
#include "train/trainer.h"
#include "tests/skip.h"

using namespace neat;
using namespace neat::test;

namespace {

Tensor int64s(const std::vector<int64_t>& values, const Shape& shape) {
  return from_vector(values, shape);
}

// The message without its " (file:line)": the same text wherever it is thrown.
std::string text_of(const std::string& message) { return message.substr(0, message.rfind(" (")); }

int64_t bits_of(double x) {
  int64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

}  // namespace

TEST_CASE("device_errors.h usage example") {
  const Tensor x = zeros({5, 3});
  const Tensor index = int64s({1, 7}, {2});
  auto gather = [&] {
    DeviceCheck check(x.device(), CheckedValue::index("index_select", x.shape(), 0));
    Tensor out({2, 3});
    index_select_kernel(cpu::Cpu{}, out.data<float>(), x.data<float>(), index.data<int64_t>(),
                        check.slot(), 1, 5, 2, 3);
    check.done();
  };
  CHECK(text_of(thrown_message(gather)) == "index_select: index 7 out of range for dim 0 of [5, 3]");
  DeferDeviceChecks defer;   // the CPU answers at once all the same
  CHECK(text_of(thrown_message(gather)) == "index_select: index 7 out of range for dim 0 of [5, 3]");
  CHECK_NOTHROW(check_device_errors());
}

TEST_CASE("device errors: each check's text, as the ops throw it") {
  CHECK(CheckedValue::label("cross_entropy", 5).message(1, 7) ==
        "cross_entropy: label 7 at index 1 is out of range for C = 5 classes (want 0 <= label < 5)");
  CHECK(CheckedValue::index("index_add", {5, 3}, -2).message(0, -1) ==
        "index_add: index -1 out of range for dim -2 of [5, 3]");
  CHECK(CheckedValue::table_id("embedding_backward", 4, true).message(2, 9) ==
        "embedding_backward: id 9 at position 2 is outside the table of 4 rows");
  CHECK(CheckedValue::table_id("Embedding", 4, false).message(2, 9) ==
        "Embedding: id 9 is outside the table of 4 rows");
  CHECK(CheckedValue::binary("key_padding_mask", "attention_mask", {2, 3}).message(5, bits_of(0.5)) ==
        "key_padding_mask: attention_mask[1, 2] is 0.5, not 0 or 1");

  // The raw ops and layers throw these texts.
  const Tensor log_probs = log_softmax(zeros({3, 5}), 1);
  CHECK(text_of(thrown_message([&] { cross_entropy_forward(zeros({3, 5}), int64s({0, 7, -1}, {3})); })) ==
        CheckedValue::label("cross_entropy", 5).message(1, 7));
  CHECK(text_of(thrown_message([&] {
          cross_entropy_backward(scalar_tensor(1.0), log_probs, int64s({0, 1, 5}, {3}), 0.0);
        })) == CheckedValue::label("cross_entropy_backward", 5).message(2, 5));
  CHECK(text_of(thrown_message([] { index_add({5, 3}, -2, int64s({-1}, {1}), zeros({1, 3})); })) ==
        "index_add: index -1 out of range for dim -2 of [5, 3]");
  CHECK(text_of(thrown_message([] {
          embedding_backward(zeros({3, 2}), int64s({0, 1, 9}, {3}), 4, -1);
        })) == "embedding_backward: id 9 at position 2 is outside the table of 4 rows");
  Embedding table(4, 2, 1);
  CHECK(text_of(thrown_message([&] { table.forward(int64s({0, 9, 1}, {3})); })) ==
        "Embedding: id 9 is outside the table of 4 rows");
  const Tensor half = from_vector(std::vector<double>{1, 1, 1, 1, 0, 0.5}, {2, 3});
  CHECK(text_of(thrown_message([&] { key_padding_mask(half, DType::Float32); })) ==
        "key_padding_mask: attention_mask[1, 2] is 0.5, not 0 or 1");
  const Tensor nan = from_vector(std::vector<double>{1, std::nan("")}, {1, 2});
  CHECK(mentions(thrown_message([&] { key_padding_mask(nan, DType::Float32); }),
                 {"attention_mask[0, 1] is nan, not 0 or 1"}));
}

TEST_CASE("device errors: the record keeps the first failure; a failed CPU check leaves none") {
  int64_t record[3] = {-1, -1, -1};
  const ErrorSlot first{record, 4}, second{record, 2};
  CHECK(!error_recorded(first));
  record_error(first, 10, 77);
  record_error(second, 3, 5);   // later: ignored
  CHECK(error_recorded(second));
  CHECK(record[0] == 4);
  CHECK(record[1] == 10);
  CHECK(record[2] == 77);

  // The next CPU op starts from an empty record, so it neither fails nor skips its work.
  const Tensor x = from_vector(std::vector<double>{1, 2, 3}, {3, 1});
  CHECK(!thrown_message([&] { index_select(x, 0, int64s({3}, {1})); }).empty());
  const Tensor y = index_select(x, 0, int64s({2, 0}, {2}));
  CHECK(y.to_vector<double>() == std::vector<double>{3, 1});
}

TEST_CASE("ErrorLog: equal checks share an id; a read throws the recorded check's text, once") {
  ErrorLog log;
  const int64_t label = log.add(CheckedValue::label("cross_entropy", 5));
  const int64_t index = log.add(CheckedValue::index("index_select", {5, 3}, 0));
  CHECK(log.add(CheckedValue::label("cross_entropy", 5)) == label);
  CHECK(log.add(CheckedValue::label("cross_entropy", 6)) != label);   // another class count
  CHECK(index != label);
  CHECK(log.size() == 3);

  // A kernel of the index_select recorded position 1, value 7 (through its ErrorSlot).
  int64_t device[3] = {-1, -1, -1};
  record_error(ErrorSlot{device, index}, 1, 7);
  CHECK(text_of(thrown_message([&] { log.raise(device); })) ==
        "index_select: index 7 out of range for dim 0 of [5, 3]");
  CHECK(log.size() == 0);   // forgotten: the ids of the next interval start again at 0

  const int64_t none[3] = {-1, -1, -1};
  log.add(CheckedValue::label("cross_entropy", 5));
  CHECK_NOTHROW(log.raise(none));
  CHECK(log.size() == 0);
  const int64_t unknown[3] = {3, 0, 0};   // an id no check was given: says so, never reads past
  CHECK(mentions(thrown_message([&] { log.raise(unknown); }), {"check 3 failed", "only 0 checks"}));
}

TEST_CASE("DeferDeviceChecks: nests; the CPU stays immediate inside") {
  CHECK(!device_checks_deferred());
  {
    DeferDeviceChecks outer;
    {
      DeferDeviceChecks inner;
      CHECK(device_checks_deferred());
    }
    CHECK(device_checks_deferred());
    CHECK(mentions(thrown_message([] { cross_entropy_forward(zeros({2, 3}), int64s({0, 3}, {2})); }),
                   {"cross_entropy: label 3 at index 1"}));
  }
  CHECK(!device_checks_deferred());
}

TEST_CASE("expand: ViT's class token over the batch equals the gather of row 0, bit for bit") {
  // The forward copies; the gradient is the batch's sum in the order index_add adds it.
  for (DType dt : {DType::Float32, DType::BFloat16}) {
    CAPTURE(dtype_name(dt));
    Generator gen(5);
    const Tensor token = randn({1, 1, 64}, gen).to(dt), dy = randn({16, 1, 64}, gen).to(dt);
    Variable a(token, true), b(token, true);
    const Variable by_expand = expand(a, {16, 1, 64});
    const Variable by_gather = index_select(b, 0, zeros({16}, DType::Int64));
    CHECK(max_abs_diff(by_expand.data().to(DType::Float64), by_gather.data().to(DType::Float64)) == 0);
    by_expand.backward(dy);
    by_gather.backward(dy);
    CHECK(max_abs_diff(a.grad().to(DType::Float64), b.grad().to(DType::Float64)) == 0);
  }
}

TEST_CASE("cuda: checks answer at check_device_errors() when deferred, with the CPU's text") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  auto gpu = [](const Tensor& t) { return t.to(Device::CUDA); };
  const Tensor logits = zeros({3, 5}), labels = int64s({0, 7, -1}, {3});
  const std::string want = text_of(thrown_message([&] { cross_entropy_forward(logits, labels); }));
  // Outside a scope: at once, as on the CPU.
  CHECK(text_of(thrown_message([&] { cross_entropy_forward(gpu(logits), gpu(labels)); })) == want);
  CHECK_NOTHROW(check_device_errors());   // read and cleared
  {
    DeferDeviceChecks defer;
    CHECK_NOTHROW(cross_entropy_forward(gpu(logits), gpu(labels)));
    // A second failure, later in stream order, does not replace the first.
    CHECK_NOTHROW(index_select(gpu(zeros({5, 3})), 0, gpu(int64s({9}, {1}))));
    CHECK_NOTHROW(key_padding_mask(gpu(from_vector(std::vector<double>{1, 2}, {1, 2})), DType::Float32));
    CHECK(text_of(thrown_message([] { check_device_errors(); })) == want);
    CHECK_NOTHROW(check_device_errors());
    // Every check reports through the record: the mask's value, the Embedding's id.
    CHECK_NOTHROW(key_padding_mask(gpu(from_vector(std::vector<double>{1, 0.5}, {1, 2})), DType::Float32));
    CHECK(text_of(thrown_message([] { check_device_errors(); })) ==
          "key_padding_mask: attention_mask[0, 1] is 0.5, not 0 or 1");
    Embedding table(4, 2, 1);
    table.to(Device::CUDA);
    CHECK_NOTHROW(table.forward(gpu(int64s({0, 9}, {2}))));
    CHECK(text_of(thrown_message([] { check_device_errors(); })) ==
          "Embedding: id 9 is outside the table of 4 rows");
    // Good values leave nothing to report.
    const Tensor mask = key_padding_mask(gpu(int64s({1, 1, 0}, {1, 3})), DType::Float32);
    CHECK_NOTHROW(check_device_errors());
    const Tensor want_mask = key_padding_mask(int64s({1, 1, 0}, {1, 3}), DType::Float32);
    CHECK(max_abs_diff(mask.to(Device::CPU).to(DType::Float64), want_mask.to(DType::Float64)) == 0);
  }
  // The ViT's class token: expand on the GPU equals the CPU's.
  Generator gen(6);
  const Tensor token = randn({1, 1, 8}, gen);
  CHECK(max_abs_diff(expand(gpu(token), {4, 1, 8}).to(Device::CPU).to(DType::Float64),
                     expand(token, {4, 1, 8}).to(DType::Float64)) == 0);
}

namespace {

// Six batches of two examples for a Linear(4, 3); batch `bad` has label 9 (of 3 classes).
class BadLabelBatches : public ClassifierBatches {
 public:
  BadLabelBatches(Linear& model, int64_t bad) : model_(model), bad_(bad) {}
  int64_t size() const override { return 12; }
  int64_t steps_per_epoch() const override { return 6; }
  void start_epoch(int64_t, int64_t first_step) override { step_ = first_step; }
  bool next(Tensor& labels, int64_t& step) override {
    if (step_ == 6) return false;
    labels = int64s({step_ % 3, step_ == bad_ ? 9 : 1}, {2}).to(model_.weight.device());
    step = step_++;
    return true;
  }
  Variable logits() override {
    return model_.forward(Variable(full({2, 4}, 0.5, DType::Float32, model_.weight.device())));
  }

 private:
  Linear& model_;
  int64_t bad_, step_ = 0;
};

// Trains the six batches on device with log lines every 4 steps; the error fit() passes on.
std::string train_with_bad_label(Device device, int64_t& saved_step) {
  Linear model(4, 3, true, 1);
  model.to(device);
  Generator dropout(0);
  AdamW optimizer({ParamGroup{"all", model.named_parameters(true), 1e-2}});
  BadLabelBatches batches(model, 1);
  TrainerSettings settings;
  settings.batch_size = 2;
  settings.schedule.total_steps = 6;
  saved_step = -1;
  settings.save = [&](const TrainState& state) { saved_step = state.step; };
  std::ostringstream log;
  Progress progress(log, false, true, 4);
  Trainer trainer(model, dropout, optimizer, batches, nullptr, settings, progress);
  TrainState state;
  std::string message;
  return thrown_message([&] { trainer.fit(state, message); });
}

}  // namespace

TEST_CASE("Trainer: a bad label stops the run with the op's text; spoiled steps are not saved") {
  // The CPU answers in the step itself: the step before it is saved.
  int64_t saved = 0;
  const std::string cpu = train_with_bad_label(Device::CPU, saved);
  CHECK(cpu.find("cross_entropy: label 9 at index 1 is out of range for C = 3 classes") == 0);
  CHECK(mentions(cpu, {"stopped after step 1"}));
  CHECK(saved == 1);
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  // The GPU answers at the latest at the first log line (step 4; here at once: the skipped
  // loss is NaN, and a non-finite loss reads the checks first): the same text, nothing saved.
  const std::string gpu = train_with_bad_label(Device::CUDA, saved);
  CHECK(gpu.find("cross_entropy: label 9 at index 1 is out of range for C = 3 classes") == 0);
  CHECK(mentions(gpu, {"found after step 1, nothing saved"}));
  CHECK(saved == -1);
}
