// Opening a reference file made by a script in tests/parity/ (PyTorch, transformers, peft): it
// must exist (the tests run from the repository root) and carry the format and version the test
// reads; each failure says how to regenerate it (STYLE.md 7, llm.c's test_gpt2).
//
//   SafetensorsFile ref = open_parity_reference("tests/parity/llama_reference.safetensors",
//                                               "neat-llama-parity", "1", "regenerate: ...");
//   const Json cases = Json::parse(parity_metadata(ref, "cases"));
#pragma once
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "tensor/safetensors.h"

namespace neat::test {

// The metadata value of key, "(none)" when the file has no such key.
inline std::string parity_metadata(const SafetensorsFile& ref, const std::string& key) {
  auto it = ref.metadata.find(key);
  return it == ref.metadata.end() ? std::string("(none)") : it->second;
}

// logits [B, N, V] with the rows of padding zeroed, as make_llama_reference.py stores them (a
// padding query's row is settled differently by HF and by us, and reaches no real token).
inline Tensor real_rows(const Tensor& logits, const Tensor& attention_mask) {
  Tensor out = logits.to(Device::CPU).clone();
  const int64_t B = out.size(0), N = out.size(1), V = out.size(2);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n)
      if (attention_mask.at({b, n}) == 0)
        for (int64_t v = 0; v < V; ++v) out.set({b, n, v}, 0.0);
  return out;
}

inline SafetensorsFile open_parity_reference(const std::string& path, const std::string& format,
                                             const std::string& version,
                                             const std::string& regenerate) {
  REQUIRE_MESSAGE(std::filesystem::exists(path), path,
                  " is missing (run the tests from the repository root, or ", regenerate, ")");
  SafetensorsFile ref = read_safetensors(path);
  REQUIRE_MESSAGE(parity_metadata(ref, "format") == format, path, " is not a ", format,
                  " file; ", regenerate);
  REQUIRE_MESSAGE(parity_metadata(ref, "version") == version, path, " has version ",
                  parity_metadata(ref, "version"), ", this test reads version ", version, "; ",
                  regenerate);
  return ref;
}

}  // namespace neat::test
