#include "train/progress.h"

#include <cstdio>

#include "train/system.h"

namespace neat {

Progress::Progress(std::ostream& os, bool terminal, bool quiet, int64_t log_every)
    : os_(os), terminal_(terminal), quiet_(quiet), log_every_(log_every < 1 ? 1 : log_every) {}

Progress::~Progress() { finish(); }

void Progress::step(const ProgressState& s) {
  if (quiet_) return;
  if (terminal_) {
    const double now = now_seconds();
    if (now - last_draw_ < 0.1 && s.step != s.steps) return;
    last_draw_ = now;
  }
  char stats[200];
  char gpu[40] = "";
  if (s.gpu_gib >= 0) std::snprintf(gpu, sizeof gpu, "  GPU %.2f GiB", s.gpu_gib);
  std::snprintf(stats, sizeof stats, "loss %.4f  acc %5.1f%%  %.0f img/s%s  ETA %s", s.loss,
                100.0 * s.acc, s.images_per_second, gpu, format_duration(s.eta_seconds).c_str());
  const std::string where = "epoch " + std::to_string(s.epoch) + "/" + std::to_string(s.epochs);
  const std::string count = std::to_string(s.step) + "/" + std::to_string(s.steps);
  if (terminal_) {
    const int64_t width = 24;
    const int64_t filled = s.steps > 0 ? width * s.step / s.steps : 0;
    const std::string bar = std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.');
    os_ << "\r\033[K" << where << " [" << bar << "] " << count << "  " << stats << std::flush;
    bar_drawn_ = true;
  } else if (s.step % log_every_ == 0 || s.step == s.steps) {
    os_ << where << "  step " << count << "  " << stats << "\n" << std::flush;
  }
}

void Progress::line(const std::string& text) {
  if (quiet_) return;
  finish();
  os_ << text << "\n" << std::flush;
}

void Progress::warning(const std::string& text) {
  finish();
  os_ << "warning: " << text << "\n" << std::flush;
}

void Progress::requested(const std::string& text) {
  finish();
  os_ << text << std::flush;
}

void Progress::eval(const std::string& what, int64_t done, int64_t total) {
  if (quiet_) return;
  const std::string text = what + " " + std::to_string(done) + "/" + std::to_string(total) + " batches";
  if (terminal_) {
    const double now = now_seconds();
    if (now - last_draw_ < 0.1 && done != total) return;
    last_draw_ = now;
    os_ << "\r\033[K" << text << std::flush;
    bar_drawn_ = true;
    if (done == total) finish();
  } else if (done % log_every_ == 0 || done == total) {
    os_ << text << "\n" << std::flush;
  }
}

void Progress::finish() {
  if (!bar_drawn_) return;
  os_ << "\n" << std::flush;
  bar_drawn_ = false;
}

}  // namespace neat
