// Small facts about the process and the file system that the training program needs:
// atomic file writes, directories, peak memory, whether stderr is a terminal, the time.
//
//   write_file_atomic("runs/x/results.json", text);   // readers see the old file or the new one
//   peak_rss_bytes();                                  // getrusage's ru_maxrss, in bytes
#pragma once
#include <cstdint>
#include <string>

#include "tensor/files.h"   // read_file, file_exists

namespace neat {

// Writes "<path>.tmp.<pid>", flushes it, then renames it over path. Errors name the path.
void write_file_atomic(const std::string& path, const std::string& bytes);
bool is_directory(const std::string& path);
// mkdir -p; error naming the path when it cannot be created.
void make_directories(const std::string& path);

// SIGINT and SIGTERM set a flag instead of killing the process (a second one kills it):
// the training loop polls stop_signal() and saves a checkpoint before it exits.
void install_stop_handlers();
int stop_signal();   // the signal received, 0 if none
void clear_stop_signal();

// Sets the compute threads (OpenMP) for its lifetime when threads > 0; restores them after.
class ScopedThreads {
 public:
  explicit ScopedThreads(int64_t threads);
  ~ScopedThreads();
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  [[maybe_unused]] int previous_ = 0;   // unused without OpenMP
};

// OpenMP's idle threads spin at each fork-join barrier by default (libgomp: 300,000 spins
// before they sleep). When another process holds one of the cores, the thread a barrier waits
// for is descheduled while the spinning one burns the time it needs: 2 threads then run several
// times slower than 1 (docs/performance.md). Passive waiting (a futex sleep) keeps 2 threads
// ahead of 1 on a busy machine. libgomp reads OMP_WAIT_POLICY once, when it is loaded, so this
// sets it and re-executes the program (argv as main got it) when neither OMP_WAIT_POLICY nor
// GOMP_SPINCOUNT is set; a user's own setting is kept. Call it first thing in main.
void use_passive_openmp_wait(char** argv);

int64_t peak_rss_bytes();
int64_t physical_memory_bytes();   // the machine's RAM (sysconf)
bool stderr_is_terminal();
// Local time as "20240131-142501" (for default run directory names).
std::string timestamp();
// Seconds on a monotonic clock.
double now_seconds();
// "1h02m", "3m05s", "42s".
std::string format_duration(double seconds);
// The local clock time `seconds` from now: "14:25", or "Tue 09:40" when not today.
std::string clock_time_after(double seconds);

}  // namespace neat
