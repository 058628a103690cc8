// Fuzzes the CIFAR-10 / CIFAR-100 binary readers; the first byte picks which (and the labels).
#include <cstdint>
#include <exception>

#include "data/cifar.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string path = neat_fuzz::input_file(data + 1, size - 1, "cifar");
  try {
    std::shared_ptr<neat::ArrayDataset> dataset;
    if (data[0] % 3 == 0) {
      dataset = neat::read_cifar10({path}, std::vector<std::string>(10, "c"));
    } else {
      const bool fine = data[0] % 3 == 1;
      dataset = neat::read_cifar100(path, fine ? neat::CifarLabels::Fine : neat::CifarLabels::Coarse,
                                    std::vector<std::string>(fine ? 100 : 20, "c"));
    }
    if (dataset->size() > 0) (void)dataset->get(dataset->size() - 1);
  } catch (const std::exception&) {
  }
  return 0;
}
