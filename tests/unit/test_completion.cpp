#include <doctest/doctest.h>

#include <netdx/sys/parse_error.hpp>

#include "completion.hpp"

using namespace netdx::cli;

namespace {
CompletionModel model() {
    CompletionModel m;
    m.command = "netdx-x";
    m.options.push_back({{"json"}, {}, "Print JSON", false, false, false, {}});
    m.options.push_back({{"color", "colour"},
                         {},
                         "When: [auto] it's",
                         true,
                         false,
                         false,
                         {"auto", "always", "never"}});
    m.options.push_back({{"read"}, {"r"}, "Read a file", true, false, true, {}});
    m.options.push_back({{"fail-if"}, {}, "Check", true, true, false, {}});
    return m;
}
} // namespace

TEST_CASE("bash completion lists every flag and the choices") {
    const auto s = completion_script(model(), "bash");
    CHECK(s.find("complete -F _netdx_x netdx-x") != std::string::npos);
    CHECK(s.find("--json --color --colour --read -r --fail-if") != std::string::npos);
    CHECK(s.find("'auto always never'") != std::string::npos);
    CHECK(s.find("--read|-r)") != std::string::npos);
}

TEST_CASE("zsh completion escapes descriptions and marks repeatable options") {
    const auto s = completion_script(model(), "zsh");
    CHECK(s.find("#compdef netdx-x") == 0);
    CHECK(s.find("'--color=[When\\: \\[auto\\] it'\\''s]:value:(auto always never)'") !=
          std::string::npos);
    CHECK(s.find("'*--fail-if=[Check]:value: '") != std::string::npos);
    CHECK(s.find("'--read=[Read a file]:file:_files'") != std::string::npos);
}

TEST_CASE("fish completion") {
    const auto s = completion_script(model(), "fish");
    CHECK(s.find("complete -c netdx-x -l json -d 'Print JSON'") != std::string::npos);
    CHECK(s.find("-l color -l colour -x -a 'auto always never'") != std::string::npos);
    CHECK(s.find("-s r -l read -r -F") != std::string::npos);
}

TEST_CASE("unknown shells are a usage error") {
    CHECK_THROWS_AS((void)completion_script(model(), "tcsh"), netdx::ParseError);
}
