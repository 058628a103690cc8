#include "train/system.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/check.h"

namespace neat {

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  NEAT_CHECK(f != nullptr, "write ", path, ": cannot create ", tmp, ": ", std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!written || !flushed || !closed) {
    std::remove(tmp.c_str());
    NEAT_CHECK(false, "write ", path, ": writing ", tmp, " failed: ", std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(tmp.c_str());
    NEAT_CHECK(false, "write ", path, ": rename failed: ", std::strerror(error));
  }
}

bool is_directory(const std::string& path) {
  struct stat s;
  return ::stat(path.c_str(), &s) == 0 && S_ISDIR(s.st_mode);
}

void make_directories(const std::string& path) {
  if (path.empty()) return;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    const std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      NEAT_CHECK(false, "mkdir ", prefix, ": ", std::strerror(errno));
  }
  struct stat s;
  NEAT_CHECK(::stat(path.c_str(), &s) == 0 && S_ISDIR(s.st_mode), "mkdir ", path,
             ": exists and is not a directory");
}

namespace {
volatile std::sig_atomic_t received_signal = 0;
void on_stop_signal(int signal) { received_signal = signal; }
}  // namespace

void install_stop_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  action.sa_flags = SA_RESETHAND;   // the second Ctrl-C takes the default action
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

int stop_signal() { return received_signal; }
void clear_stop_signal() { received_signal = 0; }

ScopedThreads::ScopedThreads(int64_t threads) {
#ifdef _OPENMP
  previous_ = omp_get_max_threads();
  if (threads > 0) omp_set_num_threads(int(threads));
#endif
}

ScopedThreads::~ScopedThreads() {
#ifdef _OPENMP
  omp_set_num_threads(previous_);
#endif
}

void use_passive_openmp_wait(char** argv) {
#ifdef _OPENMP
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "passive", /*overwrite=*/0);
  ::execv("/proc/self/exe", argv);   // returns only on failure: then run on, spinning
#endif
}

int64_t peak_rss_bytes() {
  struct rusage usage;
  ::getrusage(RUSAGE_SELF, &usage);
  return int64_t(usage.ru_maxrss) * 1024;   // Linux reports kilobytes
}

int64_t physical_memory_bytes() {
  return int64_t(::sysconf(_SC_PHYS_PAGES)) * int64_t(::sysconf(_SC_PAGESIZE));
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

std::string timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm local;
  ::localtime_r(&t, &local);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%d-%H%M%S", &local);
  return buffer;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string clock_time_after(double seconds) {
  const std::time_t now = std::time(nullptr);
  const std::time_t then = now + std::time_t(seconds > 0 ? seconds : 0);
  std::tm a, b;
  ::localtime_r(&now, &a);
  ::localtime_r(&then, &b);
  char buffer[32];
  const bool today = a.tm_year == b.tm_year && a.tm_yday == b.tm_yday;
  std::strftime(buffer, sizeof buffer, today ? "%H:%M" : "%a %H:%M", &b);
  return buffer;
}

std::string format_duration(double seconds) {
  const int64_t s = seconds > 0 ? int64_t(seconds + 0.5) : 0;
  char buffer[32];
  if (s >= 3600) std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else if (s >= 60) std::snprintf(buffer, sizeof buffer, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  else std::snprintf(buffer, sizeof buffer, "%llds", (long long)s);
  return buffer;
}

}  // namespace neat
