#include "data/transforms.h"

#include <algorithm>
#include <cmath>

#include "tensor/check.h"

namespace neat {

// Python's round(): half to even, which std::nearbyint does in the default rounding mode.
static int64_t round_half_even(double x) { return int64_t(std::nearbyint(x)); }

CropBox random_resized_crop_box(int64_t height, int64_t width, double scale_min, double scale_max,
                                double ratio_min, double ratio_max, Generator& gen) {
  NEAT_CHECK(height > 0 && width > 0, "random_resized_crop: empty ", height, "x", width, " image");
  const double area = double(height) * double(width);
  const double log_ratio_min = std::log(ratio_min), log_ratio_max = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target_area = area * gen.uniform(scale_min, scale_max);
    double aspect = std::exp(gen.uniform(log_ratio_min, log_ratio_max));
    int64_t w = round_half_even(std::sqrt(target_area * aspect));
    int64_t h = round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      int64_t top = int64_t(gen.below(uint64_t(height - h + 1)));
      int64_t left = int64_t(gen.below(uint64_t(width - w + 1)));
      return {top, left, h, w};
    }
  }
  // Fallback: the whole image, cut to the nearest allowed aspect ratio, centred.
  double in_ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio_min) h = round_half_even(double(w) / ratio_min);
  else if (in_ratio > ratio_max) w = round_half_even(double(h) * ratio_max);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

CropBox center_crop_box(int64_t height, int64_t width, int64_t crop_h, int64_t crop_w) {
  NEAT_CHECK(crop_h <= height && crop_w <= width, "center_crop: crop ", crop_h, "x", crop_w,
             " is larger than the ", height, "x", width, " image");
  return {round_half_even((height - crop_h) / 2.0), round_half_even((width - crop_w) / 2.0), crop_h, crop_w};
}

std::array<int64_t, 2> shorter_side_size(int64_t height, int64_t width, int64_t size) {
  int64_t shorter = std::min(height, width), longer = std::max(height, width);
  int64_t new_long = int64_t(double(size) * double(longer) / double(shorter));
  return width <= height ? std::array<int64_t, 2>{new_long, size} : std::array<int64_t, 2>{size, new_long};
}

// Source positions and weights of bilinear resampling along one axis, as PyTorch computes them
// (align_corners=False): src = max(0, (dst + 0.5) * in / out - 0.5), i0 = floor(src),
// i1 = i0 + 1 except at the last input, weights (1 - frac, frac). In float, like PyTorch.
struct AxisTaps {
  std::vector<int64_t> i0, i1;
  std::vector<float> w0, w1;
};

static AxisTaps axis_taps(int64_t in, int64_t out) {
  AxisTaps t;
  const float scale = float(in) / float(out);
  for (int64_t d = 0; d < out; ++d) {
    float src = std::max(scale * (float(d) + 0.5f) - 0.5f, 0.0f);
    int64_t i0 = int64_t(src);
    float frac = std::min(std::max(src - float(i0), 0.0f), 1.0f);
    t.i0.push_back(i0);
    t.i1.push_back(i0 + (i0 < in - 1 ? 1 : 0));
    t.w0.push_back(1.0f - frac);
    t.w1.push_back(frac);
  }
  return t;
}

// src region `from` (h, w, C) -> out (out_h, out_w, C). Separable but in PyTorch's order:
//   out[y][x] = wy0 * (wx0 * src[y0][x0] + wx1 * src[y0][x1]) + wy1 * (wx0 * src[y1][x0] + wx1 * src[y1][x1])
// The bracketed horizontal passes are computed once per source row (two rows live at a time,
// as y0 never decreases), then every output row is one vectorisable blend of two of them.
Image resize_bilinear(const Image& src, CropBox from, int64_t out_h, int64_t out_w) {
  NEAT_CHECK(from.top >= 0 && from.left >= 0 && from.height > 0 && from.width > 0 &&
                 from.top + from.height <= src.height && from.left + from.width <= src.width,
             "resize_bilinear: region ", from.height, "x", from.width, " at (", from.top, ", ", from.left,
             ") is not inside the ", src.height, "x", src.width, " image");
  NEAT_CHECK(out_h > 0 && out_w > 0, "resize_bilinear: output size ", out_h, "x", out_w, " must be positive");
  const int64_t C = src.channels, row_len = out_w * C;
  const AxisTaps ys = axis_taps(from.height, out_h), xs = axis_taps(from.width, out_w);
  // The column taps per output element k = x * C + c, so a horizontal pass is one flat loop.
  std::vector<int32_t> a(static_cast<size_t>(row_len)), b(static_cast<size_t>(row_len));
  std::vector<float> wa(static_cast<size_t>(row_len)), wb(static_cast<size_t>(row_len));
  for (int64_t x = 0; x < out_w; ++x)
    for (int64_t c = 0; c < C; ++c) {
      a[x * C + c] = int32_t(xs.i0[x] * C + c);
      b[x * C + c] = int32_t(xs.i1[x] * C + c);
      wa[x * C + c] = xs.w0[x];
      wb[x * C + c] = xs.w1[x];
    }
  auto horizontal = [&](int64_t r, float* out) {
    const uint8_t* row = src.data() + ((from.top + r) * src.width + from.left) * C;
    for (int64_t k = 0; k < row_len; ++k) out[k] = wa[k] * float(row[a[k]]) + wb[k] * float(row[b[k]]);
  };
  std::vector<float> upper(static_cast<size_t>(row_len)), lower(static_cast<size_t>(row_len));
  int64_t upper_row = -1, lower_row = -1;   // the source rows held in upper / lower
  Image out(out_h, out_w, C);
  for (int64_t y = 0; y < out_h; ++y) {
    if (upper_row != ys.i0[y]) {
      if (lower_row == ys.i0[y]) {
        std::swap(upper, lower);
        std::swap(upper_row, lower_row);
      } else {
        horizontal(ys.i0[y], upper.data());
        upper_row = ys.i0[y];
      }
    }
    if (lower_row != ys.i1[y]) {
      horizontal(ys.i1[y], lower.data());
      lower_row = ys.i1[y];
    }
    const float w0 = ys.w0[y], w1 = ys.w1[y];
    const float* top = upper.data();
    const float* bottom = lower.data();
    uint8_t* dst = out.data() + y * row_len;
    for (int64_t k = 0; k < row_len; ++k)
      dst[k] = uint8_t(std::clamp(std::nearbyint(w0 * top[k] + w1 * bottom[k]), 0.0f, 255.0f));
  }
  return out;
}

Image crop(const Image& src, CropBox box) {
  NEAT_CHECK(box.top >= 0 && box.left >= 0 && box.height > 0 && box.width > 0 &&
                 box.top + box.height <= src.height && box.left + box.width <= src.width,
             "crop: box ", box.height, "x", box.width, " at (", box.top, ", ", box.left,
             ") is not inside the ", src.height, "x", src.width, " image");
  Image out(box.height, box.width, src.channels);
  const int64_t row_bytes = box.width * src.channels;
  for (int64_t y = 0; y < box.height; ++y) {
    const uint8_t* from = src.data() + ((box.top + y) * src.width + box.left) * src.channels;
    std::copy(from, from + row_bytes, out.data() + y * row_bytes);
  }
  return out;
}

void flip_horizontal(Image& image) {
  const int64_t C = image.channels;
  for (int64_t y = 0; y < image.height; ++y) {
    uint8_t* row = image.data() + y * image.width * C;
    for (int64_t l = 0, r = image.width - 1; l < r; ++l, --r)
      for (int64_t c = 0; c < C; ++c) std::swap(row[l * C + c], row[r * C + c]);
  }
}

void normalize_to_chw(const Image& image, const std::vector<double>& mean,
                      const std::vector<double>& std, int64_t channels, float* out) {
  const int64_t in_c = image.channels, HW = image.height * image.width;
  NEAT_CHECK(in_c == channels || (in_c == 1 && channels == 3) || (in_c == 3 && channels == 1),
             "normalize: cannot turn a ", in_c, "-channel image into ", channels, " channels");
  NEAT_CHECK((mean.size() == 1 || int64_t(mean.size()) == channels) && mean.size() == std.size(),
             "normalize: mean and std need 1 or ", channels, " values each, got ", mean.size(), " and ", std.size());
  for (int64_t c = 0; c < channels; ++c) {
    // ToTensor then Normalize, in float as torchvision: (float(v) / 255 - mean) / std, as a table.
    const float m = float(mean[mean.size() == 1 ? 0 : c]), s = float(std[std.size() == 1 ? 0 : c]);
    float table[256];
    for (int v = 0; v < 256; ++v) table[v] = (float(v) / 255.0f - m) / s;
    float* plane = out + c * HW;
    const uint8_t* px = image.data();
    if (in_c == 3 && channels == 1) {
      // PIL's convert("L"): L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
      for (int64_t p = 0; p < HW; ++p)
        plane[p] = table[(19595 * px[3 * p] + 38470 * px[3 * p + 1] + 7471 * px[3 * p + 2] + 0x8000) >> 16];
    } else {
      const int64_t from = in_c == 1 ? 0 : c;
      for (int64_t p = 0; p < HW; ++p) plane[p] = table[px[p * in_c + from]];
    }
  }
}

Transform::Transform(TransformConfig config, bool train) : config_(std::move(config)), train_(train) {
  const TransformConfig& c = config_;
  if (c.eval_resize == 0) config_.eval_resize = c.image_size;
  NEAT_CHECK(c.native_resolution || (c.image_size > 0 && config_.eval_resize >= c.image_size),
             "transform: need image_size > 0 and eval_resize >= image_size, got image_size=", c.image_size,
             " eval_resize=", config_.eval_resize);
  NEAT_CHECK(0 < c.scale_min && c.scale_min <= c.scale_max && c.scale_max <= 1 && 0 < c.ratio_min &&
                 c.ratio_min <= c.ratio_max,
             "transform: need 0 < scale_min <= scale_max <= 1 and 0 < ratio_min <= ratio_max, got scale=(",
             c.scale_min, ", ", c.scale_max, ") ratio=(", c.ratio_min, ", ", c.ratio_max, ")");
  NEAT_CHECK(c.channels == 1 || c.channels == 3, "transform: channels must be 1 or 3, got ", c.channels);
  NEAT_CHECK((c.mean.size() == 1 || int64_t(c.mean.size()) == c.channels) && c.mean.size() == c.std.size(),
             "transform: mean and std need 1 or ", c.channels, " values each, got ", c.mean.size(), " and ",
             c.std.size());
  for (double s : c.std) NEAT_CHECK(s > 0, "transform: std must be positive, got ", s);
}

std::array<int64_t, 3> Transform::output_shape(int64_t height, int64_t width) const {
  if (config_.native_resolution) return {config_.channels, height, width};
  return {config_.channels, config_.image_size, config_.image_size};
}

void Transform::apply(const Image& image, Generator& gen, float* out) const {
  const TransformConfig& c = config_;
  const int64_t size = c.image_size;
  if (c.native_resolution && !(train_ && c.horizontal_flip)) {
    normalize_to_chw(image, c.mean, c.std, c.channels, out);
    return;
  }
  Image img;
  if (c.native_resolution) {
    img = image;
  } else if (train_ && c.random_resized_crop) {
    CropBox box = random_resized_crop_box(image.height, image.width, c.scale_min, c.scale_max,
                                          c.ratio_min, c.ratio_max, gen);
    img = resize_bilinear(image, box, size, size);
  } else {
    std::array<int64_t, 2> hw = shorter_side_size(image.height, image.width, c.eval_resize);
    // A long thin image would become a huge one before the crop (found by fuzz/image.cpp).
    NEAT_CHECK(hw[0] * hw[1] <= kMaxImagePixels, "transform: a ", image.height, "x", image.width,
               " image would be resized to ", hw[0], "x", hw[1], " before its center crop, more than ",
               kMaxImagePixels, " pixels: its aspect ratio is too extreme (crop it first)");
    img = hw[0] == image.height && hw[1] == image.width
              ? image
              : resize_bilinear(image, {0, 0, image.height, image.width}, hw[0], hw[1]);
    if (hw[0] != size || hw[1] != size) img = crop(img, center_crop_box(hw[0], hw[1], size, size));
  }
  if (train_ && c.horizontal_flip && gen.uniform() < 0.5) flip_horizontal(img);
  normalize_to_chw(img, c.mean, c.std, c.channels, out);
}

}  // namespace neat
