// Image transforms with torchvision's semantics, from a uint8 (H, W, C) image to the float
// (C, H, W) values a model reads. The pipelines Transform runs:
//
//   train: RandomResizedCrop(size, scale, ratio), bilinear -> RandomHorizontalFlip(0.5) -> Normalize
//   eval:  Resize(shorter side -> eval_resize), bilinear -> CenterCrop(size) -> Normalize
//   native_resolution: train: RandomHorizontalFlip(0.5) -> Normalize; eval: Normalize
//
// Normalize is ToTensor (v / 255) then (x - mean[c]) / std[c]; a grayscale image is replicated
// to 3 channels when the model wants 3 (and RGB becomes luma, PIL's convert("L"), for 1).
// Bilinear is PyTorch's interpolate(mode="bilinear", align_corners=False, antialias=False), with
// the uint8 result rounded half to even like torchvision's uint8 tensor path.
//
//   TransformConfig tc;  tc.image_size = 224;              // ViT-B/16 in21k: mean = std = 0.5
//   Transform train_tf(tc, /*train=*/true);
//   std::vector<float> out(3 * 224 * 224);
//   Generator gen(derive_seed(seed, index));               // one RNG per sample
//   train_tf.apply(image, gen, out.data());                // (3, 224, 224)
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "data/image.h"
#include "tensor/random.h"

namespace neat {

struct TransformConfig {
  int64_t image_size = 224;          // output side (square) unless native_resolution
  int64_t eval_resize = 0;           // eval: shorter side before CenterCrop; 0 = image_size
  bool native_resolution = false;    // no crop / resize: images keep their stored size
  bool random_resized_crop = true;   // train: RandomResizedCrop; false = the eval resize + crop
  double scale_min = 0.08, scale_max = 1.0;           // of the image area
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;  // width / height
  bool horizontal_flip = true;       // train: RandomHorizontalFlip(p=0.5)
  std::vector<double> mean = {0.5, 0.5, 0.5}, std = {0.5, 0.5, 0.5};   // one value or one per channel
  int64_t channels = 3;              // channels the model wants
};

// A rectangle of an image: rows [top, top + height), columns [left, left + width).
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// torchvision RandomResizedCrop.get_params: up to 10 tries of an area fraction U(scale) and a
// log-uniform aspect ratio; the first box that fits is placed uniformly. Otherwise a center
// crop of the whole image with its aspect ratio clamped to [ratio_min, ratio_max].
CropBox random_resized_crop_box(int64_t height, int64_t width, double scale_min, double scale_max,
                                double ratio_min, double ratio_max, Generator& gen);
// torchvision CenterCrop: top = round((height - crop_h) / 2), round half to even.
CropBox center_crop_box(int64_t height, int64_t width, int64_t crop_h, int64_t crop_w);
// torchvision Resize(int): the shorter side becomes `size`, the longer int(size * long / short).
std::array<int64_t, 2> shorter_side_size(int64_t height, int64_t width, int64_t size);

// Region `from` of src resized to (out_h, out_w), bilinear, align_corners=False, no antialias.
Image resize_bilinear(const Image& src, CropBox from, int64_t out_h, int64_t out_w);
Image crop(const Image& src, CropBox box);
void flip_horizontal(Image& image);
// Writes (channels, H, W) floats (v / 255 - mean[c]) / std[c]; mean and std have 1 or
// `channels` values. Converts 1 -> 3 channels (replicate) and 3 -> 1 (luma).
void normalize_to_chw(const Image& image, const std::vector<double>& mean,
                      const std::vector<double>& std, int64_t channels, float* out);

class Transform {
 public:
  Transform(TransformConfig config, bool train);
  // (C, H, W) of the output for an input image of height x width.
  std::array<int64_t, 3> output_shape(int64_t height, int64_t width) const;
  // Writes output_shape(...) floats to out; gen supplies this sample's randomness.
  void apply(const Image& image, Generator& gen, float* out) const;
  const TransformConfig& config() const { return config_; }
  bool train() const { return train_; }

 private:
  TransformConfig config_;
  bool train_;
};

}  // namespace neat
