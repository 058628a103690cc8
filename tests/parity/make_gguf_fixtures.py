#!/usr/bin/env python3
"""Writes the GGUF fixtures of tests/test_gguf.cpp with gguf-py (llama.cpp's own Python package),
and the values gguf-py's dequantizer gives for them:

    python3 -m venv .venv && .venv/bin/pip install gguf==0.19.0 numpy safetensors
    .venv/bin/python tests/parity/make_gguf_fixtures.py [SMOLLM2_GGUF]

tests/parity/gguf/
  types.gguf            v3, alignment 64: metadata of every value type (arrays of each, nested
                        arrays, string arrays) and one tensor per type neat reads: F32, F16, BF16,
                        Q8_0, Q4_0, Q4_1 (quantized by gguf-py from random values), Q4_K and Q6_K
                        (random but valid block bytes: gguf-py only dequantizes them)
  types_expected.safetensors   gguf-py's dequantization of each tensor of types.gguf, float32
  tiny_v2.gguf          version 2, default alignment (32), one F32 tensor and a string
smollm2_reference.json  (when SMOLLM2_GGUF, default data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf,
                        exists): for the Q8_0 token embedding and two Q4_1 weights, gguf-py's
                        dequantized float32 values: a checksum of all their bits, the sum,
                        and the first values of two rows, so the C++ test needs no Python.
The random values are seeded: running the script again writes the same files.
"""
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, GGUFValueType as V, GGUFWriter
from gguf.quants import dequantize, quantize
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gguf")


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8).reshape(-1, 2)


def random_q4_k(rng, n_blocks):
    """Q4_K super-blocks: fp16 d, fp16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles."""
    d = f16_bytes(rng.uniform(0.001, 0.05, n_blocks))
    dmin = f16_bytes(rng.uniform(0.001, 0.05, n_blocks))
    rest = rng.integers(0, 256, (n_blocks, 12 + 128), dtype=np.uint8)
    return np.concatenate([d, dmin, rest], axis=1)


def random_q6_k(rng, n_blocks):
    """Q6_K super-blocks: 128 bytes ql, 64 bytes qh, 16 int8 scales, fp16 d."""
    q = rng.integers(0, 256, (n_blocks, 128 + 64 + 16), dtype=np.uint8)
    d = f16_bytes(rng.uniform(0.001, 0.05, n_blocks))
    return np.concatenate([q, d], axis=1)


def add_metadata(w):
    w.add_key_value("test.uint8", 200, V.UINT8)
    w.add_key_value("test.int8", -100, V.INT8)
    w.add_key_value("test.uint16", 60000, V.UINT16)
    w.add_key_value("test.int16", -30000, V.INT16)
    w.add_key_value("test.uint32", 4000000000, V.UINT32)
    w.add_key_value("test.int32", -2000000000, V.INT32)
    w.add_key_value("test.float32", 0.1, V.FLOAT32)
    w.add_key_value("test.bool", True, V.BOOL)
    w.add_key_value("test.string", "caf\u00e9 \u4e2d\n", V.STRING)
    w.add_key_value("test.uint64", 2**63 + 5, V.UINT64)
    w.add_key_value("test.int64", -(2**40), V.INT64)
    w.add_key_value("test.float64", 1e-300, V.FLOAT64)
    w.add_key_value("test.empty_string", "", V.STRING)
    w.add_array("test.strings", ["a", "", "\u0120the", "tab\there"])
    w.add_key_value("test.uint8s", [0, 7, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("test.int16s", [-1, 2, -32768], V.ARRAY, sub_type=V.INT16)
    w.add_key_value("test.uint64s", [1, 2**40], V.ARRAY, sub_type=V.UINT64)
    w.add_array("test.int32s", [1, -2, 3])
    w.add_array("test.float32s", [0.5, -1.25, 3e-5])
    w.add_key_value("test.float64s", [0.1, -2.5], V.ARRAY, sub_type=V.FLOAT64)
    w.add_array("test.bools", [True, False, True])
    w.add_array("test.nested", [[1, 2], [3]])
    w.add_array("test.nested_strings", [["x"], ["y", "z"]])


def write_types(rng):
    tensors = {}
    x = rng.standard_normal((3, 64)).astype(np.float32)
    tensors["f32"] = (rng.standard_normal((2, 3, 4)).astype(np.float32), None)
    special = [1.0, -0.0, 6.0e-8, 6.1e-5, 65504.0, -2.0, 0.333]  # a subnormal, the largest half
    f16 = np.array(special + list(rng.standard_normal(9)), np.float16).reshape(4, 4)
    tensors["f16"] = (f16, None)
    tensors["bf16"] = (quantize(rng.standard_normal((2, 8)).astype(np.float32), T.BF16), T.BF16)
    tensors["q8_0"] = (quantize(x, T.Q8_0), T.Q8_0)
    tensors["q4_0"] = (quantize(x, T.Q4_0), T.Q4_0)
    tensors["q4_1"] = (quantize(rng.standard_normal((2, 2, 32)).astype(np.float32) + 0.3, T.Q4_1),
                       T.Q4_1)
    tensors["q4_k"] = (random_q4_k(rng, 2).reshape(2, 144), T.Q4_K)
    tensors["q6_k"] = (random_q6_k(rng, 2).reshape(2, 210), T.Q6_K)

    path = os.path.join(OUT, "types.gguf")
    w = GGUFWriter(path, "test")
    w.add_custom_alignment(64)
    add_metadata(w)
    for name, (data, raw_dtype) in tensors.items():
        w.add_tensor(name, data, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # The expected values: gguf-py reads the file back and dequantizes each tensor.
    expected = {}
    for t in GGUFReader(path).tensors:
        expected[t.name] = np.ascontiguousarray(dequantize(t.data, t.tensor_type), np.float32)
    save_file(expected, os.path.join(OUT, "types_expected.safetensors"))


def write_tiny_v2(rng):
    path = os.path.join(OUT, "tiny_v2.gguf")
    w = GGUFWriter(path, "tiny")
    w.add_string("test.note", "version 2")
    w.add_tensor("w", np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with open(path, "r+b") as f:  # v2 is v3 without big-endian files: the same bytes
        f.seek(4)
        f.write((2).to_bytes(4, "little"))


def checksum(arr):
    """sum over i of bits[i] * (2 i + 1) mod 2^64, bits[i] the float32's bit pattern: any change
    of one value changes it (an odd factor is invertible mod 2^64); numpy computes it at once."""
    bits = np.ascontiguousarray(arr, "<f4").view("<u4").ravel().astype(np.uint64)
    weights = np.arange(bits.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    return int(np.sum(bits * weights, dtype=np.uint64))


def write_smollm2_reference(gguf_path):
    reader = GGUFReader(gguf_path)
    by_name = {t.name: t for t in reader.tensors}
    out = {"file": os.path.basename(gguf_path), "tensors": {}}
    for name in ("token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight"):
        t = by_name[name]
        w = np.ascontiguousarray(dequantize(t.data, t.tensor_type), np.float32)
        rows = [0, w.shape[0] - 1]
        out["tensors"][name] = {
            "type": t.tensor_type.name,
            "shape": list(w.shape),
            "checksum": "%016x" % checksum(w),
            "sum": float(w.astype(np.float64).sum()),
            "rows": {str(r): [float(v) for v in w[r, :16]] for r in rows},
        }
    with open(os.path.join(os.path.dirname(OUT), "smollm2_reference.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(28)
    write_types(rng)
    write_tiny_v2(rng)
    gguf_path = sys.argv[1] if len(sys.argv) > 1 else "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    if os.path.exists(gguf_path):
        write_smollm2_reference(gguf_path)
    else:
        print(f"{gguf_path} not found: smollm2_reference.json not rewritten (make deps fetches it)")


if __name__ == "__main__":
    main()
