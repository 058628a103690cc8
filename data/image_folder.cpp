#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "tensor/check.h"

namespace fs = std::filesystem;

namespace neat {

// ---- ImageCache --------------------------------------------------------------------------
std::shared_ptr<const Image> ImageCache::find(int64_t key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(key);
  if (it == slots_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second.position);
  return it->second.image;
}

void ImageCache::insert(int64_t key, std::shared_ptr<const Image> image) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto evict = [&](std::unordered_map<int64_t, Slot>::iterator it) {
    bytes_ -= it->second.image->pixels.size();
    order_.erase(it->second.position);
    slots_.erase(it);
  };
  auto old = slots_.find(key);
  if (old != slots_.end()) evict(old);
  if (image->pixels.size() > max_bytes_) return;
  order_.push_front(key);
  bytes_ += image->pixels.size();
  slots_[key] = Slot{std::move(image), order_.begin()};
  while (bytes_ > max_bytes_) evict(slots_.find(order_.back()));
}

size_t ImageCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

// ---- ImageFolder -------------------------------------------------------------------------
namespace {

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* known : {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".ppm", ".pgm", ".pnm"})
    if (ext == known) return true;
  return false;
}

bool is_hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

std::vector<fs::path> sorted_entries(const fs::path& dir, bool want_dirs) {
  std::vector<fs::path> entries;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (!is_hidden(e.path()) && (want_dirs ? e.is_directory() : e.is_regular_file() && is_image_file(e.path())))
      entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  return entries;
}

}  // namespace

std::vector<std::string> image_files_under(const std::string& dir) {
  NEAT_CHECK(fs::is_directory(dir), "image folder: ", dir, " is not a directory");
  std::vector<std::string> files;
  auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied);
  for (; it != fs::recursive_directory_iterator(); ++it) {
    if (is_hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && is_image_file(it->path())) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

ImageFolder::ImageFolder(const std::string& root, size_t cache_bytes, std::vector<std::string> classes)
    : class_names_(std::move(classes)), cache_(cache_bytes) {
  NEAT_CHECK(fs::is_directory(root), "image folder: ", root, " is not a directory");
  std::vector<fs::path> class_dirs = sorted_entries(root, true);
  NEAT_CHECK(!class_dirs.empty(), "image folder: ", root, " has no class subfolders (expected root/<class>/<image>)");
  bool given = !class_names_.empty();
  for (const fs::path& dir : class_dirs) {
    std::string name = dir.filename().string();
    auto known = std::find(class_names_.begin(), class_names_.end(), name);
    NEAT_CHECK(!given || known != class_names_.end(), "image folder: class folder '", name, "' in ", root,
               " is not one of the ", class_names_.size(), " training classes");
    if (!given) class_names_.push_back(name);
    int64_t label = given ? int64_t(known - class_names_.begin()) : int64_t(class_names_.size()) - 1;
    std::vector<fs::path> images = sorted_entries(dir, false);
    NEAT_CHECK(!images.empty(), "image folder: class folder ", dir.string(), " holds no image file");
    for (const fs::path& p : images) files_.push_back(File{p.string(), label});
  }
}

void ImageFolder::check_headers() const {
  const size_t shown = 3;
  std::vector<std::string> bad;
  int64_t bad_count = 0;
  for (const File& f : files_) {
    try {
      read_image_header(f.path);
    } catch (const std::runtime_error& e) {
      if (bad.size() < shown) bad.push_back(e.what());
      ++bad_count;
    }
  }
  if (bad_count == 0) return;
  std::string list;
  for (const std::string& reason : bad) list += (list.empty() ? "" : "; ") + reason;
  NEAT_CHECK(false, "image folder: ", bad_count, " of ", files_.size(), " files are not readable images",
             bad_count > int64_t(shown) ? " (the first " + std::to_string(shown) + ")" : "", ": ", list,
             ". Remove or replace them");
}

const std::string& ImageFolder::path(int64_t i) const {
  NEAT_CHECK(i >= 0 && i < size(), "ImageFolder: index ", i, " out of range for size ", size());
  return files_[i].path;
}

int64_t ImageFolder::label(int64_t i) const {
  NEAT_CHECK(i >= 0 && i < size(), "ImageFolder: index ", i, " out of range for size ", size());
  return files_[i].label;
}

Sample ImageFolder::get(int64_t i) const {
  const std::string& file = path(i);
  std::shared_ptr<const Image> image = cache_.find(i);
  if (!image) {
    // Decoded outside the cache lock, so workers decode different images in parallel.
    auto decoded = std::make_shared<Image>(decode_image(read_file_bytes(file, "image folder"), 3, file));
    ++decodes_;
    cache_.insert(i, decoded);
    image = std::move(decoded);
  }
  return Sample{*image, files_[i].label};
}

}  // namespace neat
