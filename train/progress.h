// Progress display: a bar redrawn in place on a terminal, plain lines every N steps when the
// output is a file or a pipe, nothing with --quiet. The programs give it stderr, so stdout
// holds only the final result.
//
//   Progress progress(std::cerr, stderr_is_terminal(), /*quiet=*/false, /*log_every=*/50);
//   progress.step({epoch, epochs, step, steps, loss, acc, images_per_second, eta_seconds});
//   progress.line("epoch 1: val accuracy 0.912");   // clears the bar first
//   progress.eval("test", 3, 40);                    // batches evaluated of how many
//   progress.warning("--lora-r does not apply to --method neat");   // even with quiet
//   progress.requested(profile_report());            // asked for by a flag: even with quiet
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

namespace neat {

struct ProgressState {
  int64_t epoch = 0, epochs = 0;   // 1-based epoch of how many
  int64_t step = 0, steps = 0;     // optimizer steps done of the run's total
  double loss = 0, acc = 0;        // running means over the current epoch
  double images_per_second = 0;
  double eta_seconds = 0;
  double gpu_gib = -1;             // peak GPU memory of the run's tensors; < 0 on the CPU
};

class Progress {
 public:
  Progress(std::ostream& os, bool terminal, bool quiet, int64_t log_every);
  ~Progress();
  // Redraws the bar (terminal; at most 10 times a second) or prints a line when step is a
  // multiple of log_every or the last.
  void step(const ProgressState& state);
  // A message on its own line (not shown with quiet).
  void line(const std::string& text);
  // "warning: <text>" on its own line, shown even with quiet.
  void warning(const std::string& text);
  // Lines a flag asked for (--profile's report), shown even with quiet.
  void requested(const std::string& text);
  // Evaluation progress ("val 12/40 batches"): a bar on a terminal (at most 10 redraws a second),
  // a line every log_every batches and at the end otherwise, nothing with quiet.
  void eval(const std::string& what, int64_t done, int64_t total);
  // Ends the bar's line, if one is drawn.
  void finish();
  // Steps between plain log lines (the trainer reads the GPU's deferred checks as often).
  int64_t log_every() const { return log_every_; }

 private:
  std::ostream& os_;
  bool terminal_, quiet_;
  int64_t log_every_;
  bool bar_drawn_ = false;
  double last_draw_ = -1;   // now_seconds() of the last redraw
};

}  // namespace neat
