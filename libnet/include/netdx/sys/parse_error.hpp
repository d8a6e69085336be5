#pragma once
/// The error every user-facing parser throws. what() names the bad token, e.g.
/// "bad port '70000' in '1.2.3.4:70000'". Tools map it to exit code 2 (usage).

#include <stdexcept>
#include <string>

namespace netdx {

class ParseError : public std::invalid_argument {
public:
    explicit ParseError(const std::string& message) : std::invalid_argument(message) {}
};

} // namespace netdx
