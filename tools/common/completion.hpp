#pragma once
/// Shell completion scripts generated from a tool's CLI definition, so they cannot drift.

#include <string>
#include <string_view>
#include <vector>

namespace netdx::cli {

struct CompletionModel {
    struct Option {
        std::vector<std::string> longs;  ///< without dashes
        std::vector<std::string> shorts; ///< without dash
        std::string description;
        bool takes_value = false;
        bool repeatable = false;
        bool file = false;
        std::vector<std::string> choices;
    };
    struct Subcommand {
        std::string name;
        std::string description;
    };
    std::string command; ///< "netdx-doctor"
    std::vector<Option> options;
    std::vector<Subcommand> subcommands; ///< for the umbrella: the tools
    /// With subcommands: after `cmd sub`, complete as the command `delegate_prefix + sub`.
    std::string delegate_prefix;
    bool positional_files = false;
};

/// "bash", "zsh" or "fish"; throws ParseError for anything else.
[[nodiscard]] std::string completion_script(const CompletionModel& model, std::string_view shell);

} // namespace netdx::cli
