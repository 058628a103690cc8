// What the run skeleton (train/run_skeleton.h) does differently on the ranks of a data-parallel
// run (`mpirun -np N train_vit ...`, docs/distributed.md): rank 0 runs as one process would and
// alone prints and writes the run's files; the other ranks print nothing and write into a
// private scratch directory; an error on any rank ends the whole job at once.
//
//   std::ostream& out = rank_zero_only(std::cout);     // ranks 1..N-1: a stream that drops all
//   return run_command(args, arguments, out, err, ending_all_ranks_on_error(name, body));
//   ScratchDirectory scratch(resume_dir);              // ranks 1..N-1: their run directory
#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace neat {

// The rank mpirun gave this process (OMPI_COMM_WORLD_RANK or PMI_RANK), 0 when none: known
// before MPI starts.
int launch_rank();
// stream on rank 0 (and in a single process), a stream that drops everything on the others.
std::ostream& rank_zero_only(std::ostream& stream);
// body, except that in a run of several ranks an exception on a rank prints
// "rank R: program: error: ..." on stderr and ends every rank (MPI_Abort; exit code 2 for a
// UsageError, else 1) instead of leaving the other ranks waiting for it.
std::function<int()> ending_all_ranks_on_error(const std::string& program,
                                               std::function<int()> body);

// The run directory of a rank other than 0: a new directory under $TMPDIR (or /tmp), removed
// with the object. When resuming, it holds a link to resume_dir's checkpoint.safetensors, so
// every rank reads the same checkpoint (on several machines, resume_dir must be on a shared
// file system).
class ScratchDirectory {
 public:
  explicit ScratchDirectory(const std::string& resume_dir);
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace neat
