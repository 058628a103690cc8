// The run skeleton every training program is built on (train_vit, train_text, train_lm): the program
// supplies its flags, model, data and metric (train/training_program.h); the skeleton gives
// every program the same guarantees:
//   - every flag and combination is checked before any data is read (exit 2 with the usage
//     line): --method adapter --merge, --eval-only / --predict without a model to use, ...
//   - the run directory: a new unique name by default (runs/<method>-<data>-<time>[-N]), a lock
//     while the run writes it, an --out holding a run refused (naming the program that wrote
//     it) unless --resume or --overwrite, which removes everything a run owns (peft/ included)
//   - --resume continues the program's own runs only (another program's is refused by name)
//   - the estimate is for the steps this invocation runs (--max-steps counts)
//   - a non-finite loss or weight at any step, the last included, still ends with results.json
//     (non-finite figures as null), the adapter and peft/, and an error to act on (exit 1)
//   - --predict, --eval-only (eval.json), --merge and the peft/ export
//
//   TrainVitProgram program;
//   int code = run_training_program(program, {"--data", "synthetic", "--epochs", "1"}, out, err);
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "train/training_program.h"

namespace neat {

// Exit codes: 0 done; 1 an error (one line on err; after a non-finite loss or weights the
// run's files are written first); 2 a bad command line; 128 + signal when interrupted after a
// checkpoint.
int run_training_program(TrainingProgram& program, const std::vector<std::string>& arguments,
                         std::ostream& out, std::ostream& err);

}  // namespace neat
