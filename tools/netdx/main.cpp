// netdx: the umbrella. `netdx <tool> [args]` runs `netdx-<tool>` from the directory this binary
// lives in (git-style), falling back to PATH; `netdx --help` lists the tools.
#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>
#include <climits>
#include <fmt/format.h>

#include <netdx/report/exit_code.hpp>

#include "cli.hpp"
#include "tool_registry.hpp"

namespace {

using namespace netdx;

std::string self_dir() {
    char buf[PATH_MAX] = {};
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return {};
    std::string path(buf, static_cast<std::size_t>(n));
    return path.substr(0, path.rfind('/'));
}

std::string tool_list() {
    std::string s = "Tools:\n";
    for (const auto& t : registry::kTools)
        if (t.listed) s += fmt::format("  {:<8}  {}\n", t.name, t.summary);
    s += "\nRun 'netdx <tool> --help' for a tool's options; 'man netdx' for the concepts.";
    return s;
}

int dispatch(int argc, char** argv) {
    const std::string name = argv[1];
    bool known = false;
    for (const auto& t : registry::kTools)
        known = known || (t.listed && t.name == name);
    const std::string binary = "netdx-" + name;
    std::vector<char*> args;
    args.push_back(const_cast<char*>(binary.c_str()));
    for (int i = 2; i < argc; ++i)
        args.push_back(argv[i]);
    args.push_back(nullptr);
    if (const auto dir = self_dir(); !dir.empty()) {
        const std::string beside = dir + "/" + binary;
        if (::access(beside.c_str(), X_OK) == 0) {
            ::execv(beside.c_str(), args.data());
            std::cerr << fmt::format("netdx: cannot run {}: {}\n", beside, std::strerror(errno));
            return to_int(ExitCode::system);
        }
    }
    ::execvp(binary.c_str(), args.data());
    if (!known) {
        std::cerr << fmt::format("netdx: error: '{}' is not a netdx tool\n{}\n", name, tool_list());
        return to_int(ExitCode::usage);
    }
    std::cerr << fmt::format(
        "netdx: cannot run {}: {} (is it installed beside netdx or on PATH?)\n", binary,
        std::strerror(errno));
    return to_int(ExitCode::unavailable);
}

cli::ToolInfo info() {
    cli::ToolInfo i{.name = "netdx",
                    .summary = std::string(registry::tool("netdx").summary),
                    .metrics = {},
                    .ndjson = false,
                    .csv = false,
                    .subcommands = {},
                    .delegate_prefix = "netdx-",
                    .fail_if_example = {}};
    for (const auto& t : registry::kTools)
        if (t.listed) i.subcommands.emplace_back(t.name, t.summary);
    return i;
}

} // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && argv[1][0] != '-' && argv[1][0] != '\0') return dispatch(argc, argv);
    const auto tool_info = info();
    return cli::run_main(
        argc, argv, tool_info, [](CLI::App& app) { app.footer(tool_list()); },
        [] {
            std::cerr << "netdx: error: no tool given\nTry 'netdx --help' for the list.\n";
            return to_int(ExitCode::usage);
        });
}
