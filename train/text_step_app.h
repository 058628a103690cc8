// The text_step program as a function (tests run it in-process): vit_step's twin for the
// text encoders. One forward and backward of a BERT / RoBERTa classifier with a fine-tuning
// method attached, in eval mode (no dropout), on a batch from a file, writing the logits, the
// loss and every trainable parameter's gradient, so the engine can be checked against any
// framework:
//
//   text_step --config config.json --weights model.safetensors --method neat --neat-rank 4
//             --batch batch.safetensors --dtype f64 --out step.safetensors
//
//   config.json:        a Hugging Face config (model_type bert or roberta)
//   batch.safetensors:  input_ids int64 [B, N], labels int64 [B], and optionally
//                       attention_mask [B, N] (1 token, 0 padding) and token_type_ids [B, N]
//   step.safetensors:   logits [B, labels], loss [] and grad.<name> per trainable parameter
//
// --num-labels defaults to the config's. --weights holds HF names (with or without the
// "bert." / "roberta." prefix); parameters absent from it and --adapter keep their seeded init.
// --adapter: an adapter file train_text wrote or peft's directory (its config gives the method
// and its settings, given method flags must agree; loaded whole) or any subset of the
// trainable tensors by name. Exit codes: 0 done, 1 an error (one
// line), 2 a bad command line.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace neat {

int text_step_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err);

}  // namespace neat
