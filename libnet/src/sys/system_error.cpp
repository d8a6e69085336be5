#include <cstring>

#include <fmt/format.h>

#include <netdx/sys/system_error.hpp>

namespace netdx {

std::system_error system_error(int err, std::string_view context) {
    return std::system_error(err, std::generic_category(), std::string(context));
}

void throw_errno(std::string_view context) {
    throw system_error(errno, context);
}

std::string errno_name(int err) {
    // sigabbrev/strerrorname_np are glibc 2.32+; Debian 12 has 2.36.
    if (const char* name = ::strerrorname_np(err)) return name;
    return fmt::format("E{}", err);
}

} // namespace netdx
