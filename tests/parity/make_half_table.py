#!/usr/bin/env python3
"""Writes tests/parity/half_table.safetensors: how PyTorch rounds float32 to bfloat16 and to
float16, for tests/test_half.cpp, which checks tensor/half.h's conversions against it bit for bit.

    /usr/bin/python3 -m venv .venv && .venv/bin/pip install torch safetensors numpy
    .venv/bin/python tests/parity/make_half_table.py

Tensors (one row per input, in the same order):
    input  F32  [n]  float32 bit patterns, one or more of every class below
    bf16   BF16 [n]  input.to(torch.bfloat16)
    f16    F16  [n]  input.to(torch.float16)
Classes: +-0; normals (random bit patterns over the whole exponent range and random values
near 1); exact ties between two bfloat16 / float16 neighbours, to an even and to an odd lower
neighbour (so one rounds down, one up), and one float32 ulp either side of each tie; float32
subnormals; float16 subnormals, the float16 underflow boundary 2^-25 (a tie to zero) and its
neighbours; the largest finite values and the ones just past them that round to inf (bf16 max
3.3895e38, float16 65504 / 65520); +-inf; NaNs: quiet, signalling, payload only in the low 16
bits (which must not become inf), both signs.
PyTorch's bf16 answer for a NaN is 0xFFFF from its CPU kernels (0x7FC0 from c10::BFloat16):
tensor/half.h keeps the NaN's sign and top payload instead (the hardware's vcvtneps2bf16), so
the test checks NaN rows for a quiet NaN, and every other row bit for bit.
"""
import numpy as np
import torch
from safetensors.torch import save_file


def patterns():
    rng = np.random.default_rng(26)
    bits = [0x00000000, 0x80000000]
    bits += list(rng.integers(0, 0x7F800000, 120, dtype=np.uint32))             # any finite
    bits += list(rng.integers(0x3F000000, 0x40000000, 40, dtype=np.uint32))     # near 1
    bits = [b | (0x80000000 if i % 3 == 0 else 0) for i, b in enumerate(bits)]  # some negative
    for hi in (0x3F80, 0x3F81, 0x4049, 0x0001, 0x7F7E, 0x0080):  # bf16 ties: even / odd low half
        tie = (hi << 16) | 0x8000
        bits += [tie - 1, tie, tie + 1, tie | 0x80000000]
    for h in (0x3C00, 0x3C01, 0x7BFE, 0x0400, 0x0401):           # float16 ties between normals
        f = np.uint32(np.float32(np.float16(np.uint16(h).view(np.float16))).view(np.uint32))
        tie = int(f) + 0x1000
        bits += [tie - 1, tie, tie + 1]
    bits += [0x00000001, 0x007FFFFF, 0x00400000, 0x80000001, 0x00008000, 0x00018000]  # f32 subn.
    for e in (-25, -24, -20, -15, -14):                          # float16 subnormal range
        f = int(np.float32(2.0 ** e).view(np.uint32))
        bits += [f - 1, f, f + 1, f + 0x00400000, f + 0x00200000, f + 0x00600000]
    bits += [0x7F7FFFFF, 0x7F7F7FFF, 0x7F7F8000, 0x7F7F0000, 0xFF7FFFFF]  # bf16 max / -> inf
    f = lambda x: int(np.float32(x).view(np.uint32))
    bits += [f(65504), f(65519.99), f(65520), f(65536), f(-65520), f(1e30)]  # float16 max / -> inf
    bits += [0x7F800000, 0xFF800000]                                   # +-inf
    bits += [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FA00000, 0x7FFFFFFF,
             0x7F8FFFFF, 0x7F80FFFF, 0x7FC0FFFF]                       # NaNs
    return np.array(bits, dtype=np.uint32)


def main():
    inputs = patterns()
    x = torch.from_numpy(inputs.view(np.float32).copy())
    path = "tests/parity/half_table.safetensors"
    save_file({"input": x, "bf16": x.to(torch.bfloat16), "f16": x.to(torch.float16)}, path,
              metadata={"format": "neat-half-table", "version": "1", "torch": torch.__version__})
    print(f"wrote {path}: {len(inputs)} float32 patterns, torch {torch.__version__}")


if __name__ == "__main__":
    main()
