#!/usr/bin/env python3
"""Checks that the peft/ directories train_lm writes load in transformers + peft: each is put on
transformers' LlamaForCausalLM with PeftModel.from_pretrained, and the logits and causal-LM loss
it gives on a batch must be ours (./lm_step, the same base weights and the same directory) to
TOLERANCE of their size. Prints one line per case and a table row for docs/lm_tasks.md.

Not needed by `make test`. Needs ./train_lm and ./lm_step (make) and a venv with PyPI's torch,
transformers, peft, safetensors and gguf; from the repository root:
    /usr/bin/python3 -m venv .venv
    .venv/bin/pip install torch transformers peft safetensors gguf numpy
    .venv/bin/python tests/parity/check_lm_peft.py --work /tmp/check_lm_peft \
        [--gguf data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf]

Cases, each a train_lm run of a few steps (a large learning rate, so the adapter moves the
logits far from the base model's; the script checks that it does):
  * tiny: a random LlamaForCausalLM made here (hidden 32, 2 layers, 4 query heads on 2 key /
    value heads, tied embeddings, the committed 401-token SmolLM-style tokenizer), saved by
    transformers (config.json + model.safetensors), trained by train_lm on a toy BoolQ-format
    task; LoRA and DoRA on all 7 LLaMA linears.
  * smollm2 (with --gguf): SmolLM2-135M-Instruct's GGUF, which train_lm and lm_step dequantize
    to float32 and transformers loads with gguf_file= (its own dequantization); LoRA and DoRA on
    q, k, v, up, down (train_lm's defaults), 2 steps on 8 ARC-Easy items (--data-dir).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TQDM_DISABLE", "1")   # transformers' GGUF dequantization bar
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOLERANCE = 1e-5
ALL_TARGETS = "q,k,v,o,gate,up,down"


def run(args):
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def toy_task(items):
    """BoolQ items in LLM-Adapters' JSON: "the dog" is true, "the rice" false."""
    out = []
    for i in range(items):
        dog = i % 2 == 0
        answer = "true" if dog else "false"
        out.append({"instruction": "Is it a dog? the " + ("dog" if dog else "rice"), "input": "",
                    "output": "the correct answer is " + answer, "answer": answer})
    return out


def make_tiny(work):
    """A random LlamaForCausalLM saved by transformers, with the committed tokenizer beside it."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=401, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                         max_position_embeddings=512, rope_theta=10000.0, rms_norm_eps=1e-5,
                         tie_word_embeddings=True, initializer_range=0.2, bos_token_id=None,
                         eos_token_id=0, pad_token_id=None)
    model = LlamaForCausalLM(config).float()
    directory = os.path.join(work, "tiny-model")
    model.save_pretrained(directory, safe_serialization=True)
    shutil.copy(os.path.join(REPO, "tests/parity/decoder_tokenizer/smollm.json"),
                os.path.join(directory, "tokenizer.json"))
    for split, items in (("train", 16), ("test", 4)):
        with open(os.path.join(work, f"toy_{split}.json"), "w") as f:
            json.dump(toy_task(items), f)
    return directory


def train_args(work, name, case, weights, method, data_dir):
    targets = ALL_TARGETS if case == "tiny" else "q,k,v,up,down"
    common = ["./train_lm", "--method", method, "--lora-r", "4", "--lora-alpha", "8",
              "--lora-targets", targets, "--weights", weights, "--backbone-lr", "1e-2",
              "--warmup-ratio", "0", "--batch-size", "8", "--threads", "0", "--quiet",
              "--overwrite", "--out", os.path.join(work, name)]
    if case == "tiny":
        return common + ["--task", "boolq", "--train-data", os.path.join(work, "toy_train.json"),
                         "--test-data", os.path.join(work, "toy_test.json"), "--max-steps", "4"]
    return common + ["--task", "arc_easy", "--data-dir", data_dir, "--train-items", "8",
                     "--test-items", "1", "--max-steps", "2", "--max-len", "192"]


def hf_base(case, weights):
    from transformers import LlamaForCausalLM
    if case == "tiny":
        return LlamaForCausalLM.from_pretrained(weights, dtype=torch.float32)
    return LlamaForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(weights)),
                                            gguf_file=os.path.basename(weights),
                                            dtype=torch.float32)


def relative(a, b):
    return float((a - b).abs().max() / b.abs().max())


def check(work, case, weights, method, batch_path, batch, data_dir):
    from peft import PeftModel
    name = f"{case}-{method}"
    run(train_args(work, name, case, weights, method, data_dir))
    peft_dir = os.path.join(work, name, "peft")
    ours_path = os.path.join(work, name + ".step.safetensors")
    run(["./lm_step", "--weights", weights, "--adapter", peft_dir, "--batch", batch_path,
         "--out", ours_path, "--threads", "0"])
    ours = load_file(ours_path)
    base = hf_base(case, weights).eval()
    with torch.no_grad():
        base_logits = base(input_ids=batch["input_ids"]).logits
        model = PeftModel.from_pretrained(base, peft_dir).eval()
        out = model(input_ids=batch["input_ids"], labels=batch["labels"])
    logits_error = relative(ours["logits"], out.logits)
    loss_error = abs(float(ours["loss"]) - float(out.loss)) / abs(float(out.loss))
    moved = relative(base_logits, out.logits)   # how far the adapter takes the logits
    ok = logits_error <= TOLERANCE and loss_error <= TOLERANCE and moved > 100 * TOLERANCE
    print(f"{name:16s} logits {tuple(out.logits.shape)}: max |ours - peft| / max |peft| = "
          f"{logits_error:.2e}, loss {float(out.loss):.6f} (relative error {loss_error:.1e}); "
          f"the adapter moves the logits by {moved:.2e} of their size  "
          f"{'ok' if ok else 'FAILED'}")
    return ok


def batch_for(work, case, vocab):
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (2, 24 if case == "tiny" else 40), generator=generator)
    labels = ids.clone()
    labels[:, :4] = -100   # a prompt the loss skips
    path = os.path.join(work, case + ".batch.safetensors")
    save_file({"input_ids": ids, "labels": labels}, path)
    return path, {"input_ids": ids, "labels": labels}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default="/tmp/check_lm_peft", help="scratch directory")
    parser.add_argument("--gguf", help="also check on this SmolLM2 GGUF (dequantized)")
    parser.add_argument("--data-dir", default="data", help="where lm/arc_easy/ is (with --gguf)")
    args = parser.parse_args()
    for program in ("train_lm", "lm_step"):
        if not os.access(os.path.join(REPO, program), os.X_OK):
            sys.exit(f"./{program} is not built: run make first")
    os.makedirs(args.work, exist_ok=True)
    import peft
    import transformers
    transformers.utils.logging.disable_progress_bar()
    print(f"transformers {transformers.__version__}, peft {peft.__version__}, "
          f"torch {torch.__version__}; tolerance {TOLERANCE}")
    cases = [("tiny", make_tiny(args.work), 401)]
    if args.gguf:
        cases.append(("smollm2", os.path.abspath(args.gguf), 49152))
    ok = True
    for case, weights, vocab in cases:
        batch_path, batch = batch_for(args.work, case, vocab)
        for method in ("lora", "dora"):
            ok = check(args.work, case, weights, method, batch_path, batch, args.data_dir) and ok
    print("all agree" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
