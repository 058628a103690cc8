// The real sentence-transformers/all-MiniLM-L6-v2 (when `make deps` has put it in
// data/all-MiniLM-L6-v2, or $NEAT_MINILM_DIR): every tensor of model.safetensors is used, our
// WordPiece ids and mean-pooled sentence embeddings equal transformers' on three sentences
// (tests/parity/minilm_reference.json, made by tests/parity/make_minilm_reference.py).
// Skipped, with the reason, when the files are absent.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/variable.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "train/system.h"
#include "train/text_model.h"
#include "tests/skip.h"

using namespace neat;

TEST_CASE("MiniLM: loads with every tensor used; ids and embeddings match transformers") {
  const std::string dir = default_minilm_dir();
  if (!file_exists(dir + "/model.safetensors")) {
    return test::skip(dir + "/model.safetensors not found (make deps fetches it)");
  }
  PretrainedText m = load_pretrained_text(dir, 2, 0);
  CHECK(m.config.hidden == 384);
  CHECK(m.config.layers == 6);
  CHECK(m.report.pooler_loaded);
  CHECK(m.report.unused.empty());
  // Every tensor in the file but the position_ids buffer went into the model.
  int64_t weights = 0;
  for (auto& [name, t] : read_safetensors(dir + "/model.safetensors").tensors)
    weights += name.find("position_ids") == std::string::npos;
  CHECK(m.report.loaded == weights);
  CHECK(m.report.loaded == 5 + 6 * 16 + 2);

  const Json ref = Json::parse(read_file("tests/parity/minilm_reference.json"));
  std::vector<Encoding> batch;
  int64_t length = 0;
  for (const Json& item : ref.as_array()) {
    batch.push_back(m.tokenizer->encode(item["text"].as_string()));
    std::vector<int64_t> want;
    for (const Json& id : item["ids"].as_array()) want.push_back(id.as_int());
    CHECK(batch.back().ids == want);
    length = std::max(length, batch.back().size());
  }
  const int64_t B = int64_t(batch.size());
  Tensor ids({B, length}, DType::Int64), mask({B, length}, DType::Int64);
  for (int64_t b = 0; b < B; ++b) {
    pad_to(batch[b], length, m.tokenizer->special().pad);
    for (int64_t n = 0; n < length; ++n) {
      ids.data<int64_t>()[b * length + n] = batch[b].ids[n];
      mask.data<int64_t>()[b * length + n] = batch[b].attention_mask[n];
    }
  }
  m.model->eval();
  NoGradGuard no_grad;
  Tensor hidden = m.model->backbone->forward(ids, mask, Tensor()).data();  // [B, N, 384]
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<Json>& want = ref[b]["embedding"].as_array();
    double scale = 0, diff = 0;
    for (int64_t d = 0; d < 384; ++d) {
      double sum = 0, count = 0;
      for (int64_t n = 0; n < length; ++n)
        if (batch[b].attention_mask[n]) sum += hidden.at({b, n, d}), ++count;
      scale = std::max(scale, std::abs(want[d].as_number()));
      diff = std::max(diff, std::abs(sum / count - want[d].as_number()));
    }
    CHECK_MESSAGE(diff <= 1e-5 * scale, "sentence ", b, ": max diff ", diff, " over ", scale);
  }
}
