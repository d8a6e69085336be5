#pragma once
/// Colour policy: --color=auto|always|never. auto colours only a terminal, and honours
/// NO_COLOR (https://no-color.org) and TERM=dumb; always overrides both; JSON, NDJSON and CSV
/// are never coloured whatever the mode.

#include <string>
#include <string_view>

namespace netdx {

enum class ColorMode { auto_detect, always, never };

/// "auto", "always", "never" (throws ParseError otherwise).
[[nodiscard]] ColorMode parse_color_mode(std::string_view text);

/// Whether output written to `fd` in a human format gets colour.
[[nodiscard]] bool color_enabled(ColorMode mode, int fd);

enum class Style { plain, good, warn, bad, dim, bold, heading };

/// `text` wrapped in the ANSI sequence for `style` when `enabled`.
[[nodiscard]] std::string paint(Style style, std::string_view text, bool enabled);

} // namespace netdx
