// The vit_step program as a function (tests run it in-process): one forward and backward of a
// ViT with a fine-tuning method attached, in eval mode (no dropout), on a batch from a file,
// writing the logits, the loss and every trainable parameter's gradient. It is how anyone can
// check this engine against their own framework (tests/parity/check_vit_step.py does it for
// PyTorch, in float64):
//
//   vit_step --model custom --dim 32 --depth 2 --heads 4 --patch 4 --num-classes 10
//            --method neat --neat-rank 4 --weights base.safetensors --adapter adapter.safetensors
//            --batch batch.safetensors --dtype f64 --out step.safetensors
//
//   batch.safetensors:  pixel_values float32 [B, C, H, W], labels int64 [B]
//   step.safetensors:   logits [B, classes], loss [] and grad.<name> per trainable parameter,
//                       in --dtype (names as in nn/peft/adapter_file.h)
//
// --image-size and --channels default to the batch's; --num-classes to the classifier in
// --weights or --adapter. Parameters absent from --weights / --adapter keep their seeded init
// (Neat and LoRA: B = 0, A kaiming-uniform). The model takes --dtype before any file is read
// into it, so float64 files keep every digit. An adapter file train_vit wrote (metadata
// "format": "neat-adapter") or peft's directory (adapter_config.json + adapter_model.safetensors)
// gives the method and its settings (method flags that are given must agree) and is loaded
// whole; a plain file of tensors (e.g. from PyTorch) may hold any subset of the trainable ones.
// Exit codes as train_vit: 0 done, 1 an error (one line), 2 a bad command line.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace neat {

int vit_step_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err);

}  // namespace neat
