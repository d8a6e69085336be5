// netdx-tour: the suite's main job on embedded defaults — every tool that exists, run briefly
// on loopback, each step titled and its result shown.
#include <csignal>
#include <fcntl.h>
#include <iostream>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <climits>
#include <fmt/format.h>

#include <netdx/report/result.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/system_error.hpp>
#include <netdx/version.hpp>

#include "cli.hpp"
#include "interrupt.hpp"
#include "tool_registry.hpp"

namespace {

using namespace netdx;

const cli::ToolInfo kInfo{
    .name = "netdx-tour",
    .summary = std::string(registry::tool("netdx-tour").summary),
    .metrics = {{"failed_steps", Unit::count, "steps that did not exit 0"}},
    .ndjson = false,
    .csv = false,
    .subcommands = {},
    .delegate_prefix = {},
    .fail_if_example = "failed_steps>0",
};

struct Options {
    cli::CommonOptions common;
    std::vector<std::string> only;
};

void setup(CLI::App& app, Options& o) {
    cli::add_common_options(app, o.common, kInfo);
    app.add_option("--only", o.only, "Run only the steps whose tool is named (doctor, ...)")
        ->delimiter(',');
}

std::string self_dir() {
    char buf[PATH_MAX] = {};
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string path(buf, static_cast<std::size_t>(n));
    return path.substr(0, path.rfind('/'));
}

struct StepResult {
    int exit_code = 0;
    bool timed_out = false;
    Nanos elapsed = 0;
    std::string captured; ///< stdout, when captured (JSON mode)
};

/// Runs one step; stdout is inherited, or captured when `capture`. Kills it past the timeout.
StepResult run_step(const registry::TourStep& step, const std::string& dir, bool capture) {
    int pipefd[2] = {-1, -1};
    if (capture && ::pipe2(pipefd, O_CLOEXEC) != 0) throw_errno("creating a pipe for a tour step");
    const std::string path = dir + "/" + step.tool;
    std::vector<std::string> argv_s{step.tool};
    argv_s.insert(argv_s.end(), step.args.begin(), step.args.end());
    if (capture) argv_s.push_back("--json");
    std::vector<char*> argv;
    for (auto& a : argv_s)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    const Nanos start = monotonic_ns();
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork for a tour step");
    if (pid == 0) {
        if (capture) ::dup2(pipefd[1], STDOUT_FILENO);
        ::execv(path.c_str(), argv.data());
        std::fprintf(stderr, "netdx-tour: cannot run %s: %s\n", path.c_str(), std::strerror(errno));
        ::_exit(to_int(ExitCode::unavailable));
    }
    if (capture) ::close(pipefd[1]);
    StepResult r;
    bool killed = false;
    for (;;) {
        int status = 0;
        const pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        const Nanos now = monotonic_ns();
        if (!killed &&
            (now - start > step.timeout_seconds * kNanosPerSecond || cli::interrupted())) {
            r.timed_out = !cli::interrupted();
            ::kill(pid, cli::interrupted() ? SIGINT : SIGKILL);
            killed = true;
        }
        pollfd pfd{capture ? pipefd[0] : cli::interrupt_fd(), POLLIN, 0};
        if (::poll(&pfd, 1, 20) > 0 && capture) {
            char buf[4096];
            const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
            if (n > 0) r.captured.append(buf, static_cast<std::size_t>(n));
        }
    }
    if (capture) {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0)
            r.captured.append(buf, static_cast<std::size_t>(n));
        ::close(pipefd[0]);
    }
    r.elapsed = monotonic_ns() - start;
    return r;
}

int run(const Options& o) {
    cli::install_interrupt_handlers();
    const bool human = o.common.format == Format::table;
    const bool color = o.common.stdout_color();
    const auto dir = self_dir();
    auto steps = registry::tour_steps();
    if (!o.only.empty()) {
        std::erase_if(steps, [&](const registry::TourStep& s) {
            for (const auto& name : o.only)
                if (s.tool == "netdx-" + name || s.tool == name) return false;
            return true;
        });
        if (steps.empty()) throw ParseError("--only matched no step");
    }

    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    auto& table = report.section("steps", "Tour summary", Section::Kind::table);
    table.fields = {{"step", "step", Unit::count},      {"title", "title", Unit::none},
                    {"command", "command", Unit::none}, {"exit_code", "exit", Unit::none},
                    {"elapsed_ns", "time", Unit::ns},   {"result", "result", Unit::none}};
    nlohmann::json outputs = nlohmann::json::array();
    std::uint64_t failed = 0;
    for (std::size_t i = 0; i < steps.size() && !cli::interrupted(); ++i) {
        const auto& step = steps[i];
        std::string command = "netdx " + step.tool.substr(6);
        for (const auto& a : step.args)
            command += " " + a;
        if (human) {
            std::cout << paint(Style::heading,
                               fmt::format("Step {}/{}: {}", i + 1, steps.size(), step.title),
                               color)
                      << '\n'
                      << paint(Style::dim, step.explanation, color) << '\n'
                      << paint(Style::bold, "$ " + command, color) << "\n\n";
            cli::flush_stdout();
        }
        const auto r = run_step(step, dir, !human);
        const bool ok = r.exit_code == 0 && !r.timed_out;
        // A step that needs a privilege this run lacks (exit 77) is skipped, not failed.
        const bool skipped = !r.timed_out && r.exit_code == to_int(ExitCode::no_permission);
        if (!ok && !skipped) ++failed;
        std::string result = ok            ? "ok"
                             : skipped     ? "skipped: needs privilege"
                             : r.timed_out ? "timed out"
                                           : fmt::format("exit {}", r.exit_code);
        table.add_row({Cell(static_cast<std::uint64_t>(i + 1)), Cell(step.title), Cell(command),
                       Cell(static_cast<std::int64_t>(r.exit_code)), Cell(r.elapsed),
                       Cell(result, ok        ? Style::good
                                    : skipped ? Style::warn
                                              : Style::bad)});
        if (!human) {
            nlohmann::json out = nlohmann::json::parse(r.captured, nullptr, false);
            outputs.push_back(
                {{"step", i + 1}, {"output", out.is_discarded() ? nlohmann::json(nullptr) : out}});
        } else {
            std::cout << '\n';
        }
    }
    report.extra["outputs"] = std::move(outputs);
    report.interrupted = cli::interrupted();
    report.checks = evaluate(o.common.checks, {{"failed_steps", static_cast<double>(failed)}});
    const int code = cli::emit(report, o.common);
    if (code == 0 && failed > 0) return to_int(ExitCode::check_failed);
    return code;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    return cli::run_main(
        argc, argv, kInfo, [&](CLI::App& app) { setup(app, o); }, [&] { return run(o); });
}
