// Tests for the text tasks: the WordNet supersense reader (on lines in the real data.noun
// format, and on Debian's real files when installed), the GLUE readers on small files in each
// task's real TSV layout, and the metrics on hand-computed values.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>

#include "data/cifar.h"
#include "data/glue.h"
#include "data/wordnet.h"
#include "tests/test_data_util.h"
#include "tests/skip.h"

using namespace neat;
using neat::test::mentions;
using neat::test::thrown_message;
using neat_test::TempDir;
using neat_test::write_text;

TEST_CASE("wordnet: definitions without examples or the synset's words, labels, seeded split") {
  TempDir dir;
  write_text(dir / "data.noun",
             "  1 This software and database is being provided to you, the LICENSEE, by\n"
             "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 001 @ 02083346 n 0000 | "
             "a member of the genus Canis (probably descended from the common wolf); the Dog "
             "barks; \"the dog barked all night\"  \n"
             "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived  \n"
             "07555863 13 n 02 food 0 solid_food 0 002 @ 00021265 n 0000 | any solid "
             "substance (as opposed to liquid) used as a source of nourishment; \"food and "
             "wine\"  \n"
             "09999999 28 n 01 time_off 0 000 | a time off; hot-dog days  \n");
  TextDataset d = wordnet_supersenses("noun", 1, dir.path());
  CHECK(d.labels.size() == 26);
  CHECK(d.labels.front() == "noun.Tops");
  CHECK(d.labels.back() == "noun.time");
  CHECK(d.train.size() + d.validation.size() + d.test.size() == 4);
  std::set<std::string> inputs;
  std::map<std::string, std::string> label_of;
  for (auto* split : {&d.train, &d.validation, &d.test})
    for (const TextExample& e : *split) {
      inputs.insert(e.a);
      label_of[e.a] = d.labels[size_t(e.label)];
    }
  const std::string dog = "a member of the genus Canis (probably descended from the common "
                          "wolf); the _ barks";
  REQUIRE(inputs.count(dog));
  CHECK(label_of[dog] == "noun.animal");
  CHECK(inputs.count("any solid substance (as opposed to liquid) used as a source of nourishment"));
  CHECK(inputs.count("a _; hot-dog days"));  // "time off" blanked; "hot-dog" is another word
  CHECK(mentions(thrown_message([&] { wordnet_supersenses("adverb", 1, dir.path()); }),
                 {"noun or verb"}));
  CHECK(mentions(thrown_message([&] { wordnet_supersenses("verb", 1, dir.path()); }),
                 {dir / "data.verb", "wordnet-base"}));
  write_text(dir / "data.verb", "garbage line\n");
  CHECK(mentions(thrown_message([&] { wordnet_supersenses("verb", 1, dir.path()); }),
                 {"line 1 is not a verb synset"}));
}

TEST_CASE("wordnet: Debian's real files (when installed)") {
  if (!std::ifstream("/usr/share/wordnet/data.noun").good()) {
    return test::skip("/usr/share/wordnet/data.noun not found (apt-get install wordnet-base)");
  }
  TextDataset nouns = wordnet_supersenses("noun", 42), again = wordnet_supersenses("noun", 42);
  const size_t total = nouns.train.size() + nouns.validation.size() + nouns.test.size();
  CHECK(total == 82115);
  CHECK(nouns.train.size() == total * 8 / 10);
  CHECK(nouns.validation.size() == total / 10);
  CHECK(again.test[7].a == nouns.test[7].a);
  CHECK(wordnet_supersenses("noun", 43).test[7].a != nouns.test[7].a);
  std::set<int64_t> classes;
  for (const TextExample& e : nouns.train) classes.insert(e.label);
  CHECK(classes.size() == 26);
  TextDataset verbs = wordnet_supersenses("verb", 42);
  CHECK(verbs.labels.size() == 15);
  CHECK(verbs.train.size() + verbs.validation.size() + verbs.test.size() == 13767);
}

TEST_CASE("glue: every task's real TSV layout, labels, test files without labels") {
  TempDir dir;
  auto task_dir = [&](const std::string& folder) { return dir / folder; };
  write_text(task_dir("SST-2") + "/train.tsv", "sentence\tlabel\nhide new secretions \t0\ngreat fun \t1\n");
  write_text(task_dir("SST-2") + "/dev.tsv", "sentence\tlabel\nit 's a charming journey . \t1\n");
  write_text(task_dir("SST-2") + "/test.tsv", "index\tsentence\n0\tuneasy mishmash .\n");
  write_text(task_dir("CoLA") + "/train.tsv",
             "gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tThey drank the pub.\n");
  write_text(task_dir("CoLA") + "/dev.tsv", "gj04\t1\t\tThe sailors rode the breeze.\n");
  write_text(task_dir("CoLA") + "/test.tsv", "index\tsentence\n0\tBill whistled past the house.\n");
  write_text(task_dir("MRPC") + "/train.tsv",
             "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
             "1\t702876\t702977\tAmrozi accused his brother .\tReferring to him , Amrozi accused .\n");
  // (Microsoft's file starts with a byte order mark: the reader must still find "Quality")
  write_text(task_dir("MRPC") + "/dev.tsv",
             "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1\t2\tHe said .\tShe said .\n");
  write_text(task_dir("MRPC") + "/test.tsv",
             "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1\t2\tA .\tB .\n");
  write_text(task_dir("QQP") + "/train.tsv",
             "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
             "133273\t213221\t213222\tHow is the life of a math student?\tWhich level of "
             "prepration is enough?\t0\nbroken line\n");
  write_text(task_dir("QQP") + "/dev.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\tA?\tA?\t1\n");
  write_text(task_dir("QQP") + "/test.tsv", "id\tquestion1\tquestion2\n0\tA?\tB?\n");
  const std::string sts_header =
      "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2";
  write_text(task_dir("STS-B") + "/train.tsv", sts_header +
             "\tscore\n0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking "
             "off.\tAn air plane is taking off.\t5.000\n");
  write_text(task_dir("STS-B") + "/dev.tsv", sts_header + "\tscore\n0\tg\tf\ty\t1\tn\tn\tA.\tB.\t2.5\n");
  write_text(task_dir("STS-B") + "/test.tsv", sts_header + "\n0\tg\tf\ty\t1\tn\tn\tA.\tB.\n");
  const std::string mnli_header =
      "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
      "sentence1_parse\tsentence2_parse\tsentence1\tsentence2";
  write_text(task_dir("MNLI") + "/train.tsv", mnli_header +
             "\tlabel1\tgold_label\n0\t31193\t31193n\tgovernment\t( ( x ) )\t( y )\t(ROOT x)\t"
             "(ROOT y)\tConceptually cream skimming has two basic dimensions.\tProduct and "
             "geography are what make cream skimming work. \tneutral\tneutral\n");
  write_text(task_dir("MNLI") + "/dev_matched.tsv", mnli_header +
             "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n0\t1\t1e\tg\tb\tb\tp\tp\t"
             "The new rights are nice enough\tEveryone really likes the newest benefits "
             "\tneutral\tentailment\tneutral\tneutral\tneutral\tneutral\n");
  write_text(task_dir("MNLI") + "/test_matched.tsv", mnli_header + "\n0\t1\t1\tg\tb\tb\tp\tp\tA\tB\n");
  for (const char* folder : {"QNLI", "RTE"}) {
    const bool qnli = std::string(folder) == "QNLI";
    const std::string header = qnli ? "index\tquestion\tsentence" : "index\tsentence1\tsentence2";
    write_text(task_dir(folder) + "/train.tsv",
               header + "\tlabel\n0\tWhen?\tIn 1990.\tentailment\n1\tWho?\tNobody.\tnot_entailment\n");
    write_text(task_dir(folder) + "/dev.tsv", header + "\tlabel\n0\tA\tB\tentailment\n");
    write_text(task_dir(folder) + "/test.tsv", header + "\n0\tA\tB\n");
  }

  CHECK(glue_task_names().size() == 8);
  for (const std::string& task : glue_task_names()) {
    CAPTURE(task);
    TextDataset d = read_glue(task, dir / glue_folder(task));
    CHECK(!d.train.empty());
    CHECK(d.validation.size() == 1);
    REQUIRE(d.test.size() == 1);
    CHECK(d.test[0].label == -1);
    CHECK(d.pair == (task != "sst2" && task != "cola"));
    if (!d.regression) {
      for (const TextExample& e : d.train) CHECK(e.label >= 0);
    }
  }
  TextDataset cola = read_glue("cola", dir / "CoLA");
  CHECK(cola.train[1].a == "They drank the pub.");
  CHECK(cola.train[1].label == 0);
  CHECK(cola.metric == TextMetric::kMatthews);
  TextDataset qqp = read_glue("qqp", dir / "QQP");
  CHECK(qqp.train.size() == 1);  // the broken line is skipped, and reported
  REQUIRE(qqp.notes.size() == 1);
  CHECK(mentions(qqp.notes[0], {"QQP/train.tsv: skipped 1 row with fewer than 6 tab-separated "
                                "fields (line 3)"}));
  CHECK(qqp.train[0].b == "Which level of prepration is enough?");
  TextDataset sts = read_glue("stsb", dir / "STS-B");
  CHECK(sts.regression);
  CHECK(sts.train[0].score == 5.0);
  CHECK(sts.validation[0].score == 2.5);
  TextDataset mnli = read_glue("mnli", dir / "MNLI");
  CHECK(mnli.labels == std::vector<std::string>{"contradiction", "entailment", "neutral"});
  CHECK(mnli.validation[0].label == 2);
  CHECK(read_glue("rte", dir / "RTE").train[1].label == 1);
  CHECK(read_glue("mrpc", dir / "MRPC").train[0].b == "Referring to him , Amrozi accused .");

  CHECK(mentions(thrown_message([&] { read_glue("wnli", dir.path()); }), {"unknown task 'wnli'", "rte"}));
  CHECK(mentions(thrown_message([&] { read_glue("rte", dir / "nope"); }),
                 {"/nope/train.tsv", "scripts/get_data.sh glue rte"}));
  write_text(task_dir("RTE") + "/dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA\tB\tmaybe\n");
  CHECK(mentions(thrown_message([&] { read_glue("rte", dir / "RTE"); }),
                 {"dev.tsv: line 2, column 7: unknown label 'maybe'"}));
  write_text(task_dir("RTE") + "/dev.tsv", "index\tpremise\tsentence2\tlabel\n");
  CHECK(mentions(thrown_message([&] { read_glue("rte", dir / "RTE"); }), {"no column 'sentence1'"}));
}

TEST_CASE("glue: a bad byte names the file, line and column; test.tsv is optional") {
  TempDir dir;
  const std::string rte = dir / "RTE";
  write_text(rte + "/train.tsv", "index\tsentence1\tsentence2\tlabel\n"
                                 "0\tWhen?\tIn 1990.\tentailment\n");
  write_text(rte + "/dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA\tB\tentailment\n");
  // No test.tsv: never used, so not needed.
  TextDataset d = read_glue("rte", rte);
  CHECK(d.train.size() == 1);
  CHECK(d.test.empty());
  CHECK(d.notes.empty());
  // Latin-1 "caf\xE9" on line 3: the message names the file, the line and the byte's column
  // (today's tokenizer message had only "utf8: invalid continuation byte at offset 4").
  write_text(rte + "/train.tsv", "index\tsentence1\tsentence2\tlabel\n"
                                 "0\tWhen?\tIn 1990.\tentailment\n1\tcaf\xE9\tB\tentailment\n");
  CHECK(mentions(thrown_message([&] { read_glue("rte", rte); }),
                 {"RTE/train.tsv: line 3, column 6: invalid continuation byte 0x9 after 0xE9",
                  "not UTF-8"}));
  // A broken continuation byte, and a byte order mark shifting line 1's columns by 3.
  write_text(rte + "/train.tsv", "\xEF\xBB\xBFindex\tsentence1\xC3(\tsentence2\tlabel\n");
  CHECK(mentions(thrown_message([&] { read_glue("rte", rte); }),
                 {"train.tsv: line 1, column 19: invalid continuation byte 0x28 after 0xC3"}));
  // STS-B: a score that is not a number names its column; unlabelled rows have no score.
  const std::string sts = dir / "STS-B";
  const std::string header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\t"
                             "sentence1\tsentence2";
  write_text(sts + "/train.tsv", header + "\tscore\n0\tg\tf\ty\t1\tn\tn\tA.\tB.\t4.2\n");
  write_text(sts + "/dev.tsv", header + "\tscore\n0\tg\tf\ty\t1\tn\tn\tA.\tB.\tfive\n");
  CHECK(mentions(thrown_message([&] { read_glue("stsb", sts); }),
                 {"STS-B/dev.tsv: line 2, column 21: score 'five' is not a number"}));
  write_text(sts + "/dev.tsv", header + "\tscore\n0\tg\tf\ty\t1\tn\tn\tA.\tB.\t1.5\n");
  write_text(sts + "/test.tsv", header + "\n0\tg\tf\ty\t1\tn\tn\tA.\tB.\n");
  TextDataset s = read_glue("stsb", sts);
  CHECK(s.train[0].score == 4.2);
  REQUIRE(s.test.size() == 1);
  CHECK(std::isnan(s.test[0].score));
}

TEST_CASE("text readers: WordNet and class names name the file, line and column of a bad byte") {
  TempDir dir;
  write_text(dir / "data.noun", "  1 license line\n"
                                "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which "
                                "is perceiv\xFF\xFE" "ed  \n");
  CHECK(mentions(thrown_message([&] { wordnet_supersenses("noun", 1, dir.path()); }),
                 {"wordnet: ", "data.noun: line 2, column 72: invalid byte 0xFF"}));
  write_text(dir / "names.txt", "cat\ndog\n\x80" "bird\n");
  CHECK(mentions(thrown_message([&] { read_class_names(dir / "names.txt", 3); }),
                 {"class names: ", "names.txt: line 3, column 1: invalid byte 0x80"}));
}

TEST_CASE("text metrics: accuracy, F1, Matthews, Pearson, Spearman with ties") {
  // tp 2, tn 1, fp 1, fn 1
  std::vector<int64_t> predicted{1, 1, 0, 1, 0}, gold{1, 1, 0, 0, 1};
  TextScores s = score_classes(TextMetric::kAccuracyF1, predicted, gold);
  CHECK(s.accuracy == doctest::Approx(0.6));
  CHECK(s.f1 == doctest::Approx(4.0 / 6.0));
  CHECK(s.main == s.f1);
  CHECK(s.matthews == doctest::Approx((2.0 * 1 - 1.0 * 1) / std::sqrt(3.0 * 3 * 2 * 2)));
  CHECK(score_classes(TextMetric::kMatthews, {0, 0}, {0, 1}).matthews == 0.0);  // undefined: 0
  CHECK(s.str() == "accuracy 0.6000, f1 0.6667");
  CHECK(pearson_correlation({1, 2, 3}, {2, 4, 6}) == doctest::Approx(1.0));
  CHECK(pearson_correlation({1, 2, 3}, {3, 2, 1}) == doctest::Approx(-1.0));
  // Spearman = Pearson of average ranks: x ranks (1, 2.5, 2.5, 4), y ranks (1, 2, 3, 4).
  const double want = pearson_correlation({1, 2.5, 2.5, 4}, {1, 2, 3, 4});
  CHECK(spearman_correlation({0.1, 5, 5, 9}, {1, 2, 3, 40}) == doctest::Approx(want));
  CHECK(want == doctest::Approx(0.9486833));
  TextScores r = score_regression({1, 2, 3, 4}, {1, 2, 3, 5});
  CHECK(r.spearman == doctest::Approx(1.0));
  CHECK(r.main == r.pearson);
  // scipy.stats.pearsonr / spearmanr (scipy 1.x, average ranks for ties on both sides):
  //   x = [3.1, 0.5, 2.2, 2.2, 4.8, 0.5, 1.0, 2.2], y = [2.0, 1.0, 3.5, 3.5, 4.0, 0.0, 1.0, 2.5]
  const std::vector<double> x{3.1, 0.5, 2.2, 2.2, 4.8, 0.5, 1.0, 2.2},
      y{2.0, 1.0, 3.5, 3.5, 4.0, 0.0, 1.0, 2.5};
  CHECK(pearson_correlation(x, y) == doctest::Approx(0.8043596776159336).epsilon(1e-14));
  CHECK(spearman_correlation(x, y) == doctest::Approx(0.8138058888328231).epsilon(1e-14));
  CHECK(mentions(thrown_message([] { score_classes(TextMetric::kAccuracy, {1}, {1, 0}); }),
                 {"1 predictions for 2 labels"}));
}
