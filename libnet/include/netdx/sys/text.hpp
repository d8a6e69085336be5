#pragma once
/// Splitting text into views, no copies: the kernel's files (/proc/net/*) into lines and
/// whitespace-separated words (parsing 100,000 lines allocates only the vectors), and
/// option values into comma-separated items.

#include <string>
#include <string_view>
#include <vector>

namespace netdx {

/// Lines without their '\n'; a final line without one is kept, an empty tail is not.
[[nodiscard]] std::vector<std::string_view> split_lines(std::string_view text);
/// Words separated by spaces and tabs; empty words are never produced.
[[nodiscard]] std::vector<std::string_view> split_words(std::string_view line);
/// Items separated by `separator` ("a,,b" gives "a", "", "b"; "" gives one empty item), so a
/// caller can name an empty item as the error it is.
[[nodiscard]] std::vector<std::string_view> split_list(std::string_view text, char separator = ',');

/// ASCII lower case (names, keys; not locale text).
[[nodiscard]] std::string to_lower(std::string_view text);
/// Whether `a` and `b` are equal ignoring ASCII case ("REJ" and "rej").
[[nodiscard]] bool equals_ignore_case(std::string_view a, std::string_view b);

} // namespace netdx
