// The train_text program as a function, so tests can run it in-process:
//
//   std::ostringstream out, err;
//   int code = train_text_main({"--task", "wordnet-nouns", "--method", "neat"}, out, err);
//
// Like train_vit (same method, optimisation and run flags, same exit codes: 0 done, 1 an
// error, 2 a bad command line, 128 + signal when interrupted after a checkpoint) on a
// pretrained text encoder (--weights: a Hugging Face model directory, default
// data/all-MiniLM-L6-v2 from `make deps`) and a text task (--task). Output files in --out:
// results.json (test_scores with the task's metric), log.csv, curves.svg, adapter.safetensors,
// checkpoint.safetensors, config.json (the encoder's config with the task's id2label, or a
// regression's num_labels 1), and with --merge model.safetensors (HF names, adapters folded
// in) and the tokenizer's files (tokenizer_config.json's model_max_length: the run's --max-len).
// --predict reads no data: the classes come from config.json.
// GLUE tasks are scored on their dev set (the test labels are private).
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace neat {

int train_text_main(const std::vector<std::string>& arguments, std::ostream& out,
                    std::ostream& err);

}  // namespace neat
