// Step profile: where a training step's time goes, by op and by category. Off by default; when
// off each hook costs one thread-local pointer test. Only the thread that called profile_start
// is profiled (the compute thread; loader threads are not counted).
//
//   profile_start();                 // this thread records from now on
//   for (...) {
//     profile_step_begin();
//     forward ... loss.backward(); optimizer.step();
//     profile_step_end();
//   }
//   std::fputs(profile_report().c_str(), stdout);   // per op (forward / backward), per category
//   profile_stop();
//
// What records time, and where:
//   forward   autograd's record() calls profile_forward_op(name): the time since the previous
//             mark (the op's raw kernels, and any glue since the op before) goes to the op.
//   backward  the engine wraps each Node's backward in a ProfileScope(Backward, name), and the
//             summing of gradients that meet at a node in ("grad accumulation").
//   optimizer AdamW::step / zero_grad / clip_grad_norm each in a ProfileScope(Optimizer, ...).
//   allocation Storage's allocate / release (tensor.cpp) add their time and count here; that
//             time is taken out of the op that allocated, and shown as its own category. Page
//             faults on first touch of fresh memory are not in it (they land in the kernel
//             that writes first): the report gives the step's minor page faults beside it.
//   kernels  tensor/dispatch.h wraps each raw op's kernel in a KernelTimer: a second table, by
//             raw op ("matmul", "softmax", "permute", ...), splits the ops above (inside
//             attention: its GEMMs and its softmax) without changing their figures.
// Time spent in a step that none of these saw is shown as "other" (engine bookkeeping).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace neat {

enum class ProfilePhase { Forward, Backward, Optimizer };

struct Profiler;
namespace profile_detail {
extern thread_local Profiler* active;   // null when this thread is not profiled
void forward_op(Profiler& p, const char* op);
void scope_begin(Profiler& p);
void scope_end(Profiler& p, ProfilePhase phase, const char* op);
void allocation(Profiler& p, int64_t ns, size_t bytes, bool is_release);
void kernel(Profiler& p, const char* op, int64_t ns);
int64_t now_ns();
}  // namespace profile_detail

void profile_start();   // clears the figures; this thread records from now on
void profile_stop();    // this thread stops recording (figures kept for profile_report)
bool profile_enabled();
void profile_step_begin();
void profile_step_end();
// The tables: per category and per op, ms per step and share of the step.
std::string profile_report();

// The forward of one op ended (called by record()): time since the last mark is the op's.
inline void profile_forward_op(const char* op) {
  if (profile_detail::active) profile_detail::forward_op(*profile_detail::active, op);
}

// Times one backward Node, an optimizer call, or another named piece of a step.
class ProfileScope {
 public:
  ProfileScope(ProfilePhase phase, const char* op) : phase_(phase), op_(op) {
    if (profile_detail::active) profile_detail::scope_begin(*profile_detail::active);
  }
  ~ProfileScope() {
    if (profile_detail::active) profile_detail::scope_end(*profile_detail::active, phase_, op_);
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  ProfilePhase phase_;
  const char* op_;
};

// Wraps one allocation or release of tensor memory.
class AllocationTimer {
 public:
  AllocationTimer(size_t bytes, bool is_release) : bytes_(bytes), is_release_(is_release) {
    if (profile_detail::active) start_ = profile_detail::now_ns();
  }
  ~AllocationTimer() {
    if (profile_detail::active)
      profile_detail::allocation(*profile_detail::active, profile_detail::now_ns() - start_,
                                 bytes_, is_release_);
  }
  AllocationTimer(const AllocationTimer&) = delete;
  AllocationTimer& operator=(const AllocationTimer&) = delete;

 private:
  size_t bytes_;
  bool is_release_;
  int64_t start_ = 0;
};

// Wraps one raw op's kernel (tensor/dispatch.h): the "by kernel" table.
class KernelTimer {
 public:
  explicit KernelTimer(const char* op) : op_(op) {
    if (profile_detail::active) start_ = profile_detail::now_ns();
  }
  ~KernelTimer() {
    if (profile_detail::active)
      profile_detail::kernel(*profile_detail::active, op_, profile_detail::now_ns() - start_);
  }
  KernelTimer(const KernelTimer&) = delete;
  KernelTimer& operator=(const KernelTimer&) = delete;

 private:
  const char* op_;
  int64_t start_ = 0;
};

}  // namespace neat
