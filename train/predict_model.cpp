#include "train/predict_model.h"

#include <filesystem>

#include "tensor/safetensors.h"
#include "train/run_support.h"
#include "train/system.h"

namespace neat {

namespace {

std::string folder_of(const std::string& path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// The classes a config.json names: id2label's values by index ("0", "1", ...), each index
// present once; or a regression (num_labels 1 / problem_type regression). False: it names none.
bool read_classes(const Json& config, const std::string& path, PredictModel& model) {
  const bool regression =
      (config.contains("problem_type") && config["problem_type"].is_string() &&
       config["problem_type"].as_string() == "regression") ||
      (!config.contains("id2label") && config.contains("num_labels") &&
       config["num_labels"].as_int() == 1);
  if (regression) {
    model.regression = true;
    return true;
  }
  if (!config.contains("id2label")) return false;
  const Json& labels = config["id2label"];
  NEAT_CHECK(labels.is_object() && labels.size() >= 1, path,
             ": id2label must be an object of class names by index");
  model.class_names.assign(labels.size(), "");
  for (const auto& [key, name] : labels.as_object()) {
    size_t used = 0;
    int64_t index = -1;
    try {
      index = std::stoll(key, &used);
    } catch (const std::exception&) {
    }
    NEAT_CHECK(used == key.size() && index >= 0 && index < int64_t(labels.size()) &&
                   model.class_names[size_t(index)].empty() && name.is_string(),
               path, ": id2label key '", key, "' is not one of 0..", labels.size() - 1,
               " naming a class once");
    model.class_names[size_t(index)] = name.as_string();
  }
  return true;
}

}  // namespace

bool adapter_has_classifier(const std::string& adapter) {
  const std::string file =
      is_directory(adapter) ? join_path(adapter, "adapter_model.safetensors") : adapter;
  for (const auto& named : read_safetensors(file).tensors)
    if (named.first.find("classifier") != std::string::npos) return true;
  return false;
}

std::string absolute_path(const std::string& path) {
  if (path.empty()) return path;
  return std::filesystem::absolute(path).lexically_normal().string();
}

PredictModel find_predict_model(const TrainOptions& t) {
  std::vector<std::string> folders;
  std::string looked;
  if (!t.resume.empty()) {
    folders = {t.resume};
  } else {
    if (!t.adapter.empty()) {
      if (is_directory(t.adapter)) folders = {t.adapter, folder_of(t.adapter)};
      else folders = {folder_of(t.adapter)};
    }
    if (!t.weights.empty()) folders.push_back(is_directory(t.weights) ? t.weights : folder_of(t.weights));
  }
  for (const std::string& folder : folders) {
    const std::string path = join_path(folder, "config.json");
    looked += (looked.empty() ? "" : ", ") + path;
    if (!file_exists(path)) continue;
    PredictModel model;
    model.path = path;
    try {
      model.config = Json::parse(read_file(path));
    } catch (const std::runtime_error& e) {
      NEAT_CHECK(false, path, ": ", e.what());
    }
    NEAT_CHECK(model.config.is_object(), path, ": not a JSON object");
    if (read_classes(model.config, path, model)) return model;
  }
  NEAT_CHECK(false, "--predict: no config.json naming the model's classes (id2label) in ", looked,
             t.resume.empty() ? "; predict with a finished run (--resume DIR) or a merged model "
                                "directory (--weights DIR, written by --merge)"
                              : "; a run writes it when it ends: finish the run first (--resume " +
                                    t.resume + " without --predict)");
}

}  // namespace neat
