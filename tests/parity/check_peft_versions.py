"""Checks the peft/ directories train_vit and train_text export against several peft releases:
each release's PeftModel.from_pretrained loads the directory onto transformers' model (ViT, and
BERT for sequence classification) and its logits must be ours (vit_step / text_step given the
same directory) to 1e-5 of their size. Prints a table (docs/peft_methods.md holds its latest).

Not needed by `make test`. Needs ./train_vit ./vit_step ./train_text ./text_step (make) and a
venv with PyPI's torch, transformers 4.x (transformers 5 renamed ViT's modules: q_proj, fc1, ...;
our files use the 4.x names the Hub's checkpoints use) and safetensors:
    /usr/bin/python3 -m venv .venv
    .venv/bin/pip install torch "transformers<5" peft safetensors numpy
    .venv/bin/python tests/parity/check_peft_versions.py --work /tmp/peft_versions \
        --versions 0.13.2 0.14.0 0.15.2 0.17.1 0.18.0 0.22.0
Each release goes into WORK/peft-<version> (pip install --no-deps --target) and is put first on
PYTHONPATH for a child process that loads every export (--load), so the venv's own peft is
never changed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

TOLERANCE = 1e-5
# What each method trains with (small, so every method fits a width-12 model).
METHODS = {
    "lora": "--method lora --lora-r 3 --lora-alpha 6 --lora-targets qvmlp",
    "dora": "--method dora --lora-r 3 --lora-alpha 6 --lora-targets qvmlp",
    "vera": "--method vera --vera-r 6 --vera-seed 5 --vera-targets qvmlp",
    "fourierft": "--method fourierft --fourier-n 40 --fourier-scaling 30 --fourier-seed 99 "
                 "--fourier-targets qvmlp",
    "neat": "--method neat --neat-rank 3 --neat-targets qvmlp",
}
BERT = dict(vocab_size=30522, hidden_size=12, num_hidden_layers=2, num_attention_heads=3,
            intermediate_size=20, max_position_embeddings=40, hidden_act="gelu")


def run(cmd):
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {cmd}\n{done.stderr}")


# ---- exports (the venv's own peft is not used) ----

def export_vit(work):
    """train_vit runs of every method from the ViT reference's base weights; our logits through
    vit_step --adapter DIR/peft (the method from the directory's config, no method flags)."""
    import peft_reference as R
    from safetensors.torch import load_file, save_file
    ref = load_file(os.path.join(HERE, "peft_reference.safetensors"))
    base = {k[5:]: v for k, v in ref.items() if k.startswith("base.")}
    save_file(base, f"{work}/vit_base.safetensors")
    save_file({"pixel_values": ref["pixel_values"], "labels": ref["labels"]},
              f"{work}/vit_batch.safetensors")
    c = R.CONFIG
    model = (f"--model custom --dim {c['hidden']} --depth {c['depth']} --heads {c['heads']} "
             f"--mlp-dim {c['mlp_dim']} --image-size {c['image_size']} --patch {c['patch_size']} "
             f"--channels {c['channels']}")
    for method, flags in METHODS.items():
        out = f"{work}/vit-{method}"
        shutil.rmtree(out, ignore_errors=True)
        # a large learning rate, so that every adapter tensor moves well away from its start
        run(f"./train_vit --data synthetic --classes 0-{c['num_classes'] - 1} {model} "
            f"--weights {work}/vit_base.safetensors {flags} --epochs 1 --train-limit 64 "
            f"--batch-size 16 --backbone-lr 0.05 --threads 1 --quiet --out {out}")
        run(f"./vit_step {model} --num-classes {c['num_classes']} --weights "
            f"{work}/vit_base.safetensors --adapter {out}/peft --batch {work}/vit_batch.safetensors "
            f"--out {out}/ours.safetensors --threads 1")


def export_bert(work):
    """A tiny BERT (WordPiece vocabulary of bert-base-uncased) trained by train_text on 60
    WordNet-format definitions; our logits through text_step --adapter DIR/peft."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel
    model_dir, wordnet = f"{work}/bert", f"{work}/wordnet"
    os.makedirs(model_dir, exist_ok=True)
    os.makedirs(wordnet, exist_ok=True)
    with open(f"{model_dir}/config.json", "w") as f:
        json.dump(dict(model_type="bert", **BERT), f)
    torch.manual_seed(0)
    bert = BertModel(BertConfig(**BERT), add_pooling_layer=True)
    with torch.no_grad():   # visible weights everywhere (HF's init zeroes biases)
        for p in bert.parameters():
            p.copy_(torch.randn(p.shape) * 0.2)
    save_file({k: v.contiguous() for k, v in bert.state_dict().items()},
              f"{model_dir}/model.safetensors")
    shutil.copy(os.path.join(HERE, "tokenizer/bert_uncased_vocab.txt"), f"{model_dir}/vocab.txt")
    with open(f"{wordnet}/data.noun", "w") as f:
        for i in range(60):
            text = "a small dog that barks" if i % 2 else "a sweet dish of rice"
            f.write(f"{1000 + i:08d} {'05' if i % 2 else '13'} n 01 word{i} 0 000 | {text} number {i}\n")
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(1000, 30000, (3, 10), generator=g)
    mask = torch.ones(3, 10, dtype=torch.int64)
    mask[1, 7:] = 0
    mask[2, 4:] = 0
    save_file({"input_ids": ids, "attention_mask": mask,
               "token_type_ids": torch.zeros(3, 10, dtype=torch.int64),
               "labels": torch.tensor([0, 5, 3])}, f"{work}/bert_batch.safetensors")
    for method, flags in METHODS.items():
        out = f"{work}/bert-{method}"
        shutil.rmtree(out, ignore_errors=True)
        run(f"./train_text --task wordnet-nouns --data-dir {wordnet} --weights {model_dir} {flags} "
            f"--epochs 1 --batch-size 8 --max-len 16 --backbone-lr 0.05 --threads 1 --quiet "
            f"--out {out}")
        run(f"./text_step --config {model_dir}/config.json --weights {model_dir}/model.safetensors "
            f"--num-labels {num_labels(out)} --adapter {out}/peft --batch {work}/bert_batch.safetensors "
            f"--out {out}/ours.safetensors --threads 1")


def num_labels(out):
    """The classifier's outputs in a run's peft/ (WordNet's 26 noun supersenses)."""
    from safetensors import safe_open
    with safe_open(f"{out}/peft/adapter_model.safetensors", "pt") as f:
        return f.get_slice("base_model.model.classifier.weight").get_shape()[0]


# ---- loading with one peft release (a child process) ----

def peft_logits(model, directory, inputs):
    import torch
    from peft import PeftModel
    peft_model = PeftModel.from_pretrained(model, directory).eval()
    with torch.no_grad():
        return peft_model(**inputs).logits.double()


def check_one(kind, method, work):
    """'ok 1.2e-07', 'MISMATCH 3.9e-03', or why peft refused (and the result without
    peft_version when that was the reason)."""
    import torch
    from safetensors.torch import load_file
    out = f"{work}/{kind}-{method}"
    ours = load_file(f"{out}/ours.safetensors")["logits"].double()
    if kind == "vit":
        import peft_reference as R
        base = load_file(f"{work}/vit_base.safetensors")
        make = lambda: R.base_model(base)
        batch = load_file(f"{work}/vit_batch.safetensors")
        inputs = {"pixel_values": batch["pixel_values"]}
    else:
        from transformers import BertConfig, BertForSequenceClassification
        weights = {"bert." + k: v for k, v in load_file(f"{work}/bert/model.safetensors").items()}

        def make():
            m = BertForSequenceClassification(BertConfig(
                **BERT, num_labels=num_labels(out), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                attn_implementation="eager"))
            missing, unexpected = m.load_state_dict(weights, strict=False)
            assert not unexpected and all(k.startswith("classifier.") for k in missing), missing
            return m.eval()
        batch = load_file(f"{work}/bert_batch.safetensors")
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}

    def verdict(theirs):
        err = (theirs - ours).abs().max().item() / ours.abs().max().item()
        return f"{'ok' if err < TOLERANCE else 'MISMATCH'} {err:.1e}"
    try:
        return verdict(peft_logits(make(), f"{out}/peft", inputs))
    except Exception as e:   # noqa: BLE001 (the reason is the result)
        reason = f"{type(e).__name__}: {str(e).splitlines()[0][:90]}"
    if "peft_version" not in reason:
        return "refused (" + reason + ")"
    stripped = f"{out}/peft-without-version"
    shutil.rmtree(stripped, ignore_errors=True)
    shutil.copytree(f"{out}/peft", stripped)
    with open(f"{stripped}/adapter_config.json") as f:
        config = json.load(f)
    del config["peft_version"]
    with open(f"{stripped}/adapter_config.json", "w") as f:
        json.dump(config, f)
    try:
        return "refuses peft_version; without it " + verdict(peft_logits(make(), stripped, inputs))
    except Exception as e:   # noqa: BLE001
        return f"refused ({type(e).__name__}: {str(e).splitlines()[0][:90]})"


def load_all(work):
    warnings.simplefilter("ignore")
    import peft
    import transformers
    rows = {f"{kind}-{m}": check_one(kind, m, work) for kind in ("vit", "bert") for m in METHODS}
    print(json.dumps({"peft": peft.__version__, "transformers": transformers.__version__,
                      "results": rows}))


# ---- the driver ----

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", required=True, help="scratch directory (exports, peft releases)")
    p.add_argument("--versions", nargs="+",
                   default=["0.13.2", "0.14.0", "0.15.2", "0.17.1", "0.18.0", "0.22.0"])
    p.add_argument("--load", action="store_true", help=argparse.SUPPRESS)   # the child's mode
    a = p.parse_args()
    if a.load:
        load_all(a.work)
        return 0
    os.makedirs(a.work, exist_ok=True)
    export_vit(a.work)
    export_bert(a.work)
    table = {}
    for version in a.versions:
        target = f"{a.work}/peft-{version}"
        if not os.path.isdir(f"{target}/peft"):
            run(f"{sys.executable} -m pip install -q --no-deps --target {target} peft=={version}")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [target, HERE] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]))
        done = subprocess.run([sys.executable, __file__, "--work", a.work, "--load"], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"peft {version}: {done.stderr[-2000:]}")
        table[version] = json.loads(done.stdout.strip().splitlines()[-1])
    versions = list(table)
    print("| export | " + " | ".join(f"peft {table[v]['peft']}" for v in versions) + " |")
    print("|---|" + "---|" * len(versions))
    for row in table[versions[0]]["results"]:
        print(f"| {row} | " + " | ".join(table[v]["results"][row] for v in versions) + " |")
    print(f"(transformers {table[versions[0]]['transformers']}; max |peft's logits - ours| / "
          f"max |ours|, ok below {TOLERANCE:g})")
    bad = any("MISMATCH" in r for v in versions for r in table[v]["results"].values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
