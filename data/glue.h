// GLUE (Wang et al. 2019) from its TSV files as the official download lays them out
// (scripts/get_data.sh glue TASK puts them in data/glue/<FOLDER>/):
//
//   task   folder  text columns                      label (classes)                  metric
//   sst2   SST-2   sentence                          label (0, 1)                     accuracy
//   cola   CoLA    sentence (no header: col 3)       col 1 (0, 1)                     Matthews
//   mrpc   MRPC    #1 String, #2 String              Quality (0, 1)                   accuracy, F1
//   qqp    QQP     question1, question2              is_duplicate (0, 1)              accuracy, F1
//   stsb   STS-B   sentence1, sentence2              score (0-5, regression)          Pearson, Spearman
//   mnli   MNLI    sentence1, sentence2              gold_label (contradiction,       accuracy
//                                                    entailment, neutral)
//   qnli   QNLI    question, sentence                label (entailment, not_entailment) accuracy
//   rte    RTE     sentence1, sentence2              label (entailment, not_entailment) accuracy
//
// Files: train.tsv, dev.tsv and, optionally, test.tsv (MNLI: dev_matched.tsv,
// test_matched.tsv; d.test is empty without it). Test files have no labels (label -1, score
// NaN). Fields are tab-separated with no quoting (as HF's run_glue reads them), UTF-8 (a bad
// byte is an error naming the file, line and column). A row with too few fields is skipped
// and counted in d.notes with its line numbers (QQP's train file has a few; HF's run_glue
// skips them too); an unknown label or a score that is not a number is an error naming the
// file, line and column.
//
//   TextDataset d = read_glue("rte", "data/glue/RTE");   // d.validation: dev.tsv
#pragma once
#include <string>
#include <vector>

#include "data/text_dataset.h"

namespace neat {

std::vector<std::string> glue_task_names();  // sst2, cola, mrpc, qqp, stsb, mnli, qnli, rte
std::string glue_folder(const std::string& task);  // "SST-2", ... (error listing the tasks)
// Errors name the file (and line, column): a missing train or dev file, a missing column, an
// unknown label, a bad score, invalid UTF-8.
TextDataset read_glue(const std::string& task, const std::string& dir);

}  // namespace neat
