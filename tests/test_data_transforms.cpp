// Tests for data/transforms.h: torchvision's crop-box sampling (bounds, size, fallback), its
// rounding rules, PyTorch's bilinear (align_corners=False) on hand-computed cases, flip,
// normalize with channel conversion, and the train / eval / native pipelines end to end.
#include <doctest/doctest.h>

#include <cmath>

#include "data/transforms.h"
#include "tests/test_data_util.h"

using namespace neat;
using namespace neat_test;

namespace {

Image row_image(const std::vector<uint8_t>& values) {
  Image img(1, int64_t(values.size()), 1);
  img.pixels = values;
  return img;
}

Image resize_whole(const Image& src, int64_t h, int64_t w) {
  return resize_bilinear(src, {0, 0, src.height, src.width}, h, w);
}

}  // namespace

TEST_CASE("random_resized_crop_box: inside the image, area and aspect in range") {
  Generator gen(11);
  int fitted = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    int64_t H = 1 + int64_t(gen.below(300)), W = 1 + int64_t(gen.below(300));
    CropBox b = random_resized_crop_box(H, W, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, gen);
    REQUIRE(b.height > 0);
    REQUIRE(b.width > 0);
    REQUIRE(b.top >= 0);
    REQUIRE(b.left >= 0);
    REQUIRE(b.top + b.height <= H);
    REQUIRE(b.left + b.width <= W);
    // A box found by sampling (not the fallback) on a large image has area and aspect in range,
    // up to the rounding of its sides.
    if (H >= 100 && W >= 100 && !(b.height == H || b.width == W)) {
      ++fitted;
      double area = double(b.height) * b.width / (double(H) * W);
      CHECK(area <= 1.0);
      CHECK(area >= 0.08 * 0.9);
      double ratio = double(b.width) / b.height;
      CHECK(ratio >= 0.75 * 0.95);
      CHECK(ratio <= 4.0 / 3.0 * 1.05);
    }
  }
  CHECK(fitted > 100);
}

TEST_CASE("random_resized_crop_box: 10 failed attempts fall back to a ratio-clamped center crop") {
  Generator gen(12);
  // A 2x200 strip: every sampled box is taller than 2 rows, so the fallback runs: in_ratio 100
  // > 4/3 -> h = 2, w = round(2 * 4/3) = 3, centred: left = (200 - 3) // 2 = 98.
  CropBox wide = random_resized_crop_box(2, 200, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, gen);
  CHECK(wide.top == 0);
  CHECK(wide.left == 98);
  CHECK(wide.height == 2);
  CHECK(wide.width == 3);
  CropBox tall = random_resized_crop_box(200, 2, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, gen);
  CHECK(tall.width == 2);
  CHECK(tall.height == 3);   // round(2 / 0.75) = round(2.67)
  CHECK(tall.top == 98);
  // Scale (1, 1) at a ratio in [0.5, 0.6] needs more than 10 rows, so it falls back; the
  // square's ratio 1 > 0.6, so the width is cut to round(10 * 0.6) = 6, left = (10 - 6) // 2.
  CropBox cut = random_resized_crop_box(10, 10, 1.0, 1.0, 0.5, 0.6, gen);
  CHECK(cut.height == 10);
  CHECK(cut.width == 6);
  CHECK(cut.left == 2);
  CropBox whole = random_resized_crop_box(1, 1, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, gen);
  CHECK(whole.height == 1);
  CHECK(whole.width == 1);
}

TEST_CASE("random_resized_crop_box: the same seed gives the same box") {
  Generator a(99), b(99);
  for (int i = 0; i < 20; ++i) {
    CropBox x = random_resized_crop_box(64, 48, 0.08, 1.0, 0.75, 4.0 / 3.0, a);
    CropBox y = random_resized_crop_box(64, 48, 0.08, 1.0, 0.75, 4.0 / 3.0, b);
    CHECK(x.top == y.top);
    CHECK(x.left == y.left);
    CHECK(x.height == y.height);
    CHECK(x.width == y.width);
  }
}

TEST_CASE("center_crop_box and shorter_side_size follow torchvision's rounding") {
  CropBox c = center_crop_box(10, 11, 5, 4);   // (10-5)/2 = 2.5 -> 2 (half to even); (11-4)/2 = 3.5 -> 4
  CHECK(c.top == 2);
  CHECK(c.left == 4);
  CHECK(c.height == 5);
  CHECK(c.width == 4);
  CHECK(contains(thrown_message([] { center_crop_box(4, 4, 5, 4); }), "larger than the 4x4 image"));
  CHECK(shorter_side_size(375, 500, 224) == std::array<int64_t, 2>{224, 298});   // int(224 * 500 / 375)
  CHECK(shorter_side_size(500, 375, 224) == std::array<int64_t, 2>{298, 224});
  CHECK(shorter_side_size(32, 32, 224) == std::array<int64_t, 2>{224, 224});
}

TEST_CASE("resize_bilinear: PyTorch align_corners=False values, rounded half to even") {
  // Upsampling [0, 100] to 4: sources max(0, (d + 0.5) / 2 - 0.5) = 0, 0.25, 0.75, 1.
  CHECK(resize_whole(row_image({0, 100}), 1, 4).pixels == std::vector<uint8_t>{0, 25, 75, 100});
  // Downsampling by 2 averages pairs (sources 0.5 and 2.5).
  CHECK(resize_whole(row_image({0, 10, 20, 30}), 1, 2).pixels == std::vector<uint8_t>{5, 25});
  // [0, 5] to 3: sources 0, 0.5, 1 -> 2.5 rounds to 2 (even), as torch.round does.
  CHECK(resize_whole(row_image({0, 5}), 1, 3).pixels == std::vector<uint8_t>{0, 2, 5});
  // 2-D: [[0, 100], [200, 250]] to 3x3; rows and columns sample 0, 0.5, 1.
  Image sq(2, 2, 1);
  sq.pixels = {0, 100, 200, 250};
  CHECK(resize_whole(sq, 3, 3).pixels == std::vector<uint8_t>{0, 50, 100, 100, 138, 175, 200, 225, 250});
  // A region: columns 1..2 of a row, upsampled.
  Image row = row_image({7, 0, 100, 9});
  CHECK(resize_bilinear(row, {0, 1, 1, 2}, 1, 4).pixels == std::vector<uint8_t>{0, 25, 75, 100});
  CHECK(contains(thrown_message([&] { resize_bilinear(row, {0, 3, 1, 2}, 1, 4); }), "is not inside the 1x4 image"));
}

TEST_CASE("resize_bilinear: a constant image stays constant, same size is the identity") {
  Generator gen(13);
  Image flat(9, 13, 3);
  for (int64_t y = 0; y < 9; ++y)
    for (int64_t x = 0; x < 13; ++x)
      for (int64_t c = 0; c < 3; ++c) flat.at(y, x, c) = uint8_t(40 + 70 * c);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{224, 224}, {5, 3}, {1, 1}, {9, 13}, {17, 40}}) {
    CropBox box = random_resized_crop_box(9, 13, 0.08, 1.0, 0.75, 4.0 / 3.0, gen);
    Image out = resize_bilinear(flat, box, h, w);
    REQUIRE(out.height == h);
    REQUIRE(out.width == w);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t c = 0; c < 3; ++c) REQUIRE(out.at(y, x, c) == 40 + 70 * c);
  }
  Image noise = random_image(7, 5, 3, gen);
  CHECK(resize_whole(noise, 7, 5).pixels == noise.pixels);
}

TEST_CASE("flip_horizontal mirrors columns; twice is the identity") {
  Generator gen(14);
  Image img = random_image(4, 5, 3, gen);
  Image flipped = img;
  flip_horizontal(flipped);
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 5; ++x)
      for (int64_t c = 0; c < 3; ++c) CHECK(flipped.at(y, x, c) == img.at(y, 4 - x, c));
  flip_horizontal(flipped);
  CHECK(flipped.pixels == img.pixels);
}

TEST_CASE("normalize_to_chw: (v / 255 - mean) / std per channel, gray <-> RGB") {
  Image img(1, 2, 3);
  img.pixels = {0, 128, 255, 255, 0, 51};
  std::vector<float> out(6);
  normalize_to_chw(img, {0.5}, {0.5}, 3, out.data());
  // (C, H, W): channel 0 holds pixels 0 and 255, ...
  CHECK(out[0] == doctest::Approx(-1.0));
  CHECK(out[1] == doctest::Approx(1.0));
  CHECK(out[2] == doctest::Approx(128 / 127.5 - 1.0));
  CHECK(out[3] == doctest::Approx(-1.0));
  std::vector<double> mean = {0.485, 0.456, 0.406}, stdev = {0.229, 0.224, 0.225};
  normalize_to_chw(img, mean, stdev, 3, out.data());
  CHECK(out[2] == doctest::Approx((128 / 255.0 - 0.456) / 0.224).epsilon(1e-6));
  CHECK(out[5] == doctest::Approx((51 / 255.0 - 0.406) / 0.225).epsilon(1e-6));
  // A gray image feeds all three channels.
  Image gray(1, 2, 1);
  gray.pixels = {0, 255};
  normalize_to_chw(gray, mean, stdev, 3, out.data());
  for (int c = 0; c < 3; ++c) {
    CHECK(out[2 * c] == doctest::Approx(-mean[c] / stdev[c]).epsilon(1e-6));
    CHECK(out[2 * c + 1] == doctest::Approx((1 - mean[c]) / stdev[c]).epsilon(1e-6));
  }
  // RGB to one channel: PIL's luma, L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
  Image rgb(1, 1, 3);
  rgb.pixels = {200, 100, 50};
  normalize_to_chw(rgb, {0.0}, {1.0}, 1, out.data());
  CHECK(out[0] == doctest::Approx(((19595 * 200 + 38470 * 100 + 7471 * 50 + 0x8000) >> 16) / 255.0));
  CHECK(contains(thrown_message([&] { normalize_to_chw(rgb, {0.5, 0.5}, {0.5, 0.5}, 3, out.data()); }), "need 1 or 3 values"));
}

TEST_CASE("Transform: eval is Resize(shorter side) + CenterCrop, then normalize") {
  Generator gen(15);
  Image img = random_image(30, 40, 3, gen);
  TransformConfig tc;
  tc.image_size = 16;
  tc.eval_resize = 20;
  Transform eval(tc, false);
  CHECK(eval.output_shape(30, 40) == std::array<int64_t, 3>{3, 16, 16});
  std::vector<float> got(3 * 16 * 16), want(3 * 16 * 16);
  eval.apply(img, gen, got.data());
  // By hand: 30x40 -> 20x26 (int(20 * 40 / 30)), crop 16x16 at (2, 5).
  Image resized = resize_bilinear(img, {0, 0, 30, 40}, 20, 26);
  normalize_to_chw(crop(resized, {2, 5, 16, 16}), tc.mean, tc.std, 3, want.data());
  CHECK(got == want);
  // Eval is deterministic whatever the generator.
  Generator other(1234);
  eval.apply(img, other, want.data());
  CHECK(got == want);
  // A CIFAR image at its own size passes through unchanged apart from normalization.
  tc.image_size = 30;
  tc.eval_resize = 0;
  Image square = random_image(30, 30, 3, gen);
  std::vector<float> a(3 * 30 * 30), b(3 * 30 * 30);
  Transform(tc, false).apply(square, gen, a.data());
  normalize_to_chw(square, tc.mean, tc.std, 3, b.data());
  CHECK(a == b);
}

TEST_CASE("Transform: train is RandomResizedCrop then a coin-flip horizontal flip") {
  Generator pick(16);
  Image img = random_image(24, 32, 1, pick);
  TransformConfig tc;
  tc.image_size = 8;
  tc.mean = {0.5};
  tc.std = {0.25};
  Transform train(tc, true);
  std::vector<float> got(3 * 64), want(3 * 64);
  int flips = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Generator gen(seed), replay(seed);
    train.apply(img, gen, got.data());
    CropBox box = random_resized_crop_box(24, 32, tc.scale_min, tc.scale_max, tc.ratio_min, tc.ratio_max, replay);
    Image expect = resize_bilinear(img, box, 8, 8);
    if (replay.uniform() < 0.5) {
      flip_horizontal(expect);
      ++flips;
    }
    normalize_to_chw(expect, tc.mean, tc.std, 3, want.data());   // gray -> 3 channels
    REQUIRE(got == want);
  }
  CHECK(flips > 5);
  CHECK(flips < 35);
}

TEST_CASE("Transform: native resolution keeps the size, flips only when training") {
  Generator pick(17);
  Image img = random_image(5, 6, 3, pick);
  TransformConfig tc;
  tc.native_resolution = true;
  Transform train(tc, true), eval(tc, false);
  CHECK(train.output_shape(5, 6) == std::array<int64_t, 3>{3, 5, 6});
  std::vector<float> plain(90), mirrored(90), out(90);
  normalize_to_chw(img, tc.mean, tc.std, 3, plain.data());
  Image m = img;
  flip_horizontal(m);
  normalize_to_chw(m, tc.mean, tc.std, 3, mirrored.data());
  int flipped = 0, kept = 0;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    Generator gen(seed);
    train.apply(img, gen, out.data());
    if (out == mirrored) ++flipped;
    else if (out == plain) ++kept;
    eval.apply(img, gen, out.data());
    CHECK(out == plain);
  }
  CHECK(flipped + kept == 30);
  CHECK(flipped > 3);
  CHECK(kept > 3);
}

TEST_CASE("Transform: invalid configurations are rejected") {
  TransformConfig tc;
  tc.image_size = 32;
  tc.eval_resize = 16;
  CHECK(contains(thrown_message([&] { Transform(tc, false); }), "eval_resize >= image_size"));
  tc = TransformConfig();
  tc.scale_min = 0;
  CHECK(contains(thrown_message([&] { Transform(tc, true); }), "0 < scale_min"));
  tc = TransformConfig();
  tc.mean = {0.5, 0.5};
  CHECK(contains(thrown_message([&] { Transform(tc, true); }), "mean and std need 1 or 3 values"));
  tc = TransformConfig();
  tc.std = {0.5, 0.0, 0.5};
  CHECK(contains(thrown_message([&] { Transform(tc, true); }), "std must be positive"));
}

TEST_CASE("eval transform: an image too long and thin to resize is an error, not a huge allocation") {
  // Found by fuzz/image.cpp: 2 x 40000 pixels resized to a shorter side of 224 would be
  // 224 x 4480000 (1e9 pixels) before the center crop.
  TransformConfig tc;
  tc.image_size = 224;
  const Transform eval(tc, /*train=*/false);
  std::vector<float> out(3 * 224 * 224);
  Generator gen(0);
  CHECK(contains(thrown_message([&] { eval.apply(Image(2, 40000, 3), gen, out.data()); }),
                 "a 2x40000 image would be resized to 224x4480000 before its center crop"));
  eval.apply(Image(2, 400, 3), gen, out.data());   // 224 x 44800 is fine
}
