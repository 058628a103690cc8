// NEAT_HOST_DEVICE marks a function that runs on both devices: plain C++ for g++, and
// `__host__ __device__` under nvcc, so a CUDA kernel can call it. The one macro besides
// NEAT_CHECK; tensor/scalar_math.h (the elementwise math) and tensor/random.h (the counter-based
// draws of dropout) use it.
#pragma once

#ifdef __CUDACC__
#define NEAT_HOST_DEVICE __host__ __device__
#else
#define NEAT_HOST_DEVICE
#endif
