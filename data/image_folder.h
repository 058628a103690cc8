// Image folders: root/<class>/<image>, like torchvision's ImageFolder. Classes are the
// subfolders sorted by name; images (png, jpg, jpeg, bmp, gif, tga, ppm, pgm, pnm; any case) are
// sorted by file name within a class; other files and hidden entries are skipped. Images are
// decoded lazily, as RGB (PIL's convert("RGB")), when a sample is first asked for, and kept in
// a least-recently-used cache bounded in bytes, so a folder larger than memory still works.
// A val/ or test/ folder is read with the train folder's class list, so labels agree.
#pragma once
#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/dataset.h"

namespace neat {

// The image files under dir, at any depth, sorted by path (the extensions above; hidden entries
// skipped): what `train_vit --predict DIR` classifies.
std::vector<std::string> image_files_under(const std::string& dir);

// Least-recently-used cache of decoded images, bounded in bytes; safe across threads.
class ImageCache {
 public:
  explicit ImageCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  std::shared_ptr<const Image> find(int64_t key);   // null when absent; marks it most recent
  // Inserts (or replaces) and evicts the least recently used images beyond max_bytes. An image
  // larger than max_bytes on its own is not kept.
  void insert(int64_t key, std::shared_ptr<const Image> image);
  size_t bytes() const;
  size_t max_bytes() const { return max_bytes_; }

 private:
  using Order = std::list<int64_t>;   // most recent first
  struct Slot {
    std::shared_ptr<const Image> image;
    Order::iterator position;
  };
  mutable std::mutex mutex_;
  size_t max_bytes_, bytes_ = 0;
  Order order_;
  std::unordered_map<int64_t, Slot> slots_;
};

class ImageFolder : public Dataset {
 public:
  // classes empty: every subfolder of root is a class. Otherwise the class list to use (so a
  // val/ or test/ folder gets the train folder's labels); a subfolder not in it is an error,
  // a class without a subfolder simply has no samples here.
  ImageFolder(const std::string& root, size_t cache_bytes, std::vector<std::string> classes = {});

  int64_t size() const override { return int64_t(files_.size()); }
  Sample get(int64_t i) const override;   // "image folder: cannot decode <path>: <reason>"
  int64_t label(int64_t i) const override;
  const std::vector<std::string>& class_names() const override { return class_names_; }
  ImageShape image_shape() const override { return {3, 0, 0}; }   // RGB, sizes vary

  // Reads every file's header (size and format, no pixel decode: about a millisecond an image)
  // so a file that is not a readable image is found before training, not after an epoch. An
  // error gives how many files are bad and the first few with their reasons.
  void check_headers() const;

  const std::string& path(int64_t i) const;
  int64_t decode_count() const { return decodes_.load(); }   // images decoded so far
  const ImageCache& cache() const { return cache_; }

 private:
  struct File {
    std::string path;
    int64_t label;
  };
  std::vector<File> files_;
  std::vector<std::string> class_names_;
  mutable ImageCache cache_;
  mutable std::atomic<int64_t> decodes_{0};
};

}  // namespace neat
