// torch.randperm(n, generator=torch.Generator().manual_seed(seed)) on the CPU, value for value:
// what peft's FourierFT draws its spectrum positions with (random_loc_seed), so that adapter
// files can be exchanged with peft, which does not store the positions.
//
//   std::vector<int64_t> perm = torch_randperm(9, 777);   // the same as torch's
//
// With torch's CPU generator (tensor/torch_generator.h), randperm for n < 2^32 / 20 starts
// from 0..n-1 and, for i = 0 .. n-2, swaps element i with element i + (next 32-bit draw mod
// (n - i)) (ATen's randperm_cpu). Larger n take another path in torch and are refused here.
#pragma once
#include <cstdint>
#include <vector>

namespace neat {

std::vector<int64_t> torch_randperm(int64_t n, uint64_t seed);

}  // namespace neat
