#!/usr/bin/env python3
"""Writes tests/parity/lm_choice_reference.json: Hugging Face transformers' log-likelihoods of
the answers of 8 ARC-Easy items under LLM-Adapters' prompt, from SmolLM2-135M-Instruct's GGUF
weights, for tests/test_lm_evaluation.cpp (evaluate_by_choice_likelihood).

Needs torch, transformers, gguf and numpy: from the repository root,

    /usr/bin/python3 -m venv .venv
    .venv/bin/pip install torch transformers gguf numpy
    .venv/bin/python tests/parity/make_lm_choice_reference.py \
        data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

The items are the 8 documents of tests/data/lm/arc_easy.jsonl.gz (oe-eval's requests, the first
request of each doc_id below 1000000). The prompt is written here independently of the C++
(LLM-Adapters' finetune.py generate_prompt with its indents, its commonsense instruction), and
each choice's continuation is "the correct answer is answerN"; prompt and continuation are
tokenized separately by transformers' tokenizer of the GGUF file (no special tokens added) and
scored in one plain forward of their concatenation (no cache): the sum over the continuation's
tokens of log_softmax(logits) in float64 from the float32 model. Also written: the ids, and the
largest |logit| over the scored positions (the tolerance's scale).
"""
import gzip
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_smollm2_reference import load_model, tokenizer_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "data", "lm", "arc_easy.jsonl.gz")
OUT = os.path.join(HERE, "lm_choice_reference.json")
INDENT = " " * 16


def prompt_of(instruction):
    return ("Below is an instruction that describes a task. Write a response that appropriately "
            "completes the request.  \n\n" + INDENT + "### Instruction:\n" + INDENT + instruction
            + "\n" + INDENT + "\n" + INDENT + "### Response:\n" + INDENT)


def instruction_of(doc):
    query = doc["query"]
    assert query.startswith("Question: ") and query.endswith("\nAnswer:"), query
    question = query[len("Question: "):-len("\nAnswer:")]
    n = len(doc["choices"])
    options = " ".join(f"Answer{i + 1}: {c}" for i, c in enumerate(doc["choices"]))
    answer_format = "/".join(f"answer{i + 1}" for i in range(n))
    return (f"Please choose the correct answer to the question: {question}\n\n{options}\n\n"
            f"Answer format: {answer_format}")


def documents():
    seen, docs = set(), []
    with gzip.open(FIXTURE, "rt") as f:
        for line in f:
            request = json.loads(line)
            if request["doc_id"] >= 1000000 or request["doc_id"] in seen:
                continue
            seen.add(request["doc_id"])
            docs.append(request["doc"])
    return docs


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    torch.set_num_threads(2)
    model = load_model(path)
    tokenizer = tokenizer_of(path)
    items = []
    with torch.no_grad():
        for doc in documents():
            prompt = prompt_of(instruction_of(doc))
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            conts, cont_ids, logprobs, max_abs = [], [], [], 0.0
            for i in range(len(doc["choices"])):
                cont = f"the correct answer is answer{i + 1}"
                ids = tokenizer(cont, add_special_tokens=False)["input_ids"]
                logits = model(torch.tensor([prompt_ids + ids])).logits[0].double()
                scored = logits[len(prompt_ids) - 1:-1]
                lp = torch.log_softmax(scored, dim=-1)[torch.arange(len(ids)), torch.tensor(ids)]
                conts.append(cont)
                cont_ids.append(ids)
                logprobs.append(float(lp.sum()))
                max_abs = max(max_abs, float(scored.abs().max()))
            items.append({"id": doc["id"], "gold": doc["gold"], "prompt": prompt,
                          "prompt_ids": prompt_ids, "continuations": conts,
                          "continuation_ids": cont_ids, "logprobs": logprobs,
                          "max_abs_logit": max_abs})
    ref = {"format": "neat-lm-choice", "version": 1, "file": os.path.basename(path),
           "items": items}
    with open(OUT, "w") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
        f.write("\n")
    picks = [max(range(len(it["logprobs"])), key=lambda j: it["logprobs"][j]) for it in items]
    print(OUT, "accuracy", sum(p == it["gold"] for p, it in zip(picks, items)), "/", len(items))


if __name__ == "__main__":
    main()
