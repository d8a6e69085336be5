#pragma once
/// Splitting the kernel's text files (/proc/net/*) into lines and whitespace-separated words,
/// as views into the text: no copies, so parsing 100,000 lines allocates only the vectors.

#include <string_view>
#include <vector>

namespace netdx {

/// Lines without their '\n'; a final line without one is kept, an empty tail is not.
[[nodiscard]] std::vector<std::string_view> split_lines(std::string_view text);
/// Words separated by spaces and tabs; empty words are never produced.
[[nodiscard]] std::vector<std::string_view> split_words(std::string_view line);

} // namespace netdx
