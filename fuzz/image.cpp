// Fuzzes the image-folder decoder path: the header check that runs before training, then
// stb_image through decode_image (RGB, as ImageFolder asks), then the eval transform.
#include <cstdint>
#include <exception>
#include <vector>

#include "data/image.h"
#include "data/transforms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  try {
    const neat::ImageHeader header = neat::check_image_header(bytes, "fuzz");
    // Decoding a header that claims up to kMaxImagePixels takes seconds; the fuzzer learns more
    // from many small images. (The header check above ran whatever the size.)
    if (header.height * header.width > (int64_t(1) << 20)) return 0;
    const neat::Image image = neat::decode_image(bytes, 3, "fuzz");
    neat::TransformConfig config;
    config.image_size = 8;
    config.channels = 3;
    const neat::Transform eval(config, /*train=*/false);
    const auto shape = eval.output_shape(image.height, image.width);
    std::vector<float> out(size_t(shape[0] * shape[1] * shape[2]));
    neat::Generator gen(0);
    eval.apply(image, gen, out.data());
  } catch (const std::exception&) {
  }
  return 0;
}
