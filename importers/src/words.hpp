#pragma once
// Whitespace-separated words with their columns, for the line formats (psrecord, mprof).
// Candidates for text.hpp; kept apart so text.* stays as it is.

#include <cstddef>
#include <string_view>
#include <vector>

namespace soak::importers::text {

struct Word {
  std::string_view text;
  std::size_t column = 0;  ///< 1-based character column where the word starts
};

/// `line`'s words: runs of characters other than spaces and tabs.
inline std::vector<Word> words(std::string_view line) {
  std::vector<Word> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    const std::size_t from = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    out.push_back({line.substr(from, i - from), from + 1});
  }
  return out;
}

}  // namespace soak::importers::text
