// Tests for nn/: Module behaviour (dotted names, freeze, state dicts, replace_module), the
// module.h usage example, each layer against the same computation composed from primitive
// autograd ops (values and gradients, float64), finite-difference checks of the patch
// embedding and attention modules, and the init helpers.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <tuple>

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/nn_functional.h"
#include "autograd/reduce.h"
#include "autograd/shape_ops.h"
#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/dropout.h"
#include "nn/init.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/module_list.h"
#include "nn/patch_embedding.h"
#include "autograd/gradcheck.h"
#include "tests/op_test_util.h"

using namespace neat;
using neat::test::max_abs_diff;
using neat::test::random64;
using neat::test::thrown_message;

namespace {

// The example of nn/module.h, verbatim.
struct TwoLayer : Layer {
  std::shared_ptr<Linear> fc1, fc2;
  TwoLayer() {
    fc1 = register_module("fc1", std::make_shared<Linear>(4, 8));
    fc2 = register_module("fc2", std::make_shared<Linear>(8, 2));
  }
  Variable forward(const Variable& x) override { return fc2->forward(relu(fc1->forward(x))); }
};

std::vector<std::string> names_of(const Module& m, bool trainable_only = false) {
  std::vector<std::string> names;
  for (auto& [name, _] : m.named_parameters(trainable_only)) names.push_back(name);
  return names;
}

// Gradients of sum(y * R) w.r.t. vars (cloned; grads zeroed before).
std::vector<Tensor> grads_of(const Variable& y, const Tensor& R, std::vector<Variable> vars) {
  for (Variable& v : vars) v.zero_grad();
  y.backward(R);
  std::vector<Tensor> out;
  for (Variable& v : vars) out.push_back(v.grad().clone());
  return out;
}

// Forward values and gradients (w.r.t. vars) of two computations agree to tol.
void check_same(const Variable& got, const Variable& want, const std::vector<Variable>& vars,
                double tol = 1e-12) {
  REQUIRE(got.shape() == want.shape());
  CHECK(max_abs_diff(got.data(), want.data()) < tol);
  Tensor R = random64(got.shape(), 5);
  std::vector<Tensor> g1 = grads_of(got, R, vars), g2 = grads_of(want, R, vars);
  for (size_t i = 0; i < vars.size(); ++i) CHECK(max_abs_diff(g1[i], g2[i]) < tol);
}

Variable input64(Shape shape, uint64_t seed) { return Variable(random64(std::move(shape), seed), true); }

// Self-attention over Linear(dim, dim) projections initialised from seed, seed + 1, seed + 2.
std::shared_ptr<MultiHeadSelfAttention> make_attention(int64_t dim, int64_t heads,
                                                       double dropout = 0.0,
                                                       std::shared_ptr<Generator> gen = nullptr,
                                                       uint64_t seed = 0) {
  return std::make_shared<MultiHeadSelfAttention>(std::make_shared<Linear>(dim, dim, true, seed),
                                                  std::make_shared<Linear>(dim, dim, true, seed + 1),
                                                  std::make_shared<Linear>(dim, dim, true, seed + 2),
                                                  heads, dropout, std::move(gen));
}

// A Layer that records how often it ran and returns 2x.
struct Doubler : Layer {
  int calls = 0;
  Variable forward(const Variable& x) override {
    ++calls;
    return mul_scalar(x, 2.0);
  }
};

}  // namespace

TEST_CASE("nn: the module.h example") {
  TwoLayer net;
  CHECK(names_of(net) == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  net.fc1->freeze();
  CHECK(net.num_parameters(/*trainable_only=*/true) == 18);
  CHECK(net.num_parameters() == 58);
  CHECK(names_of(net, true) == std::vector<std::string>{"fc2.weight", "fc2.bias"});
  net.unfreeze();
  CHECK(net.num_parameters(true) == 58);
  CHECK(net.parameters(true).size() == 4);
  net.to(DType::Float64);
  CHECK(net.fc1->weight.dtype() == DType::Float64);
}

TEST_CASE("nn: dotted names, lookup, train/eval") {
  auto list = std::make_shared<ModuleList>();
  list->append(std::make_shared<TwoLayer>());
  list->append(std::make_shared<LayerNorm>(3));
  CHECK(list->size() == 2);
  CHECK(names_of(*list) == std::vector<std::string>{"0.fc1.weight", "0.fc1.bias", "0.fc2.weight",
                                                    "0.fc2.bias", "1.weight", "1.bias"});
  std::vector<std::string> modules;
  for (auto& [name, _] : list->named_modules()) modules.push_back(name);
  CHECK(modules == std::vector<std::string>{"0", "0.fc1", "0.fc2", "1"});
  CHECK(list->parameter("0.fc2.bias").shape() == Shape{2});
  CHECK(list->module("0.fc1")->type_name() == "Linear");
  CHECK(thrown_message([&] { list->parameter("0.fc3.weight"); })
            .find("no parameter named '0.fc3.weight'") != std::string::npos);
  CHECK(thrown_message([&] { list->module("2"); }).find("no module named '2'") != std::string::npos);
  list->eval();
  CHECK_FALSE(list->module("0.fc1")->is_training());
  list->train();
  CHECK(list->module("1")->is_training());
}

TEST_CASE("nn: state_dict round trip and load_state_dict errors") {
  Linear a(3, 2, true, /*seed=*/1), b(3, 2, true, /*seed=*/2);
  CHECK(max_abs_diff(a.weight.data(), b.weight.data()) > 0);
  b.load_state_dict(a.state_dict());
  Variable x(random64({4, 3}, 1).to(DType::Float32));
  CHECK(max_abs_diff(a.forward(x).data(), b.forward(x).data()) == 0);
  CHECK(a.state_dict().at("weight").is_same(a.weight.data()));  // shares storage

  auto state = a.state_dict();
  state["weight"] = zeros({2, 4});
  std::string shape_error = thrown_message([&] { b.load_state_dict(state); });
  CHECK(shape_error.find("'weight' has shape [2, 4] in the file but [2, 3] in the model") != std::string::npos);
  state = a.state_dict();
  state.erase("bias");
  CHECK(thrown_message([&] { b.load_state_dict(state); }).find("missing tensor 'bias' (shape [2])") !=
        std::string::npos);
  b.load_state_dict(state, /*strict=*/false);  // a partial load is fine when not strict
  state = a.state_dict();
  state["extra"] = zeros({1});
  CHECK(thrown_message([&] { b.load_state_dict(state); }).find("unexpected tensor 'extra'") !=
        std::string::npos);
}

TEST_CASE("nn: replace_module by dotted name updates the typed pointer") {
  auto list = std::make_shared<ModuleList>();
  list->append(make_attention(4, 2));
  auto attn = std::dynamic_pointer_cast<MultiHeadSelfAttention>(list->module("0"));
  auto doubler = std::make_shared<Doubler>();
  list->replace_module("0.value", doubler);
  CHECK(attn->value == doubler);
  CHECK(attn->module("value") == doubler);
  CHECK(names_of(*attn) == std::vector<std::string>{"query.weight", "query.bias", "key.weight",
                                                    "key.bias"});
  Variable x(ones({1, 3, 4}));
  Variable y = attn->forward(x);
  CHECK(doubler->calls == 1);
  // Every query attends to the same doubled values, so each output row is 2 x.
  CHECK(max_abs_diff(y.data(), mul_scalar(x, 2.0).data()) < 1e-6);
  CHECK(thrown_message([&] { attn->replace_module("query", std::make_shared<ModuleList>()); })
            .find("'query' must be a Layer") != std::string::npos);
  CHECK(thrown_message([&] { attn->replace_module("nope", doubler); }).find("no child named 'nope'") !=
        std::string::npos);
}

TEST_CASE("nn: Module::to converts every parameter and gradient in place, keeping names and flags") {
  TwoLayer net;
  net.fc1->freeze();
  Variable fc2_weight = net.fc2->weight;
  Tensor w32 = fc2_weight.data();
  sum(net.forward(Variable(ones({3, 4})))).backward();
  Tensor g32 = fc2_weight.grad();
  net.to(DType::Float64);
  for (auto& [name, p] : net.named_parameters()) CHECK(p.dtype() == DType::Float64);
  CHECK(net.fc2->weight.is_same(fc2_weight));   // the same Variable: typed pointers stay valid
  CHECK(fc2_weight.data().at({1, 3}) == double(w32.at({1, 3})));
  CHECK(fc2_weight.grad().dtype() == DType::Float64);   // a gradient follows its parameter
  CHECK(fc2_weight.grad().at({1, 3}) == double(g32.at({1, 3})));
  CHECK_FALSE(net.fc1->weight.grad().defined());
  CHECK_FALSE(net.fc1->weight.requires_grad());
  CHECK(net.fc2->weight.requires_grad());
  CHECK(net.forward(input64({3, 4}, 1)).dtype() == DType::Float64);
  CHECK(thrown_message([&] { net.to(DType::Int64); }).find("parameters must stay floating") !=
        std::string::npos);
}

namespace {

// A layer with the three kinds of buffer: a persistent float one, a persistent integer one and
// a non-persistent cache that starts undefined.
struct WithBuffers : Layer {
  std::shared_ptr<Linear> fc;
  WithBuffers() {
    fc = register_module("fc", std::make_shared<Linear>(2, 2));
    register_buffer("running_mean", full({2}, 0.5));
    register_buffer("steps", full({1}, 3, DType::Int64));
    register_buffer("cache", Tensor(), /*persistent=*/false);
  }
  Variable forward(const Variable& x) override { return fc->forward(x); }
  void fill_cache() { set_buffer("cache", full({2}, 0.25)); }
  void register_cache_again() { register_buffer("cache", Tensor()); }
};

std::vector<std::string> keys_of(const std::map<std::string, Tensor>& m) {
  std::vector<std::string> keys;
  for (auto& [k, _] : m) keys.push_back(k);
  return keys;
}

std::vector<std::string> buffer_names(const Module& m) {
  std::vector<std::string> names;
  for (auto& [name, _] : m.named_buffers()) names.push_back(name);
  return names;
}

}  // namespace

TEST_CASE("nn: buffers have dotted names, persistent ones are in the state dict") {
  auto list = std::make_shared<ModuleList>();
  list->append(std::make_shared<WithBuffers>());
  auto layer = std::dynamic_pointer_cast<WithBuffers>(list->module("0"));
  CHECK(buffer_names(*list) == std::vector<std::string>{"0.running_mean", "0.steps"});  // cache undefined
  layer->fill_cache();
  CHECK(buffer_names(*list) == std::vector<std::string>{"0.running_mean", "0.steps", "0.cache"});
  CHECK(keys_of(list->state_dict()) ==
        std::vector<std::string>{"0.fc.bias", "0.fc.weight", "0.running_mean", "0.steps"});
  CHECK(names_of(*list) == std::vector<std::string>{"0.fc.weight", "0.fc.bias"});  // not parameters

  // load_state_dict writes persistent buffers and, when strict, requires them.
  auto state = list->state_dict();
  for (auto& [name, t] : state) state[name] = t.clone();
  state["0.running_mean"] = full({2}, -1.0);
  list->load_state_dict(state);
  CHECK(layer->buffer("running_mean").at({1}) == -1.0);
  state.erase("0.steps");
  CHECK(thrown_message([&] { list->load_state_dict(state); }).find("missing tensor '0.steps'") !=
        std::string::npos);
  state["0.cache"] = zeros({2});
  CHECK(thrown_message([&] { list->load_state_dict(state, false); }).empty());
  CHECK(thrown_message([&] { layer->buffer("nope"); }).find("no buffer named 'nope'") !=
        std::string::npos);
  CHECK(thrown_message([&] { layer->register_cache_again(); })
            .find("'cache' registered twice") != std::string::npos);
}

TEST_CASE("nn: Module::to converts floating buffers, keeps integer ones, and moves all or names the device") {
  WithBuffers layer;
  layer.fill_cache();
  layer.to(DType::Float64);
  CHECK(layer.buffer("running_mean").dtype() == DType::Float64);
  CHECK(layer.buffer("running_mean").at({0}) == 0.5);
  CHECK(layer.buffer("cache").dtype() == DType::Float64);
  CHECK(layer.buffer("steps").dtype() == DType::Int64);   // as torch: integers keep their dtype
  CHECK(layer.buffer("steps").at({0}) == 3);
  layer.to(Device::CPU);   // already there: nothing changes
  CHECK(layer.buffer("cache").device() == Device::CPU);
  CHECK(layer.fc->weight.data().device() == Device::CPU);
  // This build has no CUDA backend: the tensor layer says so.
  CHECK(thrown_message([&] { layer.to(Device::CUDA); }).find("CUDA") != std::string::npos);
}

TEST_CASE("nn: Linear is x W^T + b, with torch's default init bounds") {
  Linear lin(5, 3, true, 7);
  double bound = 1 / std::sqrt(5.0);
  for (double w : lin.weight.data().to_vector<double>()) CHECK(std::fabs(w) <= bound);
  for (double b : lin.bias.data().to_vector<double>()) CHECK(std::fabs(b) <= bound);
  Linear same(5, 3, true, 7);
  CHECK(max_abs_diff(lin.weight.data(), same.weight.data()) == 0);
  lin.to(DType::Float64);
  Variable x = input64({2, 4, 5}, 2);
  Variable want = add(matmul(x, transpose(lin.weight, 0, 1)), lin.bias);
  check_same(lin.forward(x), want, {x, lin.weight, lin.bias});
  Linear no_bias(5, 3, false);
  CHECK(names_of(no_bias) == std::vector<std::string>{"weight"});
}

TEST_CASE("nn: LayerNorm equals its composed definition") {
  LayerNorm ln(6, 1e-5);
  ln.to(DType::Float64);
  {
    Generator gen(3);
    uniform_(ln.weight, 0.5, 1.5, gen);
    uniform_(ln.bias, -0.5, 0.5, gen);
  }
  Variable x = input64({2, 3, 6}, 4);
  // (x - mean) / sqrt(var + eps) * w + b, var biased
  Variable centered = sub(x, mean(x, {-1}, true));
  Variable var = mean(mul(centered, centered), {-1}, true);
  Variable want = add(mul(div(centered, sqrt(add_scalar(var, 1e-5))), ln.weight), ln.bias);
  check_same(ln.forward(x), want, {x, ln.weight, ln.bias});
  CHECK(LayerNorm(4, 1e-12).eps() == 1e-12);
}

TEST_CASE("nn: GELU is the exact x * Phi(x)") {
  GELU act;
  Variable x = input64({7}, 5);
  Tensor y = act.forward(x).data();
  for (int64_t i = 0; i < 7; ++i) {
    double v = x.data().flat(i);
    CHECK(y.flat(i) == doctest::Approx(0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))).epsilon(1e-14));
  }
}

namespace {

// A fused linear op (inputs x [rows, in], W [out, in], b [out], then r [rows, out] when it
// takes a residual) against its composition in float32, at sizes that take edge tiles and two
// K blocks: the same bits forward and backward, every input's gradient included.
void check_fused_linear(const std::function<Variable(const std::vector<Variable>&)>& fused,
                        const std::function<Variable(const std::vector<Variable>&)>& composed,
                        bool residual) {
  for (auto [rows, in, out] : {std::tuple{37, 29, 45}, std::tuple{70, 400, 33}}) {
    std::vector<Shape> shapes{{rows, in}, {out, in}, {out}};
    if (residual) shapes.push_back({rows, out});
    std::vector<Variable> a, b;
    for (size_t i = 0; i < shapes.size(); ++i) {
      a.emplace_back(random64(shapes[i], i + 1).to(DType::Float32), true);
      b.emplace_back(a.back().data().clone(), true);
    }
    Variable y = fused(a), want = composed(b);
    INFO("rows ", rows, ", in ", in, ", out ", out);
    CHECK(max_abs_diff(y.data(), want.data()) == 0);
    const Tensor dy = random64({rows, out}, 9).to(DType::Float32);
    y.backward(dy);
    want.backward(dy);
    for (size_t i = 0; i < a.size(); ++i) CHECK(max_abs_diff(a[i].grad(), b[i].grad()) == 0);
    // Nothing needs a gradient: no node, the same values.
    std::vector<Variable> frozen;
    for (const Variable& v : a) frozen.emplace_back(v.data());
    Variable y_frozen = fused(frozen);
    CHECK(!y_frozen.requires_grad());
    CHECK(max_abs_diff(y_frozen.data(), want.data()) == 0);
  }
}

}  // namespace

// linear_gelu (GELU in the GEMM's store; in training the product kept beside it) against
// linear then gelu. linear_then_gelu takes it for a plain Linear only.
TEST_CASE("nn: linear_gelu is gelu(linear(...)) to the bit; linear_then_gelu fuses a plain Linear") {
  check_fused_linear([](const std::vector<Variable>& v) { return linear_gelu(v[0], v[1], v[2]); },
                     [](const std::vector<Variable>& v) { return gelu(linear(v[0], v[1], v[2])); },
                     false);
  Linear lin(6, 4, true, 3);
  Variable x(random64({2, 6}, 6).to(DType::Float32), true);
  CHECK(max_abs_diff(linear_then_gelu(lin, x).data(), gelu(lin.forward(x)).data()) == 0);
  // Bad shapes and dtypes are errors naming them, at the op and at the raw forward.
  const Tensor x25 = random64({2, 5}, 7), w34 = random64({3, 4}, 8), w35 = random64({3, 5}, 9);
  CHECK(thrown_message([&] { linear_gelu(Variable(x25), Variable(w34), Variable()); })
            .find("linear_gelu: input [2, 5] and weight [3, 4]") != std::string::npos);
  CHECK(thrown_message([&] { linear_gelu_forward(x25, w35, random64({4}, 10)); })
            .find("linear_gelu_forward: x [2, 5], weight [3, 5], bias [4] are not") !=
        std::string::npos);
  CHECK(thrown_message([&] { linear_gelu_forward(x25.to(DType::Float32), w35, Tensor()); })
            .find("linear_gelu_forward") != std::string::npos);
}

// linear_add (the residual added in the GEMM's store) against linear then add, the residual's
// gradient included. linear_then_add takes it for a plain Linear only.
TEST_CASE("nn: linear_add is add(linear(...), r) to the bit; linear_then_add fuses a Linear") {
  check_fused_linear(
      [](const std::vector<Variable>& v) { return linear_add(v[0], v[1], v[2], v[3]); },
      [](const std::vector<Variable>& v) { return add(linear(v[0], v[1], v[2]), v[3]); }, true);
  Linear lin(6, 4, true, 3);
  Variable x(random64({2, 6}, 6).to(DType::Float32), true);
  Variable r(random64({2, 4}, 7).to(DType::Float32), true);
  Variable fused = linear_then_add(lin, x, r);
  CHECK(std::string(fused.grad_fn()->name()) == "linear_add");
  CHECK(max_abs_diff(fused.data(), add(lin.forward(x), r).data()) == 0);
  // Bad shapes and dtypes are errors naming them, at the op and at the raw forward.
  const Tensor x25 = random64({2, 5}, 7), w35 = random64({3, 5}, 9);
  CHECK(thrown_message([&] { linear_add(Variable(x25), Variable(w35), Variable(),
                                        Variable(random64({2, 4}, 8))); })
            .find("linear_add: residual [2, 4] is not the shape of linear's output [2, 3]") !=
        std::string::npos);
  CHECK(thrown_message([&] { linear_add(Variable(x25), Variable(w35), Variable(), Variable()); })
            .find("linear_add: the residual is undefined (want [2, 3])") !=
        std::string::npos);
  CHECK(thrown_message([&] { linear_add_forward(x25, w35, Tensor(), random64({3, 2}, 8)); })
            .find("linear_add_forward: residual [3, 2] is not the product's shape [2, 3]") !=
        std::string::npos);
  CHECK(thrown_message([&] { linear_add(Variable(x25), Variable(w35), Variable(),
                                        Variable(random64({2, 3}, 8).to(DType::Float32))); })
            .find("linear_add") != std::string::npos);
}

TEST_CASE("nn: Dropout is identity in eval, inverted dropout in training, one seeded stream") {
  auto gen = std::make_shared<Generator>(42);
  Dropout drop(0.25, gen);
  Variable x(ones({4000}));
  Tensor y = drop.forward(x).data();
  int zeros_seen = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    if (y.flat(i) == 0) ++zeros_seen;
    else CHECK(y.flat(i) == doctest::Approx(1 / 0.75));
  }
  CHECK(zeros_seen > 850);   // 1000 expected
  CHECK(zeros_seen < 1150);
  uint64_t after_one = gen->state();
  Tensor y2 = drop.forward(x).data();
  CHECK(gen->state() != after_one);  // the shared stream advanced
  CHECK(max_abs_diff(y, y2) > 0);
  gen->set_state(after_one);
  CHECK(max_abs_diff(drop.forward(x).data(), y2) == 0);  // replayable
  drop.eval();
  CHECK(drop.forward(x).is_same(x));
  CHECK(Dropout(0.0, nullptr).forward(x).is_same(x));
  CHECK(thrown_message([] { Dropout(0.5, nullptr); }).find("needs a generator") != std::string::npos);
  CHECK(thrown_message([&] { Dropout(1.0, gen); }).find("p must be in [0, 1)") != std::string::npos);
}

TEST_CASE("nn: MultiHeadSelfAttention equals the composed per-head computation") {
  const int64_t B = 2, N = 5, D = 6, H = 3, Dh = 2;
  auto attn = make_attention(D, H, 0.0, nullptr, 11);
  attn->to(DType::Float64);
  Variable x = input64({B, N, D}, 6);
  auto lin = [&](const std::shared_ptr<Layer>& l) {
    auto p = std::dynamic_pointer_cast<Linear>(l);
    return std::make_pair(p->weight, p->bias);
  };
  auto project = [&](const std::shared_ptr<Layer>& l) {
    auto [w, b] = lin(l);
    Variable y = add(matmul(x, transpose(w, 0, 1)), b);                  // [B, N, D]
    return permute(reshape(y, {B, N, H, Dh}), {0, 2, 1, 3});             // [B, H, N, Dh]
  };
  Variable q = project(attn->query), k = project(attn->key), v = project(attn->value);
  Variable scores = mul_scalar(matmul(q, transpose(k, 2, 3)), 1 / std::sqrt(double(Dh)));
  Variable context = matmul(softmax(scores, -1), v);                     // [B, H, N, Dh]
  Variable want = reshape(permute(context, {0, 2, 1, 3}), {B, N, D});
  std::vector<Variable> vars = {x};
  for (Variable p : attn->parameters()) vars.push_back(p);
  check_same(attn->forward(x), want, vars);
  CHECK(thrown_message([] { make_attention(6, 4)->forward(Variable(zeros({1, 2, 6}))); })
            .find("q [1, 2, 6] and v [1, 2, 6] do not split into 4 heads") != std::string::npos);
}

TEST_CASE("nn: attention-probability dropout: composed path in training, fused otherwise") {
  auto gen = std::make_shared<Generator>(1);
  auto attn = make_attention(4, 2, 0.5, gen, 3);
  auto plain = make_attention(4, 2, 0.0, nullptr, 3);
  Variable x(random64({2, 3, 4}, 8).to(DType::Float32));
  attn->eval();
  CHECK(max_abs_diff(attn->forward(x).data(), plain->forward(x).data()) == 0);
  attn->train();
  CHECK(max_abs_diff(attn->forward(x).data(), plain->forward(x).data()) > 1e-3);
  // With p -> 0 the composed path equals the fused one.
  Variable q = input64({1, 3, 4}, 1), k = input64({1, 3, 4}, 2), v = input64({1, 3, 4}, 3);
  Generator g(0);
  CHECK(max_abs_diff(multi_head_attention(q, k, v, 2, 1e-300, true, &g).data(),
                     multi_head_attention(q, k, v, 2).data()) < 1e-12);
}

TEST_CASE("nn: PatchEmbedding equals a direct stride-P convolution") {
  const int64_t B = 2, C = 3, Hh = 6, W = 9, P = 3, D = 5;
  PatchEmbedding pe(C, D, P, 4);
  pe.to(DType::Float64);
  CHECK(pe.weight.shape() == Shape{D, C, P, P});
  Tensor x = random64({B, C, Hh, W}, 10);
  Tensor y = pe.forward(Variable(x)).data();
  REQUIRE(y.shape() == Shape{B, (Hh / P) * (W / P), D});
  double worst = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t gy = 0; gy < Hh / P; ++gy)
      for (int64_t gx = 0; gx < W / P; ++gx)
        for (int64_t d = 0; d < D; ++d) {
          double s = pe.bias.data().flat(d);
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < P; ++i)
              for (int64_t j = 0; j < P; ++j)
                s += x.at({b, c, gy * P + i, gx * P + j}) * pe.weight.data().at({d, c, i, j});
          worst = std::fmax(worst, std::fabs(s - y.at({b, gy * (W / P) + gx, d})));
        }
  CHECK(worst < 1e-12);
  CHECK(thrown_message([&] { pe.forward(Variable(zeros({1, C, 7, 9}, DType::Float64))); })
            .find("divisible by the patch size 3") != std::string::npos);
}

TEST_CASE("nn: gradcheck of PatchEmbedding and MultiHeadSelfAttention (float64)") {
  PatchEmbedding pe(2, 3, 2, 1);
  pe.to(DType::Float64);
  Variable x = input64({2, 2, 4, 6}, 12);
  auto checked = pe.named_parameters();
  checked.emplace_back("x", x);
  GradcheckResult r = gradcheck(checked, [&] { return pe.forward(x); });
  CHECK_MESSAGE(r.ok, r.report);

  auto attn = make_attention(6, 2, 0.0, nullptr, 2);
  attn->to(DType::Float64);
  Variable xa = input64({2, 3, 6}, 13);
  checked = attn->named_parameters();
  checked.emplace_back("x", xa);
  r = gradcheck(checked, [&] { return attn->forward(xa); });
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("nn: the init.h example") {
  Generator gen(0);
  Linear linear(6, 4);
  trunc_normal_(linear.weight, 0.02, gen);   // HF ViT weights
  zeros_(linear.bias);
  Variable neat_A(Tensor({3, 4}));
  kaiming_uniform_(neat_A, std::sqrt(5.0), gen);
  CHECK(linear.bias.data().to_vector<double>() == std::vector<double>(4, 0.0));
  for (double w : linear.weight.data().to_vector<double>()) CHECK(std::fabs(w) < 0.2);
  for (double a : neat_A.data().to_vector<double>()) CHECK(std::fabs(a) <= 0.5);  // 1/sqrt(4)
}

TEST_CASE("nn: init helpers") {
  Generator gen(5);
  Variable w(Tensor({200, 50}));
  trunc_normal_(w, 0.02, gen);
  std::vector<double> v = w.data().to_vector<double>();
  double s = 0, s2 = 0;
  for (double e : v) { s += e; s2 += e * e; }
  double m = s / double(v.size()), sd = std::sqrt(s2 / double(v.size()) - m * m);
  CHECK(std::fabs(m) < 0.001);
  CHECK(sd == doctest::Approx(0.02).epsilon(0.03));
  trunc_normal_(w, 1.0, gen, 0.0, -0.5, 0.25);  // absolute bounds, not multiples of std
  for (double e : w.data().to_vector<double>()) CHECK((e >= -0.5 && e <= 0.25));

  Variable conv(Tensor({4, 3, 2, 2}));
  CHECK(fan_in(conv.shape()) == 12);
  kaiming_uniform_(conv, std::sqrt(5.0), gen);  // bound = sqrt(6 / (1 + 5) / 12) = 1 / sqrt(12)
  double bound = 1 / std::sqrt(12.0), worst = 0;
  for (double e : conv.data().to_vector<double>()) worst = std::fmax(worst, std::fabs(e));
  CHECK(worst <= bound);
  CHECK(worst > 0.8 * bound);
  kaiming_uniform_(conv, 0.0, gen);  // relu gain: bound = sqrt(6 / 12)
  for (double e : conv.data().to_vector<double>()) CHECK(std::fabs(e) <= std::sqrt(0.5));

  zeros_(conv);
  CHECK(conv.data().to_vector<double>() == std::vector<double>(48, 0.0));
  ones_(conv);
  CHECK(conv.data().flat(47) == 1.0);
  Generator a(9), b(9);
  Variable u1(Tensor({10})), u2(Tensor({10}));
  trunc_normal_(u1, 0.02, a);
  trunc_normal_(u2, 0.02, b);
  CHECK(max_abs_diff(u1.data(), u2.data()) == 0);
  CHECK(thrown_message([&] { fan_in({3}); }).find("at least 2 dims") != std::string::npos);
}
