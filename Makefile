# neat.cpp build. Knobs:
#   make            library + programs (train_vit, vit_step), -O3 -march=native -fopenmp
#   make test       build and run every unit test (prints "N passed, M failed, K skipped" last)
#   make bench      build and run the benchmarks in bench/ (figures only, never pass/fail)
#   make bench-compare  our ViT step beside PyTorch's (Debian's, and .venv-bench's when
#                   scripts/install_deps.sh --bench made it) in one run: an fp32 table, then a
#                   bf16 one (ours --precision bf16 beside PyTorch's CPU bf16 autocast);
#                   CASES="cifar-vit:neat-qv:1 vit-b16-1L" picks rows (default: all); REPEAT=3
#                   takes each side's median of 3 runs in turns (a shared machine is noisy);
#                   PRECISION=fp32 (or bf16) only that table
#   make debug-test the tests under AddressSanitizer + UndefinedBehaviorSanitizer, then ~10 s of
#                   each fuzzer (make fuzz-smoke)
#   make fuzz       libFuzzer harnesses of every file reader and the flag parser (clang; fuzz/README.md)
#   make deps       install the Debian packages the build needs (apt-get, as root)
#   make run        the out-of-the-box transfer experiment on Fashion-MNIST
#   make demo       every fine-tuning method, 3 seeds, one table (docs/results.md; FAST=1: 1 seed)
#   make run-text   head / lora / neat on the real MiniLM and WordNet noun supersenses
#   make run-lm     SmolLM2-135M-Instruct on a held-out slice of ARC-Easy before and after Neat
#                   (after make deps and scripts/get_data.sh lm-tasks)
#   make demo-lm    neat / lora / dora on the same, at matched trainable parameter counts
#   NO_OMP=1        build without OpenMP (single thread)
#   CUDA=0          build for the CPU only, even where nvcc is found (objects in build/cpu-only)
#   MPI=0           build without MPI, even where mpicxx is found (objects in build/no-mpi):
#                   single-process training only, as on a machine without MPI
#   CUDA_ARCH=...   the GPUs the CUDA code is compiled for (default: sm_90 and sm_80 machine code
#                   plus compute_90 PTX, which newer GPUs compile at load time)

CXX      ?= g++
# -O3 -march=native: the GEMM micro-kernel relies on AVX2/AVX-512 being available to the compiler.
# No -ffast-math anywhere: it changes erf/exp/NaN semantics that the gradient checks rely on.
# -fno-trapping-math changes no result (we never unmask floating-point exceptions): it lets the
# compiler evaluate both sides of a select, which AVX2 needs to vectorise the clamps in
# tensor/scalar_math.h's exp and erf (without it, GELU and softmax run scalar on AVX2: 4-5x
# slower; AVX-512's masked instructions did not need it). Clang's default.
# -fno-math-errno changes no result either (nothing reads errno after a math function): without
# it std::sqrt may set errno, a branch that kept AdamW's update loop scalar.
# -mprefer-vector-width=512 (x86 compilers only): GCC's loops use 256-bit vectors by default
# even where -march=native has AVX-512; the GEMM's intrinsics are 512 bits anyway, and with this
# GELU, softmax and layer norm are too (AVX-512 Xeon: cifar-vit lora-qv step -3.5%, the gelu
# kernel 29.8 -> 22.8 ms). Elementwise results do not change; `omp simd` sums keep their partial
# sums in twice as many lanes, another order fixed by the build (the same on any thread count).
# Where there is no AVX-512 it does nothing.
CXXFLAGS ?= -O3 -march=native
VECTOR_WIDTH := $(shell $(CXX) -mprefer-vector-width=512 -E -x c++ /dev/null >/dev/null 2>&1 && echo -mprefer-vector-width=512)
override CXXFLAGS += $(VECTOR_WIDTH) -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-unknown-pragmas -fno-trapping-math -fno-math-errno -I. -MMD -MP
LDLIBS   += -lz -lpthread
ifneq ($(NO_OMP),1)
override CXXFLAGS += -fopenmp
override LDFLAGS += -fopenmp
endif

# CUDA: on when nvcc is found (on PATH or in /usr/local/cuda) unless CUDA=0. tensor/cuda/*.cu go
# into the library, -DNEAT_CUDA turns on the CUDA case of the device seam (tensor/dispatch.h),
# and the programs link the CUDA runtime and cuBLAS. A CUDA=0 build needs no CUDA header; its
# objects differ (no NEAT_CUDA), so they live in their own build folder.
NVCC := $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
ifeq ($(MPI),0)
BUILD ?= $(if $(filter 0,$(CUDA)),build/cpu-only-no-mpi,build/no-mpi)
endif
ifeq ($(CUDA),0)
NVCC :=
BUILD ?= build/cpu-only
endif
BUILD    ?= build
ifneq ($(NVCC),)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=sm_80 \
             -gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O3
override NVCCFLAGS += -std=c++17 -I. -DNEAT_CUDA $(CUDA_ARCH) -MMD -MP -Xcompiler -Wall
override CXXFLAGS += -DNEAT_CUDA
# cuBLAS is not linked: tensor/cuda/cublas_library.cu opens it when a GPU is first used (a linked
# libcublas adds ~215 MiB to the resident memory of every run, CPU-only ones included).
LDLIBS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -ldl
CUDA_SRC := $(wildcard tensor/cuda/*.cu)
NO_CUDA_SRC := tensor/cuda_absent.cpp
$(info neat.cpp: CUDA found ($(NVCC), $(shell $(NVCC) --version | grep -o 'release [0-9.]*')): building tensor/cuda/ ($(CUDA_ARCH)))
else
CUDA_SRC :=
NO_CUDA_SRC :=
$(info neat.cpp: CUDA off ($(if $(filter 0,$(CUDA)),CUDA=0,nvcc not found)): CPU-only build)
endif

# MPI (data-parallel training under mpirun, train/distributed.h): on when mpicxx is found (Debian's
# openmpi-bin + libopenmpi-dev; MPICH's too) unless MPI=0. Its flags come from the wrapper
# (OpenMPI's --showme, MPICH's -show); -DNEAT_MPI builds train/distributed_mpi.cpp. NCCL (the
# GPU all-reduce) where both CUDA and MPI are on and `make deps` unpacked PyPI's nvidia-nccl-cu13
# into third_party/nccl/: -DNEAT_NCCL builds train/distributed_nccl.cpp, which opens
# libnccl.so.2 when a CUDA run first reduces (as cuBLAS is opened: nothing linked).
MPICXX := $(if $(filter 0,$(MPI)),,$(shell command -v mpicxx 2>/dev/null))
NCCL_DIR ?= third_party/nccl
ifneq ($(MPICXX),)
MPI_SHOW := $(shell $(MPICXX) --showme 2>/dev/null || $(MPICXX) -show 2>/dev/null)
override CXXFLAGS += -DNEAT_MPI $(filter -I% -pthread,$(MPI_SHOW))
LDLIBS   += $(filter-out -lmpi_cxx,$(filter -L% -l% -Wl%,$(MPI_SHOW)))
MPI_OFF_SRC :=
$(info neat.cpp: MPI found ($(MPICXX), $(shell $(MPICXX) --showme:version 2>/dev/null | grep -o "Open MPI [0-9.]*" || echo MPICH)): mpirun -np N runs data-parallel training)
ifneq ($(NVCC),)
ifeq ($(words $(wildcard $(NCCL_DIR)/nccl.h $(NCCL_DIR)/libnccl.so.2)),2)
override CXXFLAGS += -DNEAT_NCCL -I$(NCCL_DIR) -I$(CUDA_HOME)/include -DNEAT_NCCL_LIBRARY='"$(abspath $(NCCL_DIR))/libnccl.so.2"'
$(info neat.cpp: NCCL found ($(NCCL_DIR), $(shell sed -n 's/^#define NCCL_\(MAJOR\|MINOR\|PATCH\) //p' $(NCCL_DIR)/nccl.h | paste -sd.)): the GPU all-reduce of mpirun runs)
else
MPI_OFF_SRC += train/distributed_nccl.cpp
$(info neat.cpp: NCCL not found in $(NCCL_DIR) (make deps fetches it): CUDA runs under mpirun cannot reduce)
endif
else
MPI_OFF_SRC += train/distributed_nccl.cpp
endif
else
MPI_OFF_SRC := train/distributed_mpi.cpp train/distributed_nccl.cpp
$(info neat.cpp: MPI off ($(if $(filter 0,$(MPI)),MPI=0,mpicxx not found: apt-get install libopenmpi-dev openmpi-bin)): single-process training only)
endif

PROGRAMS := $(wildcard train/train_vit.cpp train/vit_step.cpp train/train_text.cpp train/text_step.cpp train/generate.cpp train/train_lm.cpp train/lm_step.cpp)
LIB_SRC  := $(filter-out $(PROGRAMS) $(NO_CUDA_SRC) $(MPI_OFF_SRC),$(wildcard tensor/*.cpp tensor/cpu/*.cpp autograd/*.cpp nn/*.cpp nn/peft/*.cpp models/*.cpp text/*.cpp data/*.cpp train/*.cpp))
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/%.o) $(CUDA_SRC:%.cu=$(BUILD)/%.o)
LIB      := $(BUILD)/libneat.a
TEST_SRC := $(wildcard tests/*.cpp)
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/%.o)
TEST_BIN := $(BUILD)/run_tests
BENCH_SRC := $(wildcard bench/*.cpp)
BENCH_BIN := $(BENCH_SRC:bench/%.cpp=$(BUILD)/bench/%)
PROG_OBJ := $(PROGRAMS:%.cpp=$(BUILD)/%.o)
PROG_BIN := $(notdir $(PROGRAMS:.cpp=))

# OpenBLAS is only a reference for the benchmarks; the library never links it. Both its header
# and its library must be there: Debian's libblas-dev (netlib, pulled in by liblapack-dev) also
# installs a cblas.h, without libopenblas.so.
OPENBLAS_LIBRARY := $(filter /%,$(shell $(CXX) -print-file-name=libopenblas.so))
OPENBLAS_HEADER := $(if $(OPENBLAS_LIBRARY),$(wildcard /usr/include/x86_64-linux-gnu/cblas.h /usr/include/cblas.h /usr/include/openblas/cblas.h))
ifneq ($(OPENBLAS_HEADER),)
BENCH_FLAGS := -DHAVE_OPENBLAS
BENCH_LIBS  := -lopenblas
endif

# Say what was found, once per make invocation (llm.c style).
ifeq ($(NO_OMP),1)
$(info neat.cpp: OpenMP off (NO_OMP=1): single-threaded build)
endif
ifeq ($(OPENBLAS_HEADER),)
$(info neat.cpp: OpenBLAS not found: make bench prints no reference figures (scripts/install_deps.sh --bench))
endif

DEP_HEADERS := /usr/include/doctest/doctest.h /usr/include/stb/stb_image.h /usr/include/zlib.h
MISSING_DEPS := $(filter-out $(wildcard $(DEP_HEADERS)),$(DEP_HEADERS))

.PHONY: all deps test bench bench-compare debug-test fuzz fuzz-binaries fuzz-corpus fuzz-smoke run demo run-text run-lm demo-lm clean
all: $(PROG_BIN)

deps:
	@scripts/install_deps.sh

# On a machine missing a header, every compile waits for deps (order-only: `make -j` cannot
# start a compile before the packages are installed, and installing them rebuilds nothing).
ifneq ($(MISSING_DEPS),)
$(LIB_OBJ) $(TEST_OBJ) $(PROG_OBJ) $(BENCH_BIN): | deps
endif

# Every object also depends on this Makefile: a changed flag (such as -fno-math-errno) rebuilds
# the objects made with the old one instead of mixing the two.
$(BUILD)/%.o: %.cpp Makefile
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cu Makefile
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(PROG_BIN): %: $(BUILD)/train/%.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(TEST_BIN): $(TEST_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# The benchmarks are built (not run) too, so a change that breaks one fails here.
test: $(TEST_BIN) $(PROG_BIN) $(BENCH_BIN)
	@$(TEST_BIN)

$(BUILD)/bench/%: bench/%.cpp $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(BENCH_FLAGS) $< $(LIB) -o $@ $(LDFLAGS) $(BENCH_LIBS) $(LDLIBS)

bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

bench-compare: $(BUILD)/bench/bench_vit_step
	@python3 bench/compare_vit_step.py --repeat $(or $(REPEAT),1) --precision $(or $(PRECISION),both) $(BUILD)/bench/bench_vit_step $(CASES)

# Sanitizers: a separate build tree so the optimised objects are kept.
debug-test:
	$(MAKE) CUDA=0 BUILD=build/debug CXXFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	        LDFLAGS="-fsanitize=address,undefined" NO_OMP=1 build/debug/run_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/debug/run_tests
	$(MAKE) fuzz-smoke

# Fuzzers: the library compiled again by clang with coverage (fuzzer-no-link) and ASan + UBSan in
# build/fuzz, one binary per fuzz/<reader>.cpp. fuzz-smoke runs each for FUZZ_SECONDS on a scratch
# copy of its seed corpus (fuzz/corpus/<reader>/ is never written to).
FUZZ_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES   := $(basename $(notdir $(wildcard fuzz/*.cpp)))
FUZZ_SECONDS ?= 10
fuzz:
	$(MAKE) CUDA=0 BUILD=build/fuzz CXX=clang++ CXXFLAGS="$(FUZZ_FLAGS)" NO_OMP=1 fuzz-binaries
fuzz-binaries: $(FUZZ_NAMES:%=$(BUILD)/fuzz_%)
$(BUILD)/fuzz_%: fuzz/%.cpp $(LIB)
	$(CXX) $(CXXFLAGS) -fsanitize=fuzzer,address,undefined $< $(LIB) -o $@ $(LDLIBS)
# Regenerates the seed corpora with the library's own writers (the committed seeds come from it).
fuzz-corpus: $(LIB)
	$(CXX) $(CXXFLAGS) fuzz/corpus/make_corpus.cpp $(LIB) -o $(BUILD)/make_corpus $(LDFLAGS) $(LDLIBS)
	$(BUILD)/make_corpus fuzz/corpus
fuzz-smoke: fuzz
	@for n in $(FUZZ_NAMES); do rm -rf build/fuzz/corpus/$$n; mkdir -p build/fuzz/corpus/$$n; \
	  echo "== fuzz $$n ($(FUZZ_SECONDS) s)"; \
	  build/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$n fuzz/corpus/$$n \
	    2>build/fuzz/$$n.log || { tail -40 build/fuzz/$$n.log; exit 1; }; \
	  grep -E "stat::number_of_executed_units" build/fuzz/$$n.log; done

run: all
	@scripts/run_fashion_transfer.sh

demo: all
	@scripts/demo.sh

run-text: all
	@scripts/run_text.sh

run-lm: all
	@scripts/run_lm.sh

demo-lm: all
	@scripts/run_lm.sh demo

clean:
	rm -rf $(BUILD) $(PROG_BIN)

# Header dependencies written by -MMD: editing a header rebuilds every object and program using it.
-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(PROG_OBJ:.o=.d) $(BENCH_BIN:=.d)
