// Writes the seed corpus of every fuzz harness into fuzz/corpus/<harness>/ (make fuzz-corpus).
// Each seed is a small valid input in the layout its harness expects, written by the library's
// own writers, so the fuzzers start from files the readers accept.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "data/image.h"
#include "fuzz/tiny_model.h"
#include "nn/peft/adapter_file.h"
#include "tensor/safetensors.h"
#include "train/checkpoint.h"
#include "train/system.h"

using namespace neat;

namespace {

std::string root;

void seed(const std::string& harness, const std::string& name, const std::string& bytes) {
  make_directories(root + "/" + harness);
  write_file_atomic(root + "/" + harness + "/" + name, bytes);
}

// A harness whose first byte selects a mode: that byte, then a file's bytes.
void seed_with_mode(const std::string& harness, const std::string& name, char mode,
                    const std::string& file) {
  seed(harness, name, std::string(1, mode) + read_file(file));
}

std::string bytes(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

std::string big_endian(uint32_t x) {
  return std::string{char(x >> 24), char(x >> 16), char(x >> 8), char(x)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR (fuzz/corpus)\n");
    return 2;
  }
  root = argv[1];
  const std::string tmp = "/tmp/neat_make_corpus_" + std::to_string(::getpid());

  // safetensors: float32, float64 and int64 tensors with metadata; an empty file's header.
  write_safetensors(tmp, {{"w", from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3})},
                          {"d", from_vector(std::vector<double>{0.5}, {1})},
                          {"i", from_vector(std::vector<int64_t>{7, 8}, {2})}},
                    {{"format", "pt"}});
  seed("safetensors", "three_dtypes", read_file(tmp));
  write_safetensors(tmp, {});
  seed("safetensors", "empty", read_file(tmp));

  // json
  seed("json", "object", R"({"a": [1, 2.5, -3e-4, "x\u00e9\n"], "b": {"c": true, "d": null}})");
  seed("json", "header",
       R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})");
  seed("json", "numbers", "[0, -0, 1e308, 9007199254740993, 1.5E-3]");

  // idx: mode 0 = images (3 dims), 1 = labels (1 dim); plain bytes (gzip is the same reader).
  seed("idx", "images", std::string(1, 0) + big_endian(0x803) + big_endian(2) + big_endian(2) +
                            big_endian(2) + std::string("\x00\x10\x20\x30\x40\x50\x60\x70", 8));
  seed("idx", "labels", std::string(1, 1) + big_endian(0x801) + big_endian(3) + "\x01\x00\x02");

  // cifar: mode 0 = CIFAR-10 record (label, 3072 pixels), 1 = CIFAR-100 fine (2 labels + pixels).
  std::string pixels(3072, 0);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = char(i * 7);
  seed("cifar", "cifar10", std::string(1, 0) + "\x03" + pixels);
  seed("cifar", "cifar100", std::string(1, 1) + std::string("\x02\x2a", 2) + pixels);

  // image: png, bmp, tga (gray and RGB).
  Image rgb(3, 4, 3), gray(2, 2, 1);
  for (size_t i = 0; i < rgb.pixels.size(); ++i) rgb.pixels[i] = uint8_t(i * 20);
  for (size_t i = 0; i < gray.pixels.size(); ++i) gray.pixels[i] = uint8_t(i * 60);
  for (const char* ext : {"png", "bmp", "tga"}) {
    write_image(tmp + "." + ext, rgb);
    seed("image", std::string("rgb.") + ext, bytes(read_file_bytes(tmp + "." + ext, "corpus")));
    std::remove((tmp + "." + ext).c_str());
  }
  write_image(tmp + ".png", gray);
  seed("image", "gray.png", bytes(read_file_bytes(tmp + ".png", "corpus")));
  std::remove((tmp + ".png").c_str());

  // adapter: mode 0 = Neat, 1 = LoRA, each saved from the harness's model.
  for (const bool lora : {false, true}) {
    ViTForImageClassification model(neat_fuzz::tiny_vit_config());
    const PeftConfig config = neat_fuzz::tiny_peft_config(lora);
    attach_peft(model, config);
    save_adapter(tmp, model, config);
    seed_with_mode("adapter", lora ? "lora" : "neat", lora ? 1 : 0, tmp);
  }

  // checkpoint: after one AdamW step (so the optimizer state exists), with a short history.
  {
    ViTForImageClassification model(neat_fuzz::tiny_vit_config());
    attach_peft(model, neat_fuzz::tiny_peft_config(false));
    AdamW optimizer({ParamGroup{"all", model.named_parameters(/*trainable_only=*/true)}});
    for (Variable p : optimizer.parameters()) p.mutable_grad() = full(p.shape(), 0.1);
    optimizer.step();
    TrainState state;
    state.step = 1;
    state.history.steps.push_back({1, 1, 1e-3, 2.3, 0.25});
    state.history.epochs.push_back({1, 1, 2.3, 0.25, 2.2, 0.3});
    state.config = Json::object();
    state.config.set("method", "neat");
    save_checkpoint(tmp, model, optimizer, state);
    seed("checkpoint", "neat_step1", read_file(tmp));
  }
  std::remove(tmp.c_str());

  // gguf: neat writes no GGUF; the seeds are the files gguf-py wrote for tests/test_gguf.cpp
  // (tests/parity/make_gguf_fixtures.py).
  for (const char* name : {"types.gguf", "tiny_v2.gguf"})
    seed("gguf", name, read_file(std::string("tests/parity/gguf/") + name));

  // flags: NUL-separated command lines.
  auto command = [](std::vector<std::string> args) {
    std::string joined;
    for (size_t i = 0; i < args.size(); ++i) joined += (i ? std::string(1, '\0') : "") + args[i];
    return joined;
  };
  seed("flags", "custom", command({"--model", "custom", "--dim", "64", "--depth", "2", "--heads",
                                   "4", "--image-size", "32", "--patch", "4", "--epochs=3"}));
  seed("flags", "lora", command({"--method", "lora", "--lora-r", "4", "--lora-alpha", "8",
                                 "--data", "folder:/x", "--train-limit", "100", "--quiet"}));
  seed("flags", "resume", command({"--resume", "runs/x", "--threads", "2", "--eval-only"}));
  return 0;
}
