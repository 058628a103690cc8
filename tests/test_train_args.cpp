// ArgParser and the shared model / method flags of train_vit and vit_step.
#include <doctest/doctest.h>

#include "train/args.h"
#include "train/options.h"

using namespace neat;

TEST_CASE("ArgParser parses values, '=' forms and switches, and reports what was set") {
  int64_t epochs = 10;
  double lr = 5e-3;
  std::string method = "neat";
  bool quiet = false;
  ArgParser args("prog", "[options]", "A test program.");
  args.section("Group");
  args.add("--epochs", &epochs, "N", "passes");
  args.add("--lr", &lr, "LR", "learning rate");
  args.add("--method", &method, "M", "what trains", {"neat", "lora"});
  args.add_switch("--quiet", &quiet, "say less");
  args.parse({"--epochs", "3", "--lr=1e-4", "--quiet"});
  CHECK(epochs == 3);
  CHECK(lr == 1e-4);
  CHECK(quiet);
  CHECK(method == "neat");
  CHECK(args.was_set("--epochs"));
  CHECK_FALSE(args.was_set("--method"));
  CHECK(args.values()["epochs"].as_int() == 3);
  CHECK(args.values()["method"].as_string() == "neat");
  const std::string help = args.help();
  CHECK(help.find("Group:") != std::string::npos);
  CHECK(help.find("--epochs N") != std::string::npos);
  CHECK(help.find("(default: 10)") != std::string::npos);   // the value when it was added
  CHECK(help.find("(default: 0.005)") != std::string::npos);
  CHECK(args.usage() == "usage: prog [options]  (prog --help lists every flag)");

  CHECK_THROWS_WITH_AS(args.parse({"--quiet=yes"}), "--quiet takes no value", UsageError);
  CHECK_THROWS_WITH_AS(args.parse({"stray"}), "unexpected argument 'stray'", UsageError);
  CHECK_THROWS_WITH_AS(args.parse({"--lr", "fast"}), "--lr: 'fast' is not a finite number",
                       UsageError);
  CHECK_THROWS_WITH_AS(args.parse({"--lr", "inf"}), "--lr: 'inf' is not a finite number",
                       UsageError);
  CHECK_THROWS_WITH_AS(args.parse({"--epochs", "2.5"}), "--epochs: '2.5' is not an integer",
                       UsageError);
  ArgParser h("prog", "", "");
  h.parse({"--help", "--ignored-after-help"});
  CHECK(h.help_requested());
}

TEST_CASE("ArgParser::restore takes saved values, keeps free flags, refuses conflicts") {
  int64_t epochs = 10, threads = 0;
  ArgParser args("prog", "", "");
  args.add("--epochs", &epochs, "N", "");
  args.add("--threads", &threads, "N", "");
  args.parse({"--threads", "4"});
  Json saved = Json::object();
  saved.set("epochs", 7);
  saved.set("threads", 1);
  args.restore(saved, {"--threads"});
  CHECK(epochs == 7);
  CHECK(threads == 4);

  // A free flag not given again takes the saved value (a resumed run keeps its --threads).
  int64_t t2 = 0;
  ArgParser free_default("prog", "", "");
  free_default.add("--threads", &t2, "N", "");
  free_default.parse({});
  free_default.restore(saved, {"--threads"});
  CHECK(t2 == 1);

  int64_t e2 = 10;
  ArgParser again("prog", "", "");
  again.add("--epochs", &e2, "N", "");
  again.parse({"--epochs", "7"});
  again.restore(saved, {});   // the same value given again is fine
  CHECK(e2 == 7);
  again.parse({"--epochs", "8"});
  CHECK_THROWS_WITH_AS(again.restore(saved, {}),
                       doctest::Contains("--epochs 8 differs from the resumed run's 7"), UsageError);
}

TEST_CASE("model flags: presets, custom shapes, sizes resolved against the data") {
  ModelOptions mo;
  MethodOptions me;
  ArgParser args("prog", "", "");
  add_model_flags(args, mo);
  add_method_flags(args, me);
  args.parse({"--model", "custom", "--dim", "48", "--depth", "3", "--heads", "4", "--patch", "7"});
  ViTConfig c = vit_config_from(mo, args, /*channels=*/1, /*size=*/28, /*classes=*/5);
  CHECK(c.hidden == 48);
  CHECK(c.depth == 3);
  CHECK(c.mlp_dim == 192);   // 4 x dim
  CHECK(c.image_size == 28);
  CHECK(c.channels == 1);
  CHECK(c.num_classes == 5);
  CHECK_THROWS_WITH_AS(vit_config_from(mo, args, 1, 30, 5),
                       "--image-size 30 is not divisible by --patch 7", UsageError);

  ModelOptions preset;
  ArgParser pargs("prog", "", "");
  add_model_flags(pargs, preset);
  pargs.parse({"--model", "vit-base", "--num-classes", "37"});
  const ViTConfig b = vit_config_from(preset, pargs, 3, 32, 10);
  CHECK(b.hidden == 768);
  CHECK(b.image_size == 224);
  CHECK(b.patch_size == 16);
  CHECK(b.num_classes == 37);

  ModelOptions bad;
  ArgParser bargs("prog", "", "");
  add_model_flags(bargs, bad);
  bargs.parse({"--model", "custom", "--dim", "50", "--heads", "4"});
  CHECK_THROWS_WITH_AS(vit_config_from(bad, bargs, 3, 32, 10),
                       "--dim 50 is not divisible by --heads 4", UsageError);
}

TEST_CASE("method flags build the PEFT config") {
  MethodOptions me;
  ArgParser args("prog", "", "");
  add_method_flags(args, me);
  args.parse({"--method", "neat", "--neat-rank", "7", "--neat-depth", "4", "--neat-act", "sin2pi",
              "--neat-targets", "qvmlp", "--neat-scale", "0.5"});
  const PeftConfig c = peft_config_from(me);
  CHECK(c.method == "neat");
  CHECK(c.targets == "qvmlp");
  CHECK(c.neat.rank == 7);
  CHECK(c.neat.depth == 4);
  CHECK(c.neat.activation == NeatActivation::Sin2Pi);
  CHECK(c.neat.scale == 0.5);

  MethodOptions lo;
  ArgParser largs("prog", "", "");
  add_method_flags(largs, lo);
  largs.parse({"--method", "lora", "--lora-r", "4", "--lora-alpha", "16"});
  const PeftConfig l = peft_config_from(lo);
  CHECK(l.targets == "qv");
  CHECK(l.lora.rank == 4);
  CHECK(l.lora.alpha == 16);
  lo.lora_dropout = 1.0;
  CHECK_THROWS_WITH_AS(peft_config_from(lo), "--lora-dropout must be in [0, 1)", UsageError);
}

TEST_CASE("model flags: a negative size is an error, not a silent default") {
  for (const char* flag : {"--mlp-dim", "--image-size", "--patch", "--channels", "--num-classes"}) {
    CAPTURE(flag);
    ModelOptions mo;
    ArgParser args("prog", "", "");
    add_model_flags(args, mo);
    args.parse({"--model", "custom", "--dim", "16", "--heads", "2", flag, "-4"});
    CHECK_THROWS_WITH_AS(vit_config_from(mo, args, 3, 32, 10),
                         (std::string(flag) + " must be >= 0 (0 = the default), got -4").c_str(),
                         UsageError);
  }
}

TEST_CASE("train flags: thread counts are bounded and --classes is checked as a flag") {
  TrainOptions o;
  o.data = "synthetic";
  check_train_options(o);
  o.threads = 100000;
  CHECK_THROWS_WITH_AS(check_train_options(o), "--threads must be in [0, 1024], got 100000",
                       UsageError);
  o.threads = 0;
  o.workers = 5000;
  CHECK_THROWS_WITH_AS(check_train_options(o), "--workers must be in [0, 64], got 5000", UsageError);
  o.workers = 1;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"9-3", "--classes: empty range '9-3' in '9-3'"},
      {"1,0-2", "--classes: class 1 appears twice in '1,0-2'"},
      {"99999999999999999999",
       "--classes: '99999999999999999999' in '99999999999999999999' is not a class number (use e.g. "
       "0-4 or 1,3,5)"},
      {"a", "--classes: 'a' in 'a' is not a class number (use e.g. 0-4 or 1,3,5)"}};
  for (const auto& [spec, message] : bad) {
    o.classes = spec;
    CHECK_THROWS_WITH_AS(check_train_options(o), message.c_str(), UsageError);
  }
  o.classes = "0-4,7";   // the data's class count is checked when it is loaded
  check_train_options(o);
}
