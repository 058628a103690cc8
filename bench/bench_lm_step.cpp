// One causal-LM fine-tuning step of SmolLM2-135M-Instruct (its GGUF dequantized to fp32):
// forward over B x N random tokens, causal_lm_loss on every position (the full [B, N, V]
// logits, as transformers computes them with labels=input_ids), backward, AdamW; ms/step and
// the process's peak RSS. bench/pytorch_lm_step.py runs the same step with transformers + peft.
// Figures only, never pass/fail.
//
//   build/bench/bench_lm_step [--method neat|lora] [--batch 8] [--seq 256] [--steps 3]
//                             [--threads 2] [--recompute] [GGUF]
//
// Method: rank 8 on q, k, v, up and down (LLM-Adapters' targets): neat (depth 2, relu) or lora
// (alpha 16). Timing: one warm-up step (it allocates AdamW's state), then the median of --steps.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "models/llama.h"
#include "nn/peft/attach.h"
#include "tensor/random.h"
#include "train/lm_model.h"
#include "train/optimizer.h"
#include "train/system.h"

using namespace neat;

int main(int argc, char** argv) {
  std::string gguf = "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", method = "neat";
  int64_t batch = 8, seq = 256, steps = 3, threads = 2;
  bool recompute = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--method") method = value();
    else if (a == "--batch") batch = std::stoll(value());
    else if (a == "--seq") seq = std::stoll(value());
    else if (a == "--steps") steps = std::stoll(value());
    else if (a == "--threads") threads = std::stoll(value());
    else if (a == "--recompute") recompute = true;
    else gguf = a;
  }
  const ScopedThreads scoped(threads);
  LoadedLlama loaded = load_llama_model(gguf, false, "model");
  LlamaForCausalLM& model = *loaded.model;
  PeftConfig peft;
  peft.method = method;
  peft.targets = "q_proj,k_proj,v_proj,up_proj,down_proj";
  peft.classifier = "";
  peft.neat.rank = 8;
  peft.lora.rank = 8;
  peft.lora.alpha = 16;
  const PeftReport report = attach_peft(model, peft);
  model.model->set_recompute(recompute);
  model.train();
  AdamW optimizer({{"adapters", model.named_parameters(/*trainable_only=*/true), 1e-4, 0.0}});
  Generator gen(1);
  std::vector<int64_t> tokens(size_t(batch * seq));
  for (int64_t& t : tokens) t = int64_t(gen.below(uint64_t(model.config().vocab_size)));
  const Tensor ids = from_vector(tokens, {batch, seq});
  std::vector<double> ms;
  for (int64_t s = 0; s <= steps; ++s) {
    const auto start = std::chrono::steady_clock::now();
    causal_lm_loss(model.forward(ids), ids).backward();
    optimizer.step();
    optimizer.zero_grad();
    const double took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (s > 0) ms.push_back(took);   // step 0: warm-up
  }
  std::sort(ms.begin(), ms.end());
  std::printf("neat.cpp %s%s, SmolLM2-135M fp32, batch %lld x %lld tokens, %lld threads: %.0f ms/step "
              "(median of %lld; %.0f tokens/s), trainable %lld, peak RSS %.0f MiB\n",
              method.c_str(), recompute ? " --recompute" : "", static_cast<long long>(batch),
              static_cast<long long>(seq), static_cast<long long>(threads), ms[ms.size() / 2],
              static_cast<long long>(steps), double(batch * seq) / ms[ms.size() / 2] * 1e3,
              static_cast<long long>(report.trainable), double(peak_rss_bytes()) / (1 << 20));
  return 0;
}
