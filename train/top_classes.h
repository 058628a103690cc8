// What --predict prints for one input: its top classes (at most 5) by name with their softmax
// probabilities, the same line for every program.
//
//   print_top_classes(std::cout, "photo.jpg", {2.0f, 0.5f, -1.0f}, {"cat", "dog", "car"});
//   // photo.jpg: cat 0.786, dog 0.175, car 0.039
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace neat {

// logits: one input's [classes]; a class without a name prints as "class i".
void print_top_classes(std::ostream& out, const std::string& label, const std::vector<float>& logits,
                       const std::vector<std::string>& names);

}  // namespace neat
