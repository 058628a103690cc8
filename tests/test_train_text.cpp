// Tests for the text programs, run in-process: text_step reproduces transformers' logits and
// gradients from the BERT parity file's config, weights, batch and adapter; train_text trains
// a tiny BERT on WordNet-format data end to end (outputs, checkpoint, resume, errors, usage).
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "models/bert.h"
#include "nn/peft/peft_format.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tests/test_data_util.h"
#include "train/system.h"
#include "train/text_step_app.h"
#include "train/train_text_app.h"
#include "tests/train_test_util.h"

using namespace neat;
using neat_test::TempDir;
using neat_test::write_text;

namespace {

double max_relative_error(const Tensor& got, const Tensor& want) {
  double scale = 0, diff = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    scale = std::max(scale, std::abs(want.flat(i)));
    diff = std::max(diff, std::abs(got.flat(i) - want.flat(i)));
  }
  return diff / scale;
}

}  // namespace

TEST_CASE("text_step: transformers' logits and gradients from files (LoRA on RoBERTa)") {
  TempDir dir;
  SafetensorsFile ref = read_safetensors("tests/parity/bert_reference.safetensors");
  write_text(dir / "config.json", ref.metadata.at("config.roberta"));
  std::vector<std::pair<std::string, Tensor>> base, batch, adapter;
  const std::string case_prefix = "roberta.lora_qv.param.";
  for (auto& [name, t] : ref.tensors) {
    if (name.rfind("roberta.base.", 0) == 0) base.emplace_back(name.substr(13), t);
    if (name.rfind(case_prefix, 0) == 0) adapter.emplace_back(name.substr(case_prefix.size()), t);
  }
  for (const char* n : {"input_ids", "attention_mask", "token_type_ids", "labels"})
    batch.emplace_back(n, ref.get(std::string("roberta.") + n));
  write_safetensors(dir / "model.safetensors", base);
  write_safetensors(dir / "batch.safetensors", batch);
  write_safetensors(dir / "adapter.safetensors", adapter);
  std::ostringstream out, err;
  const int code = text_step_main({"--config", dir / "config.json", "--weights",
                                   dir / "model.safetensors", "--adapter", dir / "adapter.safetensors",
                                   "--batch", dir / "batch.safetensors", "--method", "lora",
                                   "--lora-r", "4", "--lora-alpha", "8", "--out", dir / "step.safetensors"},
                                  out, err);
  REQUIRE_MESSAGE(code == 0, err.str());
  SafetensorsFile step = read_safetensors(dir / "step.safetensors");
  CHECK(max_relative_error(step.get("logits"), ref.get("roberta.lora_qv.logits")) < 1e-5);
  const std::string q = "roberta.encoder.layer.1.attention.self.query.lora_B.weight";
  CHECK(max_relative_error(step.get("grad." + q), ref.get("roberta.lora_qv.grad." + q)) < 1e-4);

  std::ostringstream out2, err2;
  CHECK(text_step_main({"--config", dir / "config.json", "--out", "x"}, out2, err2) == 2);
  CHECK(err2.str().find("--config, --batch and --out are required") != std::string::npos);
  std::ostringstream out3, err3;
  CHECK(text_step_main({"--config", dir / "nope.json", "--batch", dir / "batch.safetensors",
                        "--out", dir / "s.safetensors"}, out3, err3) == 1);
  CHECK(err3.str().find("nope.json") != std::string::npos);
}

TEST_CASE("text_step takes peft's directory: its adapter_config.json gives the method (LoRA on RoBERTa)") {
  TempDir dir;
  SafetensorsFile ref = read_safetensors("tests/parity/bert_reference.safetensors");
  write_text(dir / "config.json", ref.metadata.at("config.roberta"));
  std::vector<std::pair<std::string, Tensor>> base, batch;
  for (auto& [name, t] : ref.tensors)
    if (name.rfind("roberta.base.", 0) == 0) base.emplace_back(name.substr(13), t);
  for (const char* n : {"input_ids", "attention_mask", "token_type_ids", "labels"})
    batch.emplace_back(n, ref.get(std::string("roberta.") + n));
  write_safetensors(dir / "model.safetensors", base);
  write_safetensors(dir / "batch.safetensors", batch);
  // peft's directory of the reference's LoRA (r 4, alpha 8 on query and value).
  BertForSequenceClassification model(bert_config_from_json(Json::parse(ref.metadata.at("config.roberta"))));
  PeftConfig peft;
  peft.method = "lora";
  peft.lora.rank = 4;
  peft.lora.alpha = 8;
  attach_peft(model, peft);
  {
    NoGradGuard no_grad;
    for (auto& [name, p] : model.named_parameters(true)) {   // the classifier: the base's
      const std::string lora = "roberta.lora_qv.param." + name;
      p.data().copy_from(ref.get(ref.contains(lora) ? lora : "roberta.base." + name));
    }
  }
  save_peft_adapter(dir / "peft", model, peft);
  const std::vector<std::string> args = {"--config", dir / "config.json", "--weights",
                                         dir / "model.safetensors", "--adapter", dir / "peft",
                                         "--batch", dir / "batch.safetensors", "--out",
                                         dir / "step.safetensors"};
  std::ostringstream out, err;
  REQUIRE_MESSAGE(text_step_main(args, out, err) == 0, err.str());   // no method flags
  const SafetensorsFile step = read_safetensors(dir / "step.safetensors");
  CHECK(max_relative_error(step.get("logits"), ref.get("roberta.lora_qv.logits")) < 1e-5);
  std::vector<std::string> conflict = args;
  conflict.insert(conflict.end(), {"--lora-alpha", "16"});
  std::ostringstream out2, err2;
  CHECK(text_step_main(conflict, out2, err2) == 2);
  CHECK(err2.str().find("--lora-alpha 16 conflicts with the adapter's lora_alpha = 8 (" + dir.path() +
                        "/peft/adapter_config.json)") != std::string::npos);
}

TEST_CASE("train_text: a tiny BERT on WordNet-format data, outputs, resume, errors") {
  TempDir dir;
  neat_train_test::write_tiny_text_inputs(dir.path());
  const std::vector<std::string> common = {
      "--task", "wordnet-nouns", "--data-dir", dir / "wordnet", "--weights", dir / "model",
      "--epochs", "2", "--batch-size", "8", "--max-len", "16", "--threads", "1", "--quiet"};
  auto run = [&](std::vector<std::string> extra, std::string& out_text, std::string& err_text) {
    std::vector<std::string> args = common;
    args.insert(args.end(), extra.begin(), extra.end());
    std::ostringstream out, err;
    const int code = train_text_main(args, out, err);
    out_text = out.str();
    err_text = err.str();
    return code;
  };
  std::string out, err;
  REQUIRE_MESSAGE(run({"--method", "neat", "--neat-rank", "2", "--out", dir / "run"}, out, err) == 0, err);
  CHECK(out.find("test accuracy") != std::string::npos);
  for (const char* f : {"results.json", "log.csv", "curves.svg", "adapter.safetensors",
                        "checkpoint.safetensors"})
    CHECK_MESSAGE(file_exists(dir / "run/" + f), f);
  const Json results = Json::parse(read_file(dir / "run/results.json"));
  CHECK(results["steps"].as_int() == 12);   // 48 train examples / 8, 2 epochs
  CHECK(results["trainable_params"].as_int() > 0);

  // Stop after 3 steps, resume: the same final adapter as the uninterrupted run.
  REQUIRE(run({"--method", "neat", "--neat-rank", "2", "--out", dir / "part", "--max-steps", "3"},
              out, err) == 0);
  std::ostringstream rout, rerr;
  // (--data-dir, a location, is not restored from the checkpoint: give it again)
  REQUIRE_MESSAGE(train_text_main({"--resume", dir / "part", "--data-dir", dir / "wordnet", "--threads", "1",
                                   "--quiet"}, rout, rerr) == 0,
                  rerr.str());
  SafetensorsFile whole = read_safetensors(dir / "run/adapter.safetensors");
  SafetensorsFile resumed = read_safetensors(dir / "part/adapter.safetensors");
  REQUIRE(whole.tensors.size() == resumed.tensors.size());
  for (size_t i = 0; i < whole.tensors.size(); ++i)
    CHECK_MESSAGE(whole.tensors[i].second.to_vector<float>() == resumed.tensors[i].second.to_vector<float>(),
                  whole.tensors[i].first);

  CHECK(run({"--task", "glue-nope"}, out, err) == 2);
  CHECK(err.find("--task") != std::string::npos);
  CHECK(run({"--max-len", "4"}, out, err) == 2);
  CHECK(run({"--weights", dir / "missing", "--out", dir / "x"}, out, err) == 1);
  CHECK(err.find("make deps") != std::string::npos);
  std::ostringstream hout, herr;
  CHECK(train_text_main({"--help"}, hout, herr) == 0);
  CHECK(hout.str().find("--neat-rank") != std::string::npos);
}
