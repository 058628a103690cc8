#include "data/wordnet.h"

#include <cctype>
#include <cstdlib>
#include <map>
#include <sstream>

#include "data/text_lines.h"
#include "tensor/check.h"
#include "tensor/random.h"

namespace neat {

const std::vector<std::string>& wordnet_lexicographer_files() {
  static const std::vector<std::string> names = {
      "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
      "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
      "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
      "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
      "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance",
      "noun.time", "verb.body", "verb.change", "verb.cognition", "verb.communication",
      "verb.competition", "verb.consumption", "verb.contact", "verb.creation", "verb.emotion",
      "verb.motion", "verb.perception", "verb.possession", "verb.social", "verb.stative",
      "verb.weather", "adj.ppl"};
  return names;
}

namespace {

std::string trim(const std::string& s) {
  const size_t first = s.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(' ') - first + 1);
}

// "a definition; "an example"; "another"" -> "a definition"
std::string definition_of(const std::string& gloss) {
  const size_t quote = gloss.find('"');
  std::string d = trim(gloss.substr(0, quote));
  while (!d.empty() && (d.back() == ';' || d.back() == ' ')) d.pop_back();
  return d;
}

std::string lower_ascii(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; }

// Every whole-word, case-insensitive occurrence of word in text becomes "_".
std::string blank_out(const std::string& text, const std::string& word) {
  const std::string low = lower_ascii(text), target = lower_ascii(word);
  std::string out;
  size_t from = 0;
  for (size_t at = low.find(target); at != std::string::npos; at = low.find(target, at + 1)) {
    const size_t end = at + target.size();
    const bool whole = (at == 0 || !is_word_char(low[at - 1])) &&
                       (end == low.size() || !is_word_char(low[end]));
    if (!whole || at < from) continue;
    out += text.substr(from, at - from) + "_";
    from = end;
  }
  return out + text.substr(from);
}

}  // namespace

// A data line: offset lex_filenum ss_type w_cnt word lex_id ... | gloss. License lines start
// with two spaces.
TextDataset wordnet_supersenses(const std::string& part, uint64_t seed, const std::string& dir) {
  NEAT_CHECK(part == "noun" || part == "verb", "wordnet: part must be noun or verb, got '",
             part, "'");
  const std::string path = dir + "/data." + part;
  TextLines lines(path, "wordnet", "Debian: apt-get install wordnet-base, or make deps");
  const std::vector<std::string>& files = wordnet_lexicographer_files();
  TextDataset d;
  d.name = "wordnet-" + part + "s";
  std::map<int64_t, int64_t> class_of_file;  // lexicographer file -> class index
  for (size_t f = 0; f < files.size(); ++f)
    if (files[f].rfind(part + ".", 0) == 0) {
      class_of_file[int64_t(f)] = int64_t(d.labels.size());
      d.labels.push_back(files[f]);
    }
  std::vector<TextExample> all;
  std::string line;
  while (lines.next(line)) {
    if (line.rfind("  ", 0) == 0 || line.empty()) continue;
    std::istringstream fields(line);
    std::string offset, type, count_hex;
    int64_t file = -1;
    fields >> offset >> file >> type >> count_hex;
    std::vector<std::string> words;  // the synset's own words: blanked out of its definition
    const long count = std::strtol(count_hex.c_str(), nullptr, 16);
    for (long w = 0; w < count && fields; ++w) {
      std::string word, lex_id;
      fields >> word >> lex_id;
      word = word.substr(0, word.find('('));  // adjective markers: "(a)", "(p)", "(ip)"
      for (char& c : word) c = c == '_' ? ' ' : c;
      words.push_back(word);
    }
    const size_t bar = line.find(" | ");
    NEAT_CHECK(fields && bar != std::string::npos && class_of_file.count(file), lines.where(),
               " is not a ", part, " synset (offset, lexicographer file, ... | gloss)");
    TextExample e;
    e.a = definition_of(line.substr(bar + 3));
    for (const std::string& word : words) e.a = blank_out(e.a, word);
    e.label = class_of_file[file];
    if (!e.a.empty()) all.push_back(std::move(e));
  }
  NEAT_CHECK(!all.empty(), "wordnet: ", path, " holds no synsets");
  Generator gen(seed);
  for (size_t i = all.size() - 1; i > 0; --i)  // Fisher-Yates
    std::swap(all[i], all[gen.next_u64() % (i + 1)]);
  const size_t n_train = all.size() * 8 / 10, n_val = all.size() / 10;
  d.train.assign(all.begin(), all.begin() + n_train);
  d.validation.assign(all.begin() + n_train, all.begin() + n_train + n_val);
  d.test.assign(all.begin() + n_train + n_val, all.end());
  return d;
}

}  // namespace neat
