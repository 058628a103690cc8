// The residual add fused into the layer norm (add_layer_norm, autograd/nn_functional.h) against
// the plain add then layer_norm: the same bits on the CPU, values and every gradient; the ViT
// and BERT blocks that use it against the same blocks composed from the plain ops; and, on a
// GPU, the row kernels' float accumulation in a fixed order (the same bits on every run).
#include <doctest/doctest.h>

#include <cstring>

#include "autograd/elementwise.h"
#include "autograd/nn_functional.h"
#include "autograd/shape_ops.h"
#include "models/bert.h"
#include "models/vit.h"
#include "tensor/cross_entropy.h"
#include "tensor/gpu.h"
#include "tensor/layer_norm.h"
#include "tensor/reduce.h"
#include "tensor/rms_norm.h"
#include "tensor/softmax.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"

using namespace neat;
using neat::test::random64;
using neat::test::skip;

namespace {

// Bit for bit (through float64, which holds every float32 and bfloat16 value exactly).
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const std::vector<double> u = a.to(Device::CPU).to_vector<double>();
  const std::vector<double> v = b.to(Device::CPU).to_vector<double>();
  return std::memcmp(u.data(), v.data(), u.size() * sizeof(double)) == 0;
}

Variable leaf(const Shape& shape, uint64_t seed, DType dtype) {
  return Variable(random64(shape, seed, -2, 2).to(dtype), true);
}

}  // namespace

TEST_CASE("add_layer_norm: the same bits as add then layer_norm, values and every gradient") {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (Shape shape : {Shape{5, 37}, Shape{3, 4, 64}}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(shape_str(shape));
      const int64_t D = shape.back();
      Shape out_shape = shape;  // [sum | y]
      out_shape.back() = 2 * D;
      const Tensor dout = random64(out_shape, 7).to(dtype);
      Variable x[2], r[2], w[2], b[2], out[2];
      for (int k = 0; k < 2; ++k) {
        x[k] = leaf(shape, 1, dtype);
        r[k] = leaf(shape, 2, dtype);
        w[k] = leaf({D}, 3, dtype);
        b[k] = leaf({D}, 4, dtype);
      }
      AddLayerNorm fused = add_layer_norm(x[0], r[0], w[0], b[0], 1e-5);
      out[0] = concat({fused.sum, fused.y}, -1);
      Variable h = add(x[1], r[1]);
      out[1] = concat({h, layer_norm(h, w[1], b[1], 1e-5)}, -1);
      for (int k = 0; k < 2; ++k) out[k].backward(dout);
      CHECK(same_bits(out[0].data(), out[1].data()));
      CHECK(same_bits(x[0].grad(), x[1].grad()));
      CHECK(same_bits(r[0].grad(), r[1].grad()));
      CHECK(same_bits(w[0].grad(), w[1].grad()));
      CHECK(same_bits(b[0].grad(), b[1].grad()));
    }
  }
}

TEST_CASE("add_layer_norm: a residual of another shape or dtype is an error naming both") {
  const Tensor x = random64({2, 3}, 1).to(DType::Float32);
  CHECK_THROWS_WITH(add_layer_norm_forward(x, random64({3, 2}, 2).to(DType::Float32), Tensor(),
                                           Tensor(), 1e-5),
                    doctest::Contains("residual [3, 2] must have the input's shape [2, 3]"));
  CHECK_THROWS_WITH(add_layer_norm_forward(x, random64({2, 3}, 2), Tensor(), Tensor(), 1e-5),
                    doctest::Contains("add_layer_norm"));
}

TEST_CASE("ViTLayer and BERT's residual output with dropout on: the bits of add then layer_norm") {
  // Dropout on keeps the residual add out of the GEMM, so the blocks take add_layer_norm; the
  // same dropout draws (the generator reset) must give the plain ops' values and gradients.
  ViTConfig vc;
  vc.hidden = 16;
  vc.heads = 2;
  vc.mlp_dim = 24;
  vc.dropout = 0.25;
  auto vgen = std::make_shared<Generator>(5);
  ViTLayer layer(vc, vgen);
  layer.train();
  const Generator start = *vgen;
  Variable h0(random64({2, 5, 16}, 11).to(DType::Float32), true);
  Variable got = layer.forward(h0);
  got.backward(full(got.shape(), 1.0));
  const Tensor got_dh = h0.grad(), got_dw = layer.layernorm_after->weight.grad();
  h0.zero_grad();
  layer.layernorm_after->weight.zero_grad();
  *vgen = start;
  Variable a = layer.attention->output->forward(
      layer.attention->attention->forward(layer.layernorm_before->forward(h0)));
  Variable h1 = add(a, h0);
  Variable want = layer.output->forward_add(
      layer.intermediate->forward(layer.layernorm_after->forward(h1)), h1);
  want.backward(full(want.shape(), 1.0));
  CHECK(same_bits(got.data(), want.data()));
  CHECK(same_bits(got_dh, h0.grad()));
  CHECK(same_bits(got_dw, layer.layernorm_after->weight.grad()));

  BertConfig bc;
  bc.hidden = 16;
  auto bgen = std::make_shared<Generator>(6);
  BertResidualOutput output(24, bc, bgen, "BertOutput");
  output.train();
  const Generator bstart = *bgen;
  Variable x(random64({2, 5, 24}, 12).to(DType::Float32), true);
  Variable res(random64({2, 5, 16}, 13).to(DType::Float32), true);
  const Tensor bgot = output.forward(x, res).data();
  *bgen = bstart;
  const Tensor bwant = output.layer_norm
                           ->forward(add(output.dropout->forward(output.dense->forward(x)), res))
                           .data();
  CHECK(same_bits(bgot, bwant));
}

TEST_CASE("CUDA row kernels: float32 sums in a fixed order, the same bits on every run") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  const Device gpu = Device::CUDA;
  // ViT-B/16-sized rows (D = 768, 2 x 197 tokens) and a short odd one.
  for (Shape shape : {Shape{394, 768}, Shape{7, 45}}) {
    CAPTURE(shape_str(shape));
    const int64_t D = shape.back();
    const Tensor x = random64(shape, 21, -3, 3).to(DType::Float32).to(gpu);
    const Tensor r = random64(shape, 22).to(DType::Float32).to(gpu);
    const Tensor dy = random64(shape, 23).to(DType::Float32).to(gpu);
    const Tensor w = random64({D}, 24).to(DType::Float32).to(gpu);
    const Tensor b = random64({D}, 25).to(DType::Float32).to(gpu);
    const Tensor labels = from_vector(std::vector<int64_t>(size_t(shape[0]), 3), {shape[0]}).to(gpu);
    auto run = [&] {
      std::vector<Tensor> out;
      AddLayerNormForward f = add_layer_norm_forward(x, r, w, b, 1e-5);
      LayerNormGrads g = layer_norm_backward(dy, f.h, w, f.mean, f.rstd, true, true, true);
      RmsNormForward rf = rms_norm_forward(x, w, 1e-6);
      RmsNormGrads rg = rms_norm_backward(dy, x, w, rf.rstd, true, true);
      const Tensor s = softmax(x, -1);
      CrossEntropyForward ce = cross_entropy_forward(x, labels, 0.1);
      out = {f.h, f.y, f.mean, f.rstd, g.x, g.weight, g.bias, rf.y, rf.rstd, rg.x, rg.weight, s,
             softmax_backward(dy, s, -1), ce.loss,
             cross_entropy_backward(full({}, 1.0).to(gpu), ce.log_probs, labels, 0.1),
             squared_norm({x, dy})};
      return out;
    };
    const std::vector<Tensor> first = run(), second = run();
    for (size_t i = 0; i < first.size(); ++i) {
      CAPTURE(i);
      CHECK(same_bits(first[i], second[i]));
    }
  }
}
