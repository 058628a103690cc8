// train_lm (train/train_lm_app.h) on a tiny random LLaMA and a toy BoolQ-format task
// (tests/tiny_lm_run.h): it learns the task (loss falls, accuracy rises), --resume is
// bit-exact, --recompute trains the same adapter, the peft/ export in peft's LlamaForCausalLM
// layout, --merge writes a model load_llama opens with the adapted model's logits; and
// train/lm_batches.h's labels: -100 exactly over prompts and padding, packing, and its loss
// equal to causal_lm_loss of the full logits. The run skeleton's guarantees are checked for
// train_lm by tests/test_run_skeleton.cpp's table.
#include <doctest/doctest.h>

#include <sstream>

#include "autograd/nn_functional.h"
#include "nn/peft/attach.h"
#include "nn/peft/peft_format.h"
#include "tensor/json.h"
#include "tests/tensor_check.h"
#include "tests/tiny_lm_run.h"
#include "tests/train_test_util.h"
#include "train/lm_batches.h"
#include "train/train_lm_app.h"

using namespace neat;
using namespace neat_train_test;
using neat::test::check_tensor;

namespace {

Result run_lm(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Result r;
  r.code = train_lm_main(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

Json results_of(const std::string& dir, const char* file = "results.json") {
  return Json::parse(read_file(dir + "/" + file));
}

}  // namespace

TEST_CASE("train_lm: a tiny random LLaMA learns a toy task (loss falls, accuracy rises)") {
  TempDir dir("lm_learns");
  const std::vector<std::string> tiny = tiny_lm(dir.path);
  const Result base = run_lm(plus(tiny, {"--method", "full", "--eval-only", "--out", dir / "base"}));
  REQUIRE_MESSAGE(base.code == 0, base.err);
  // An eval-only run says which model it scored, not a trainable share.
  CHECK(contains(base.out, "eval only, nothing trained: " + dir / "lm-model" + "  -> "));
  CHECK_FALSE(contains(base.out, "trainable"));
  const Result tuned = run_lm(plus(tiny, {"--method", "full", "--epochs", "40", "--backbone-lr", "1e-2",
                                          "--warmup-ratio", "0", "--out", dir / "tuned"}));
  REQUIRE_MESSAGE(tuned.code == 0, tuned.err);
  const Json before = results_of(dir / "base", "eval.json"), after = results_of(dir / "tuned");
  CHECK(after["test_loss"].as_number() < 0.5 * before["test_loss"].as_number());
  CHECK(after["test_accuracy"].as_number() > before["test_accuracy"].as_number());
  CHECK(after["test_accuracy"].as_number() == 1.0);
  CHECK(contains(tuned.out, "test accuracy 1.0000 (8/8, choice likelihood)"));
}

TEST_CASE("train_lm: --format cloze learns the toy task from the options' words; resume keeps it") {
  TempDir dir("lm_cloze");
  const std::vector<std::string> tiny = plus(tiny_lm(dir.path), {"--format", "cloze", "--train-data",
                                                                 dir / "lm/train.jsonl", "--test-data",
                                                                 dir / "lm/test.jsonl"});
  const Result base = run_lm(plus(tiny, {"--method", "full", "--eval-only", "--out", dir / "base"}));
  REQUIRE_MESSAGE(base.code == 0, base.err);
  const Result tuned = run_lm(plus(tiny, {"--method", "full", "--epochs", "40", "--backbone-lr", "1e-2",
                                          "--warmup-ratio", "0", "--out", dir / "tuned"}));
  REQUIRE_MESSAGE(tuned.code == 0, tuned.err);
  const Json before = results_of(dir / "base", "eval.json"), after = results_of(dir / "tuned");
  CHECK(before["format"].as_string() == "cloze");
  CHECK(after["test_loss"].as_number() < 0.5 * before["test_loss"].as_number());
  CHECK(after["test_accuracy"].as_number() == 1.0);   // " yes" for the dog, " no" for the rice
  CHECK(after["test_accuracy_norm"].as_number() == 1.0);
  // The format is the run's: a resumed run scores in it without being told.
  REQUIRE(run_lm(plus(tiny, {"--method", "lora", "--max-steps", "1", "--out", dir / "part"})).code == 0);
  const Result rest = run_lm({"--resume", dir / "part", "--max-steps", "2", "--quiet"});
  REQUIRE_MESSAGE(rest.code == 0, rest.err);
  CHECK(results_of(dir / "part")["format"].as_string() == "cloze");
  CHECK(results_of(dir / "part")["steps"].as_int() == 2);
  // Refusals: a bad name (usage, exit 2), tasks and evaluations it does not apply to, and a file
  // without the query (LLM-Adapters' JSON: exit 1 naming why).
  const Result bad = run_lm(plus(tiny, {"--format", "mcq"}));
  CHECK(bad.code == 2);
  CHECK(contains(bad.err, "mcq"));
  CHECK(contains(bad.err, "usage"));
  for (const char* task : {"winogrande", "gsm8k"}) {
    const Result r = run_lm({"--format", "cloze", "--task", task, "--weights", dir / "none"});
    CHECK(r.code == 2);
    CHECK(contains(r.err, std::string("--format cloze: ") + task));
  }
  const Result gen = run_lm(plus(tiny, {"--eval", "generation"}));
  CHECK(gen.code == 2);
  CHECK(contains(gen.err, "--format cloze scores by choice likelihood"));
  const Result json = run_lm(plus(tiny_lm(dir.path), {"--format", "cloze", "--eval-only", "--out", dir / "json"}));
  CHECK(json.code == 1);
  CHECK(contains(json.err, "no cloze query"));
}

TEST_CASE("train_lm: --resume continues bit-exactly (LoRA with dropout, packing)") {
  TempDir dir("lm_resume");
  const std::vector<std::string> tiny = plus(tiny_lm(dir.path), {"--method", "lora", "--lora-dropout", "0.1",
                                                                 "--packing", "--batch-size", "2",
                                                                 "--backbone-lr", "1e-2"});
  const Result whole = run_lm(plus(tiny, {"--max-steps", "6", "--out", dir / "whole"}));
  REQUIRE_MESSAGE(whole.code == 0, whole.err);
  const Result part = run_lm(plus(tiny, {"--max-steps", "3", "--out", dir / "part"}));
  REQUIRE_MESSAGE(part.code == 0, part.err);
  const Result rest = run_lm({"--resume", dir / "part", "--max-steps", "6", "--quiet"});
  REQUIRE_MESSAGE(rest.code == 0, rest.err);
  const SafetensorsFile a = read_safetensors(dir / "whole/adapter.safetensors");
  const SafetensorsFile b = read_safetensors(dir / "part/adapter.safetensors");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    CAPTURE(name);
    CHECK(t.to_vector<float>() == b.get(name).to_vector<float>());
  }
  CHECK(results_of(dir / "whole")["test_loss"].as_number() == results_of(dir / "part")["test_loss"].as_number());
  CHECK(results_of(dir / "part")["steps"].as_int() == 6);
}

TEST_CASE("train_lm: --recompute trains the same adapter as the recorded run") {
  TempDir dir("lm_recompute");
  const std::vector<std::string> tiny = plus(tiny_lm(dir.path), {"--method", "neat", "--max-steps", "3",
                                                                 "--backbone-lr", "1e-2"});
  REQUIRE(run_lm(plus(tiny, {"--out", dir / "plain"})).code == 0);
  const Result r = run_lm(plus(tiny, {"--recompute", "--out", dir / "recomputed"}));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const SafetensorsFile a = read_safetensors(dir / "plain/adapter.safetensors");
  const SafetensorsFile b = read_safetensors(dir / "recomputed/adapter.safetensors");
  for (const auto& [name, t] : a.tensors) check_tensor(name, b.get(name), t, 1e-6, 0);
}

TEST_CASE("train_lm: peft/ in peft's LlamaForCausalLM layout; --merge writes a model load_llama opens") {
  TempDir dir("lm_export");
  const Result r = run_lm(plus(tiny_lm(dir.path), {"--method", "lora", "--lora-targets", "q,v,down",
                                                   "--max-steps", "2", "--merge", "--out", dir / "run"}));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const Json config = Json::parse(read_file(dir / "run/peft/adapter_config.json"));
  CHECK(config["target_modules"].as_string() == ".*\\.(q_proj|v_proj|down_proj)$");
  CHECK(config["modules_to_save"].size() == 0);
  const SafetensorsFile peft = read_safetensors(dir / "run/peft/adapter_model.safetensors");
  CHECK(peft.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  CHECK(peft.contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
  CHECK(peft.tensors.size() == 2 * 2 * 3);   // A and B, 2 layers, 3 targets
  CHECK(read_peft_adapter_config(dir / "run/peft").targets == "q_proj,v_proj,down_proj");
  CHECK_FALSE(Json::parse(read_file(dir / "run/results.json")).contains("class_names"));

  // The merged model: transformers' names only, the tokenizer beside it, the adapted logits.
  std::shared_ptr<LlamaForCausalLM> merged = load_llama(dir / "run");
  CHECK(file_exists(dir / "run/tokenizer.json"));
  LoadedLlama adapted = load_llama_model(dir / "lm-model", false, "--weights");
  PeftConfig peft_config = read_peft_adapter_config(dir / "run/peft");
  peft_config.classifier = "";
  attach_peft(*adapted.model, peft_config);
  load_peft_adapter(dir / "run/peft", *adapted.model, peft_config);
  const Tensor ids = from_vector(std::vector<int64_t>{5, 80, 9, 300, 42, 7}, {1, 6});
  NoGradGuard no_grad;
  check_tensor("merged logits", merged->forward(ids).data(), adapted.model->forward(ids).data(), 1e-5, 0);
}

TEST_CASE("train_lm: the targets' short names, and refusals before any file is read") {
  CHECK(llama_targets("q,k,v,up,down") == "q_proj,k_proj,v_proj,up_proj,down_proj");
  CHECK(llama_targets("qv") == "q_proj,v_proj");
  CHECK(llama_targets("o_proj,gate") == "o_proj,gate_proj");
  TempDir dir("lm_refusals");
  const Result bad = run_lm({"--method", "lora", "--lora-targets", "q,query", "--weights", dir / "none"});
  CHECK(bad.code == 2);
  CHECK(contains(bad.err, "'query' in 'q,query' is not a LLaMA linear"));
  const Result gsm = run_lm({"--task", "gsm8k", "--eval", "likelihood", "--weights", dir / "none"});
  CHECK(gsm.code == 2);
  CHECK(contains(gsm.err, "gsm8k has no choices"));
  const Result missing = run_lm({"--weights", dir / "none", "--quiet"});
  CHECK(missing.code == 1);
  CHECK(contains(missing.err, "--weights " + dir / "none" + ": no such file or directory"));
}

namespace {

LmBatches::Inputs first_batch(LmBatches& batches) {
  batches.start_epoch(0);
  return batches.batch({0, 1, 2}, 0);
}

}  // namespace

TEST_CASE("lm batches: labels are -100 exactly over prompts and padding; packing; the loss is causal_lm_loss") {
  LlamaForCausalLM model(tiny_lm_config());
  const std::vector<LmExample> examples = {{{1, 2, 3}, {4, 5}}, {{6}, {7, 8, 9, 10}}, {{11, 12}, {13}}};
  LmBatches padded(model, examples, 16, 3, LmPacking::kPad, false, 0, /*pad_id=*/0);
  const LmBatches::Inputs in = first_batch(padded);
  CHECK(in.ids.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 0});
  CHECK(in.mask.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
  CHECK(in.labels.to_vector<int64_t>() ==
        std::vector<int64_t>{-100, -100, -100, 4, 5, -100, 7, 8, 9, 10, -100, -100, 13, -100, -100});

  // Packed into rows of at most 8 tokens: the second example does not fit beside the first, the
  // third does beside the second.
  LmBatches packed(model, examples, 8, 3, LmPacking::kPack, false, 0, 0);
  CHECK(packed.size() == 2);
  packed.start_epoch(0);
  const LmBatches::Inputs rows = packed.batch({0, 1}, 0);
  CHECK(rows.ids.to_vector<int64_t>() ==
        std::vector<int64_t>{1, 2, 3, 4, 5, 0, 0, 0, 6, 7, 8, 9, 10, 11, 12, 13});
  CHECK(rows.mask.to_vector<int64_t>() ==
        std::vector<int64_t>{1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1});
  CHECK(rows.labels.to_vector<int64_t>() == std::vector<int64_t>{-100, -100, -100, 4, 5, -100, -100, -100,
                                                                 -100, 7, 8, 9, 10, -100, -100, 13});

  // What the trainer sees: the counted tokens and their logits; the mean cross-entropy is
  // causal_lm_loss of the whole batch's logits.
  Tensor labels;
  int64_t step = 0;
  padded.start_epoch(0);
  REQUIRE(padded.next(labels, step));
  CHECK(labels.to_vector<int64_t>() == std::vector<int64_t>{4, 5, 7, 8, 9, 10, 13});
  CHECK(padded.examples(labels) == 3);
  const double loss = padded.loss(padded.logits(), labels).item();
  const double want = causal_lm_loss(model.forward(in.ids, in.mask), in.labels).item();
  CHECK(loss == doctest::Approx(want).epsilon(1e-6));
  // An example longer than max_len loses the start of its prompt.
  LmBatches cut(model, {{{1, 2, 3, 4, 5}, {6, 7}}}, 4, 1, LmPacking::kPad, false, 0, 0);
  CHECK(cut.truncated() == 1);
  cut.start_epoch(0);
  CHECK(cut.batch({0}, 0).ids.to_vector<int64_t>() == std::vector<int64_t>{4, 5, 6, 7});
}

TEST_CASE("lm batches: set_shard gives a rank its rows of each batch, padded to its own longest") {
  LlamaForCausalLM model(tiny_lm_config());
  const std::vector<LmExample> examples = {{{1, 2, 3}, {4, 5}}, {{6}, {7, 8, 9, 10}}, {{11, 12}, {13}}};
  LmBatches rank0(model, examples, 16, 3, LmPacking::kPad, false, 0, 0);
  LmBatches rank1(model, examples, 16, 3, LmPacking::kPad, false, 0, 0);
  rank0.set_shard(0, 2);
  rank1.set_shard(1, 2);
  rank0.start_epoch(0);
  rank1.start_epoch(0);
  Tensor labels;
  int64_t step = -1;
  REQUIRE(rank0.next(labels, step));   // rows [0, 1) of the batch of 3
  CHECK(step == 0);
  CHECK(labels.to_vector<int64_t>() == std::vector<int64_t>{4, 5});
  CHECK(rank0.examples(labels) == 1);
  CHECK(rank0.batch({0, 1, 2}, 0).ids.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3, 4, 5});
  REQUIRE(rank1.next(labels, step));   // rows [1, 3), padded to 5 tokens, not 5 + the others'
  CHECK(labels.to_vector<int64_t>() == std::vector<int64_t>{7, 8, 9, 10, 13});
  CHECK(rank1.examples(labels) == 2);
  CHECK(rank1.batch({0, 1, 2}, 0).ids.to_vector<int64_t>() ==
        std::vector<int64_t>{6, 7, 8, 9, 10, 11, 12, 13, 0, 0});
  CHECK_FALSE(rank0.next(labels, step));

  // A batch of one row leaves rank 0's shard empty: no labels, no examples, no error.
  LmBatches single(model, {examples[0]}, 16, 1, LmPacking::kPad, false, 0, 0);
  single.set_shard(0, 2);
  single.start_epoch(0);
  REQUIRE(single.next(labels, step));
  CHECK(labels.numel() == 0);
  CHECK(single.examples(labels) == 0);
  CHECK_THROWS_WITH(single.set_shard(2, 2), doctest::Contains("rank 2 of 2"));
}
