#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include <fmt/format.h>

#include <netdx/report/color.hpp>
#include <netdx/sys/parse_error.hpp>

namespace netdx {

ColorMode parse_color_mode(std::string_view text) {
    if (text == "auto") return ColorMode::auto_detect;
    if (text == "always") return ColorMode::always;
    if (text == "never") return ColorMode::never;
    throw ParseError(fmt::format("bad colour mode '{}' (use auto, always or never)", text));
}

bool color_enabled(ColorMode mode, int fd) {
    switch (mode) {
    case ColorMode::always:
        return true;
    case ColorMode::never:
        return false;
    case ColorMode::auto_detect:
        break;
    }
    if (const char* no = std::getenv("NO_COLOR"); no != nullptr && no[0] != '\0') return false;
    if (const char* term = std::getenv("TERM"); term == nullptr || std::strcmp(term, "dumb") == 0)
        return false;
    return ::isatty(fd) == 1;
}

std::string paint(Style style, std::string_view text, bool enabled) {
    if (!enabled || style == Style::plain) return std::string(text);
    const char* code = "";
    switch (style) {
    case Style::good:
        code = "32";
        break;
    case Style::warn:
        code = "33";
        break;
    case Style::bad:
        code = "1;31";
        break;
    case Style::dim:
        code = "2";
        break;
    case Style::bold:
        code = "1";
        break;
    case Style::heading:
        code = "1;4";
        break;
    case Style::plain:
        break;
    }
    return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

} // namespace netdx
