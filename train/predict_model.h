// What --predict classifies with, found without reading any data: the config.json (Hugging
// Face's, with id2label) of a finished run or of a merged model directory. The run skeleton
// writes config.json into every finished run (TrainingProgram::model_config) and --merge writes
// model.safetensors beside it, so both kinds of directory describe their classifier alike:
//
//   PredictModel m = find_predict_model(train_options);   // --resume RUN, --adapter, --weights
//   m.config["image_size"];  m.class_names;  // {"dark", "light"}, in the classifier's order
//
// Where it looks, in order: --resume RUN: RUN/config.json (a run writes it when it ends);
// --adapter A: the folder of A's file (A itself and its parent for a peft/ directory); --weights
// W: W when a folder, else W's folder. The first config.json that names its classes (id2label, or
// a regression's num_labels 1) is the model's; none is an error saying what to predict from.
#pragma once
#include <string>
#include <vector>

#include "tensor/json.h"
#include "train/options.h"

namespace neat {

struct PredictModel {
  Json config;                            // the whole config.json (the model's sizes)
  std::string path;                       // the config.json it came from
  std::vector<std::string> class_names;   // id2label in index order; empty for a regression
  bool regression = false;                // num_labels 1 (problem_type regression)
};

PredictModel find_predict_model(const TrainOptions& options);

// Whether an --adapter (our file, or peft's directory and its adapter_model.safetensors) holds
// the classifier's weights: with it, --predict has a trained classifier.
bool adapter_has_classifier(const std::string& adapter);

// A path made absolute (lexically normal), so a value stored in a run's flags means the same
// from any working directory; "" stays "".
std::string absolute_path(const std::string& path);

}  // namespace neat
