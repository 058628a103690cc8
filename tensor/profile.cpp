#include "tensor/profile.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

namespace neat {

namespace {

struct OpTime {
  int64_t ns = 0;
  int64_t calls = 0;
};

// One open ProfileScope: when it began, the allocation time so far, and its inner scopes' time.
struct Frame {
  int64_t start_ns = 0;
  int64_t allocation_ns_at_start = 0;
  int64_t inner_ns = 0;
};

int64_t minor_page_faults() {
  struct rusage usage;
  ::getrusage(RUSAGE_SELF, &usage);
  return int64_t(usage.ru_minflt);
}

}  // namespace

struct Profiler {
  // Keyed by the op's name pointer (names are string literals: cheap to look up); names equal
  // as strings are merged in the report.
  std::map<std::pair<const char*, ProfilePhase>, OpTime> ops;
  std::map<const char*, OpTime> kernels;   // raw ops' kernels, nested inside the ops
  std::vector<Frame> frames;       // open scopes, innermost last
  bool in_step = false;
  int64_t mark_ns = 0, allocation_ns_at_mark = 0;   // the last forward mark
  int64_t step_start_ns = 0, faults_at_step_start = 0;
  int64_t steps = 0, step_ns = 0, page_faults = 0;
  int64_t allocation_ns = 0, allocations = 0, releases = 0, allocated_bytes = 0;
};

namespace {
Profiler the_profiler;   // one: only one thread records at a time
}

namespace profile_detail {

thread_local Profiler* active = nullptr;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

static void mark(Profiler& p, int64_t now) {
  p.mark_ns = now;
  p.allocation_ns_at_mark = p.allocation_ns;
}

void forward_op(Profiler& p, const char* op) {
  if (!p.in_step || !p.frames.empty()) return;   // a backward or optimizer scope is open
  const int64_t now = now_ns();
  OpTime& t = p.ops[{op, ProfilePhase::Forward}];
  t.ns += (now - p.mark_ns) - (p.allocation_ns - p.allocation_ns_at_mark);
  t.calls += 1;
  mark(p, now);
}

void scope_begin(Profiler& p) {
  if (!p.in_step) return;
  p.frames.push_back({now_ns(), p.allocation_ns, 0});
}

// self time = elapsed - allocation inside - inner scopes (each without their allocation)
void scope_end(Profiler& p, ProfilePhase phase, const char* op) {
  if (!p.in_step || p.frames.empty()) return;
  const int64_t now = now_ns();
  const Frame f = p.frames.back();
  p.frames.pop_back();
  const int64_t outside_allocation = (now - f.start_ns) - (p.allocation_ns - f.allocation_ns_at_start);
  OpTime& t = p.ops[{op, phase}];
  t.ns += outside_allocation - f.inner_ns;
  t.calls += 1;
  if (!p.frames.empty()) p.frames.back().inner_ns += outside_allocation;
  else mark(p, now);   // the next forward op starts timing here, not at the last op
}

void allocation(Profiler& p, int64_t ns, size_t bytes, bool is_release) {
  if (!p.in_step) return;
  p.allocation_ns += ns;
  if (is_release) {
    p.releases += 1;
  } else {
    p.allocations += 1;
    p.allocated_bytes += int64_t(bytes);
  }
}

void kernel(Profiler& p, const char* op, int64_t ns) {
  if (!p.in_step) return;
  OpTime& t = p.kernels[op];
  t.ns += ns;
  t.calls += 1;
}

}  // namespace profile_detail

void profile_start() {
  the_profiler = Profiler();
  profile_detail::active = &the_profiler;
}

void profile_stop() { profile_detail::active = nullptr; }

bool profile_enabled() { return profile_detail::active != nullptr; }

void profile_step_begin() {
  Profiler* p = profile_detail::active;
  if (!p) return;
  p->in_step = true;
  p->frames.clear();
  p->step_start_ns = profile_detail::now_ns();
  p->faults_at_step_start = minor_page_faults();
  profile_detail::mark(*p, p->step_start_ns);
}

void profile_step_end() {
  Profiler* p = profile_detail::active;
  if (!p || !p->in_step) return;
  p->in_step = false;
  p->steps += 1;
  p->step_ns += profile_detail::now_ns() - p->step_start_ns;
  p->page_faults += minor_page_faults() - p->faults_at_step_start;
}

namespace {

// The categories of the report, by op name (an unknown name is "other ops").
const char* category_of(const std::string& op, ProfilePhase phase) {
  if (phase == ProfilePhase::Optimizer) return "optimizer";
  static const std::map<std::string, const char*> categories = {
      {"matmul", "GEMM"}, {"linear", "GEMM"}, {"neat_linear", "GEMM"},
      {"lora_linear", "GEMM"}, {"linear_gelu", "GEMM"}, {"linear_add", "GEMM"},
      {"scaled_dot_product_attention", "attention"}, {"packed_multi_head_attention", "attention"},
      {"flash_multi_head_attention", "attention"}, {"softmax", "attention"},
      {"layer_norm", "normalisation"},
      {"permute", "copies/permutes"}, {"transpose", "copies/permutes"},
      {"reshape", "copies/permutes"}, {"concat", "copies/permutes"},
      {"narrow", "copies/permutes"}, {"index_select", "copies/permutes"},
      {"cross_entropy", "loss"}, {"log_softmax", "loss"},
      {"add", "elementwise"}, {"sub", "elementwise"}, {"mul", "elementwise"},
      {"div", "elementwise"}, {"add_scalar", "elementwise"}, {"mul_scalar", "elementwise"},
      {"pow_scalar", "elementwise"}, {"dropout", "elementwise"}, {"neg", "elementwise"},
      {"exp", "elementwise"}, {"log", "elementwise"}, {"sqrt", "elementwise"},
      {"tanh", "elementwise"}, {"sigmoid", "elementwise"}, {"relu", "elementwise"},
      {"gelu", "elementwise"}, {"sin", "elementwise"}, {"sin2pi", "elementwise"},
      {"identity", "elementwise"}, {"sum", "elementwise"}, {"mean", "elementwise"},
      {"max", "elementwise"}, {"grad accumulation", "elementwise"}};
  auto it = categories.find(op);
  return it == categories.end() ? "other ops" : it->second;
}

struct OpRow {
  std::string name;
  const char* category = "";
  OpTime forward, backward;
  int64_t ns() const { return forward.ns + backward.ns; }
};

}  // namespace

std::string profile_report() {
  const Profiler& p = the_profiler;
  if (p.steps == 0) return "profile: no step recorded\n";
  const double steps = double(p.steps);
  const double step_ms = double(p.step_ns) * 1e-6 / steps;
  auto ms = [&](int64_t ns) { return double(ns) * 1e-6 / steps; };
  auto share = [&](int64_t ns) { return 100.0 * double(ns) / double(p.step_ns); };

  std::map<std::string, OpRow> by_name;
  std::map<std::string, int64_t> by_category;
  int64_t phase_ns[3] = {0, 0, 0}, recorded_ns = 0;
  for (const auto& [key, t] : p.ops) {
    const auto& [op, phase] = key;
    OpRow& row = by_name[op];
    row.name = op;
    row.category = category_of(op, phase);
    OpTime& slot = phase == ProfilePhase::Forward ? row.forward : row.backward;
    slot.ns += t.ns;
    slot.calls += t.calls;
    by_category[row.category] += t.ns;
    phase_ns[int(phase)] += t.ns;
    recorded_ns += t.ns;
  }
  by_category["allocation"] += p.allocation_ns;
  const int64_t other_ns = p.step_ns - recorded_ns - p.allocation_ns;
  by_category["other (engine, glue)"] += other_ns;

  std::string out;
  char line[256];
  std::snprintf(line, sizeof line,
                "profile: %lld steps, %.2f ms/step: forward %.2f, backward %.2f, optimizer %.2f, "
                "allocation %.2f, other %.2f\n",
                (long long)p.steps, step_ms, ms(phase_ns[0]), ms(phase_ns[1]), ms(phase_ns[2]),
                ms(p.allocation_ns), ms(other_ns));
  out += line;
  std::vector<std::pair<std::string, int64_t>> categories(by_category.begin(), by_category.end());
  std::sort(categories.begin(), categories.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  std::snprintf(line, sizeof line, "  %-22s %9s %7s\n", "category", "ms/step", "share");
  out += line;
  for (const auto& [name, ns] : categories) {
    std::snprintf(line, sizeof line, "  %-22s %9.2f %6.1f%%\n", name.c_str(), ms(ns), share(ns));
    out += line;
  }
  std::vector<OpRow> rows;
  for (auto& [name, row] : by_name) rows.push_back(row);
  std::sort(rows.begin(), rows.end(), [](const OpRow& a, const OpRow& b) { return a.ns() > b.ns(); });
  std::snprintf(line, sizeof line, "  %-29s %-16s %8s %6s %8s %6s %7s\n", "op", "category",
                "fwd ms", "calls", "bwd|opt", "calls", "share");
  out += line;
  for (const OpRow& r : rows) {
    std::snprintf(line, sizeof line, "  %-29s %-16s %8.2f %6.0f %8.2f %6.0f %6.1f%%\n",
                  r.name.c_str(), r.category, ms(r.forward.ns), double(r.forward.calls) / steps,
                  ms(r.backward.ns), double(r.backward.calls) / steps, share(r.ns()));
    out += line;
  }
  std::map<std::string, OpTime> kernels;
  for (const auto& [op, t] : p.kernels) {
    kernels[op].ns += t.ns;
    kernels[op].calls += t.calls;
  }
  std::vector<std::pair<std::string, OpTime>> kernel_rows(kernels.begin(), kernels.end());
  std::sort(kernel_rows.begin(), kernel_rows.end(),
            [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  std::snprintf(line, sizeof line, "  %-29s %8s %6s %7s   (raw ops' kernels, inside the ops above)\n",
                "kernel", "ms", "calls", "share");
  out += line;
  for (const auto& [name, t] : kernel_rows) {
    if (share(t.ns) < 0.05) continue;
    std::snprintf(line, sizeof line, "  %-29s %8.2f %6.0f %6.1f%%\n", name.c_str(), ms(t.ns),
                  double(t.calls) / steps, share(t.ns));
    out += line;
  }
  std::snprintf(line, sizeof line,
                "  allocation: %.0f allocations (%.1f MiB) and %.0f releases per step, %.2f ms; "
                "%.0f minor page faults per step (first touch of fresh memory, inside the ops)\n",
                double(p.allocations) / steps, double(p.allocated_bytes) / steps / 1048576.0,
                double(p.releases) / steps, ms(p.allocation_ns), double(p.page_faults) / steps);
  out += line;
  return out;
}

}  // namespace neat
