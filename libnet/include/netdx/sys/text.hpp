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

/// `text` unchanged when it is valid UTF-8; otherwise each byte that is not part of a valid
/// sequence becomes the four characters \xNN. File names and /proc contents are bytes, and
/// JSON must be UTF-8: this keeps the byte visible instead of failing the whole report.
[[nodiscard]] std::string escape_invalid_utf8(std::string_view text);
/// Whether `text` is valid UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
[[nodiscard]] bool valid_utf8(std::string_view text);

/// ASCII lower case (names, keys; not locale text).
[[nodiscard]] std::string to_lower(std::string_view text);
/// Whether `a` and `b` are equal ignoring ASCII case ("REJ" and "rej").
[[nodiscard]] bool equals_ignore_case(std::string_view a, std::string_view b);

} // namespace netdx
