#include "data/load_dataset.h"

#include <filesystem>
#include <sstream>

#include "data/idx.h"
#include "data/image_folder.h"
#include "tensor/check.h"

namespace fs = std::filesystem;

namespace neat {

namespace {

// The command that fetches a dataset into data_dir (the script's default is ./data).
std::string fetch_hint(const std::string& name, const std::string& data_dir) {
  std::string command = "scripts/get_data.sh " + name;
  if (fs::path(data_dir).lexically_normal() != fs::path("data")) command += " " + data_dir;
  return "fetch it with: " + command;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

std::string holdout_note(const DataSpec& spec) {
  std::ostringstream note;
  note << " (" << spec.val_fraction * 100 << "% of train held out, seed " << spec.seed << ")";
  return note.str();
}

// ": train N, val M<val_note>, test K<test_note>"
std::string sizes(const DataSplits& s, const std::string& val_note, const std::string& test_note) {
  return ": train " + std::to_string(s.train->size()) + ", val " + std::to_string(s.val->size()) + val_note +
         ", test " + std::to_string(s.test->size()) + test_note;
}

// train / val by holding out spec.val_fraction of `pool`.
void hold_out(const DataSpec& spec, std::shared_ptr<const Dataset> pool, DataSplits& splits) {
  Holdout h = holdout_split(pool->size(), spec.val_fraction, spec.seed);
  splits.train = std::make_shared<SubsetDataset>(pool, std::move(h.kept));
  splits.val = std::make_shared<SubsetDataset>(pool, std::move(h.held_out));
}

DataSplits load_cifar10(const DataSpec& spec) {
  const std::string dir = (fs::path(spec.data_dir) / "cifar-10-batches-bin").string();
  std::vector<std::string> train_files;
  for (int b = 1; b <= 5; ++b) train_files.push_back(dir + "/data_batch_" + std::to_string(b) + ".bin");
  for (const std::string& f : train_files)
    NEAT_CHECK(fs::exists(f), "cifar10: cannot find ", f, " (looked in ", dir, "; --data-dir is ",
               spec.data_dir, "); ", fetch_hint("cifar10", spec.data_dir));
  std::vector<std::string> names = read_class_names(dir + "/batches.meta.txt", 10);
  DataSplits splits;
  hold_out(spec, read_cifar10(train_files, names), splits);
  splits.test = read_cifar10({dir + "/test_batch.bin"}, names);
  splits.summary = "cifar10 (" + dir + ")" + sizes(splits, holdout_note(spec), "");
  return splits;
}

DataSplits load_cifar100(const DataSpec& spec) {
  const std::string dir = (fs::path(spec.data_dir) / "cifar-100-binary").string();
  NEAT_CHECK(fs::exists(dir + "/train.bin"), "cifar100: cannot find ", dir, "/train.bin (looked in ", dir,
             "; --data-dir is ", spec.data_dir, "); ", fetch_hint("cifar100", spec.data_dir));
  bool fine = spec.cifar100_labels == CifarLabels::Fine;
  std::vector<std::string> names =
      read_class_names(dir + (fine ? "/fine_label_names.txt" : "/coarse_label_names.txt"), fine ? 100 : 20);
  DataSplits splits;
  hold_out(spec, read_cifar100(dir + "/train.bin", spec.cifar100_labels, names), splits);
  splits.test = read_cifar100(dir + "/test.bin", spec.cifar100_labels, names);
  splits.summary = std::string("cifar100, ") + (fine ? "fine" : "coarse") + " labels (" + dir + ")" +
                   sizes(splits, holdout_note(spec), "");
  return splits;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return names;
}

// "<dir>/<stem>.gz" if present, else "<dir>/<stem>", else "".
std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const std::string& candidate : {dir + "/" + stem + ".gz", dir + "/" + stem})
    if (fs::exists(candidate)) return candidate;
  return "";
}

DataSplits load_fashion_mnist(const DataSpec& spec) {
  std::vector<std::string> searched;
  for (const std::string& dir : {spec.data_dir, (fs::path(spec.data_dir) / "fashion-mnist").string(),
                                 std::string("data/fashion-mnist"), std::string("/usr/share/datasets/fashion-mnist")}) {
    bool seen = false;
    for (const std::string& s : searched) seen = seen || fs::path(s).lexically_normal() == fs::path(dir).lexically_normal();
    if (seen) continue;
    searched.push_back(dir);
    if (find_idx(dir, "train-images-idx3-ubyte").empty()) continue;
    auto path = [&](const char* stem) {
      std::string p = find_idx(dir, stem);
      NEAT_CHECK(!p.empty(), "fashion-mnist: ", dir, " has train-images-idx3-ubyte but no ", stem, "[.gz]; ",
                 fetch_hint("fashion-mnist", spec.data_dir));
      return p;
    };
    DataSplits splits;
    hold_out(spec, read_idx_dataset(path("train-images-idx3-ubyte"), path("train-labels-idx1-ubyte"),
                                    fashion_mnist_classes()),
             splits);
    splits.test = read_idx_dataset(path("t10k-images-idx3-ubyte"), path("t10k-labels-idx1-ubyte"),
                                   fashion_mnist_classes());
    splits.summary = "fashion-mnist (" + dir + ")" + sizes(splits, holdout_note(spec), "");
    return splits;
  }
  NEAT_CHECK(false, "fashion-mnist: no train-images-idx3-ubyte[.gz] in ", join(searched, ", "), "; ",
             fetch_hint("fashion-mnist", spec.data_dir), " (or: apt-get install dataset-fashion-mnist)");
  return {};
}

DataSplits load_synthetic(const DataSpec& spec) {
  DataSplits splits;
  hold_out(spec, make_synthetic(spec.synthetic, spec.synthetic.n_train, spec.seed, 0), splits);
  splits.test = make_synthetic(spec.synthetic, spec.synthetic.n_test, spec.seed, 1);
  const SyntheticSpec& s = spec.synthetic;
  std::ostringstream summary;
  summary << "synthetic (" << s.num_classes << " classes, " << s.channels << "x" << s.image_size << "x"
          << s.image_size << ", seed " << spec.seed << ")";
  splits.summary = summary.str() + sizes(splits, holdout_note(spec), "");
  return splits;
}

DataSplits load_folder(const DataSpec& spec, const std::string& root) {
  NEAT_CHECK(fs::is_directory(root), "folder: ", root, " is not a directory (expected root/<class>/<image>, ",
             "or root/train/<class>/<image> with optional val/ and test/)");
  const bool has_train = fs::is_directory(fs::path(root) / "train");
  const std::string train_dir = has_train ? (fs::path(root) / "train").string() : root;
  auto train = std::make_shared<ImageFolder>(train_dir, spec.folder_cache_bytes);
  DataSplits splits;
  std::string val_note;
  const std::string val_dir = (fs::path(root) / "val").string();
  if (has_train && fs::is_directory(val_dir)) {
    splits.train = train;
    splits.val = std::make_shared<ImageFolder>(val_dir, spec.folder_cache_bytes, train->class_names());
    val_note = " (" + val_dir + ")";
  } else {
    hold_out(spec, train, splits);
    val_note = holdout_note(spec);
  }
  const std::string test_dir = (fs::path(root) / "test").string();
  const bool has_test = has_train && fs::is_directory(test_dir);
  splits.test = has_test ? std::make_shared<ImageFolder>(test_dir, spec.folder_cache_bytes, train->class_names())
                         : splits.val;
  splits.summary = "folder " + train_dir + sizes(splits, val_note, has_test ? " (" + test_dir + ")" : " (= val: no test/ folder)");
  // Every header now, so a bad file in val/ or test/ is not found after a training epoch.
  train->check_headers();
  for (const std::shared_ptr<const Dataset>& split : {splits.val, splits.test})
    if (auto folder = std::dynamic_pointer_cast<const ImageFolder>(split); folder && folder != train)
      folder->check_headers();
  return splits;
}

}  // namespace

DataSplits load_dataset(const DataSpec& spec) {
  DataSplits splits;
  const std::string folder_prefix = "folder:";
  if (spec.name == "cifar10") splits = load_cifar10(spec);
  else if (spec.name == "cifar100") splits = load_cifar100(spec);
  else if (spec.name == "fashion-mnist") splits = load_fashion_mnist(spec);
  else if (spec.name == "synthetic") splits = load_synthetic(spec);
  else if (spec.name.rfind(folder_prefix, 0) == 0) splits = load_folder(spec, spec.name.substr(folder_prefix.size()));
  else NEAT_CHECK(false, "data: unknown dataset '", spec.name, "' (cifar10, cifar100, fashion-mnist, synthetic, folder:PATH)");

  splits.class_names = splits.train->class_names();
  if (!spec.classes.empty()) {
    std::vector<int64_t> keep = parse_class_subset(spec.classes, int64_t(splits.class_names.size()));
    const bool test_is_val = splits.test == splits.val;
    splits.train = select_classes(splits.train, keep);
    splits.val = select_classes(splits.val, keep);
    splits.test = test_is_val ? splits.val : select_classes(splits.test, keep);
    splits.class_names = splits.train->class_names();
    splits.summary += "; classes " + spec.classes + " (relabelled 0.." + std::to_string(keep.size() - 1) + ")" +
                      sizes(splits, "", "");
  }
  return splits;
}

}  // namespace neat
