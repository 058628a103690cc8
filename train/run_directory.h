// A run's output directory: one run writes it at a time, and a run never mixes its files with
// another's.
//
//   std::string dir = create_unique_directory("runs/neat-cifar10-20240131-142501");
//                                      // that name, or "...-2", "-3", ...: mkdir decides, so two
//                                      // runs started in the same second get different ones
//   RunLock lock(dir);                 // flock on dir/.lock; error naming the pid that holds it
//   remove_stale_temp_files(dir);      // "*.tmp.<pid>" left by processes that no longer exist
//
// A directory "holds a run" when it has any of kRunFiles; a training program refuses such an
// --out unless it is resumed (--resume) or replaced (--overwrite, which removes them all first,
// peft/ included). run_program_of names the program that wrote a run, for those messages.
#pragma once
#include <string>
#include <vector>

namespace neat {

// The files and folders a run writes (train/train_vit_app.h lists what each holds).
extern const std::vector<std::string> kRunFiles;

// Creates `base` if it does not exist, else the first of base-2, base-3, ... that does not
// (each attempt an atomic mkdir), and returns the one it created. Parents are created.
std::string create_unique_directory(const std::string& base);

// The run files present in dir (names from kRunFiles), empty when none.
std::vector<std::string> run_files_in(const std::string& dir);
// Removes dir's run files and folders; an error names one that cannot be removed.
void remove_run_files(const std::string& dir);
// The program that wrote the run in dir ("train_vit", "train_text"): the "program" its
// checkpoint or results.json records, else (runs written before they recorded it) told by
// their flags (a --task flag: train_text); "" when dir holds no readable run.
std::string run_program_of(const std::string& dir);

// Removes "<name>.tmp.<pid>" files in dir whose process is gone (kill -9 during an atomic write);
// returns how many. Files of a live process are kept.
int remove_stale_temp_files(const std::string& dir);

// An exclusive lock on a run directory for the object's lifetime: dir/.lock holds the pid of
// the locking process; a second RunLock on the same directory, from this process or another,
// is an error naming that pid.
class RunLock {
 public:
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace neat
