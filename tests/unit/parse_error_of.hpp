#pragma once
// The message of the ParseError `fn` throws, or "(no error)": parse tests compare messages.

#include <string>

#include <netdx/sys/parse_error.hpp>

template <typename Fn>
std::string parse_error_of(Fn&& fn) {
    try {
        fn();
    } catch (const netdx::ParseError& e) {
        return e.what();
    }
    return "(no error)";
}
