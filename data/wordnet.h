// The WordNet supersense task: given a synset's definition, which lexicographer file (the
// supersense: noun.animal, noun.artifact, verb.motion, ...) does it belong to? Read straight
// from WordNet 3.0's data files (Debian's wordnet-base: /usr/share/wordnet/data.{noun,verb}).
//
//   TextDataset d = wordnet_supersenses("noun", /*seed=*/42);   // 26 classes, 82,115 synsets
//   d.train[0].a == "a domestic animal ..."                      // the definition alone
//
// Input: the gloss up to its first quoted example (examples usually contain the word), with
// any whole-word occurrence of the synset's own words (any case) replaced by "_", so the
// word itself is never part of the input. Split: the synsets shuffled with the seed, then
// 80% train, 10% validation, 10% test (each synset in exactly one split).
#pragma once
#include <cstdint>
#include <string>

#include "data/text_dataset.h"

namespace neat {

// part: "noun" (26 classes) or "verb" (15). dir: the directory holding data.noun / data.verb.
// Errors name the file for a missing file, the file and line for a malformed line (an error,
// not a skip: the data files are generated, so a malformed line means a damaged file), and the
// file, line and column for a byte that is not UTF-8.
TextDataset wordnet_supersenses(const std::string& part, uint64_t seed,
                                const std::string& dir = "/usr/share/wordnet");

// The 45 lexicographer file names of WordNet 3.0, by number (lexnames(5WN)).
const std::vector<std::string>& wordnet_lexicographer_files();

}  // namespace neat
