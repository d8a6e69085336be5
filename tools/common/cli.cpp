#include "cli.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <netdx/net/event_loop.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/version.hpp>

#include "completion.hpp"
#include "interrupt.hpp"

namespace netdx::cli {

namespace {

/// Completion hints CLI11 has no slot for, keyed by option.
std::map<const CLI::Option*, std::vector<std::string>>& choice_registry() {
    static std::map<const CLI::Option*, std::vector<std::string>> r;
    return r;
}
std::map<const CLI::Option*, bool>& file_registry() {
    static std::map<const CLI::Option*, bool> r;
    return r;
}

template <typename T, typename Parse>
CLI::Option* add_parsed(CLI::App& app, const std::string& name, T& out, const std::string& desc,
                        const char* type_name, Parse parse) {
    auto* opt = app.add_option_function<std::string>(
        name,
        [&out, parse, name](const std::string& text) {
            try {
                out = parse(text);
            } catch (const ParseError& e) {
                throw CLI::ValidationError(name, e.what());
            }
        },
        desc);
    opt->type_name(type_name);
    return opt;
}

CompletionModel model_from(const CLI::App& app, const ToolInfo& info) {
    CompletionModel m;
    m.command = info.name;
    for (const auto& [name, desc] : info.subcommands)
        m.subcommands.push_back({name, desc});
    m.delegate_prefix = info.delegate_prefix;
    for (const CLI::Option* opt : app.get_options()) {
        if (opt->get_group().empty()) continue; // hidden
        if (!opt->nonpositional()) {
            if (file_registry().count(opt)) m.positional_files = true;
            continue;
        }
        CompletionModel::Option o;
        o.longs = opt->get_lnames();
        o.shorts = opt->get_snames();
        o.description = opt->get_description();
        o.takes_value = opt->get_items_expected_max() > 0; // flags expect 0 items
        o.repeatable = opt->get_expected_max() > 1 ||
                       opt->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
        if (auto it = choice_registry().find(opt); it != choice_registry().end())
            o.choices = it->second;
        o.file = file_registry().count(opt) > 0;
        m.options.push_back(std::move(o));
    }
    return m;
}

std::string one_line(const std::string& message) {
    std::string line = message;
    for (auto& c : line)
        if (c == '\n') c = ' ';
    while (!line.empty() && line.back() == ' ')
        line.pop_back();
    return line;
}

void print_usage_error(const std::string& tool, const std::string& message) {
    std::cerr << fmt::format("{}: error: {}\nTry '{} --help' for more information.\n", tool,
                             one_line(message), tool);
}

/// The format asked on the command line, read before (and whatever) the parse: a usage
/// error under --json still owes the caller a JSON document.
Format requested_format(int argc, char** argv) {
    Format f = Format::table;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--") break;
        if (a == "--json") f = Format::json;
        if (a == "--ndjson") f = Format::ndjson;
    }
    return f;
}

/// Prints the error envelope on stdout under --json/--ndjson (never throws: stdout may be
/// the thing that failed).
void print_error_document(Format f, const ToolInfo& info, ExitCode code, const std::string& msg) {
    if (f != Format::json && f != Format::ndjson) return;
    try {
        auto doc = error_document(info.name, kVersion, code, one_line(msg));
        doc["schema_version"] = kSchemaVersion;
        doc["run"] = to_json(current_run());
        if (f == Format::ndjson) {
            auto line = doc["error"];
            line["type"] = "error";
            write_stdout(run_line_once() + dump_json(line) + "\n");
        } else {
            write_stdout(dump_json(doc, 2) + "\n");
        }
    } catch (const std::exception&) {
    }
}

} // namespace

bool CommonOptions::stdout_color() const {
    return format == Format::table && color_enabled(color, STDOUT_FILENO);
}
bool CommonOptions::stderr_color() const {
    return color_enabled(color, STDERR_FILENO);
}

void add_distribution_options(CLI::App& app, DistributionOptions& out,
                              const std::string& share_what) {
    const std::string group = "Distributed runs";
    app.add_option("--shard", out.shard,
                   "This agent's part of a run split across k agents: i/k (i from 0), or auto "
                   "(NETDX_SHARD, SLURM_PROCID/SLURM_NTASKS, or JOB_COMPLETION_INDEX with "
                   "NETDX_SHARD_COUNT); splits " +
                       share_what + " exactly, and interleaves the schedules")
        ->type_name("i/k|auto")
        ->group(group);
    app.add_option("--start-at", out.start_at,
                   "Set up first, then start at this instant: RFC 3339, seconds since the epoch, "
                   "or +DURATION from now; times in the report count from it")
        ->type_name("TIME")
        ->group(group);
    add_duration(app, "--start-late-max", out.start_late_max,
                 "Refuse to start when the set-up ends later than --start-at by more than this "
                 "(default 100ms)")
        ->group(group);
}

void add_common_options(CLI::App& app, CommonOptions& common, const ToolInfo& info) {
    const std::string group = "Output";
    app.add_option_function<std::string>(
           "--run-id",
           [](const std::string& id) {
               if (id.empty()) throw CLI::ValidationError("--run-id", "empty run id");
               current_run().id = id;
           },
           "The run's id in the JSON run block (default: random); the agents of one "
           "distributed run share it")
        ->type_name("ID")
        ->group(group);
    app.add_option_function<std::string>(
           "--agent",
           [](const std::string& name) {
               if (name.empty()) throw CLI::ValidationError("--agent", "empty agent name");
               current_run().agent = name;
           },
           "This machine's name in the JSON run block (default: the host name)")
        ->type_name("NAME")
        ->group(group);
    auto* json = app.add_flag_callback(
        "--json", [&common] { common.format = Format::json; },
        "Print the result as one JSON document");
    json->group(group);
    std::vector<CLI::Option*> formats{json};
    if (info.ndjson) {
        formats.push_back(app.add_flag_callback(
                                 "--ndjson", [&common] { common.format = Format::ndjson; },
                                 "Print newline-delimited JSON records (one per line)")
                              ->group(group));
    }
    if (info.csv) {
        formats.push_back(app.add_flag_callback(
                                 "--csv", [&common] { common.format = Format::csv; },
                                 "Print the main table as CSV")
                              ->group(group));
    }
    for (auto* a : formats)
        for (auto* b : formats)
            if (a != b) a->excludes(b);
    auto* color = app.add_option_function<std::string>(
        "--color,--colour",
        [&common](const std::string& text) {
            try {
                common.color = parse_color_mode(text);
            } catch (const ParseError& e) {
                throw CLI::ValidationError("--color", e.what());
            }
        },
        "Colour: auto (terminal, unless NO_COLOR is set), always or never");
    color->type_name("WHEN")->group(group);
    choice_registry()[color] = {"auto", "always", "never"};
    app.add_flag("-q,--quiet", common.quiet, "No progress or warnings on stderr")->group(group);
    if (!info.metrics.empty()) {
        std::string names;
        for (const auto& m : info.metrics)
            names += (names.empty() ? "" : ", ") + m.name;
        auto metrics = info.metrics;
        app.add_option_function<std::vector<std::string>>(
               "--fail-if",
               [&common, metrics](const std::vector<std::string>& texts) {
                   for (const auto& text : texts) {
                       try {
                           common.checks.push_back(parse_threshold(text, metrics));
                       } catch (const ParseError& e) {
                           throw CLI::ValidationError("--fail-if", e.what());
                       }
                   }
               },
               "Exit 1 when the check holds, e.g. '" +
                   (info.fail_if_example.empty() ? info.metrics.front().name + ">0"
                                                 : info.fail_if_example) +
                   "'; repeatable. Metrics: " + names)
            ->type_name("CHECK")
            ->group("Checks");
    }
}

CLI::Option* add_duration(CLI::App& app, const std::string& name, Nanos& out,
                          const std::string& desc) {
    return add_parsed(app, name, out, desc, "DURATION",
                      [](const std::string& t) { return parse_duration_ns(t); });
}
CLI::Option* add_size(CLI::App& app, const std::string& name, std::uint64_t& out,
                      const std::string& desc) {
    return add_parsed(app, name, out, desc, "SIZE",
                      [](const std::string& t) { return parse_size(t); });
}
CLI::Option* add_rate(CLI::App& app, const std::string& name, double& out,
                      const std::string& desc) {
    return add_parsed(app, name, out, desc, "RATE",
                      [](const std::string& t) { return parse_rate(t); });
}
CLI::Option* add_count(CLI::App& app, const std::string& name, std::uint64_t& out,
                       const std::string& desc) {
    return add_parsed(app, name, out, desc, "N",
                      [](const std::string& t) { return parse_count(t); });
}

CLI::Option* add_choice(CLI::App& app, const std::string& name, std::string& out,
                        const std::vector<std::string>& choices, const std::string& desc) {
    auto* opt = app.add_option(name, out, desc)->check(CLI::IsMember(choices));
    choice_registry()[opt] = choices;
    return opt;
}

CLI::Option* add_backend(CLI::App& app, std::string& out, const std::vector<std::string>& choices,
                         const std::string& what_uring_is) {
    out = choices.front();
    std::string names;
    for (const auto& c : choices)
        names += (names.empty() ? "" : ", ") + c;
    return add_choice(app, "--backend", out, choices,
                      fmt::format("Backend of the event loop: {} (default {}; uring is {})", names,
                                  choices.front(),
                                  what_uring_is.empty() ? "io_uring poll, re-armed after each event"
                                                        : what_uring_is));
}

Backend loop_backend(const std::string& name) {
    const auto b = loop_backend_from_name(name);
    if (!b) throw ParseError(fmt::format("--backend: unknown backend '{}'", name));
    const auto probe = probe_backend(*b);
    if (!probe.available)
        throw ToolFailure(ExitCode::unavailable,
                          fmt::format("--backend {}: not available here: {}", name, probe.reason));
    return *b;
}

void mark_file(CLI::Option* option) {
    file_registry()[option] = true;
    option->type_name("FILE");
}

void flush_stdout() {
    errno = 0;
    std::cout.flush();
    int err = errno; // the write(2) error behind a failed flush, before anything overwrites it
    const bool stream_ok = static_cast<bool>(std::cout);
    if (std::fflush(stdout) != 0 && err == 0) err = errno;
    if (!stream_ok || std::ferror(stdout)) {
        if (err == 0) err = EIO;
        throw OutputError(fmt::format("cannot write output: {}", std::strerror(err)), err);
    }
}

void write_stdout(std::string_view text) {
    flush_stdout(); // keep order with anything already written through std::cout
    while (!text.empty()) {
        const ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : EIO;
            throw OutputError(fmt::format("cannot write output: {}", std::strerror(err)), err);
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

RunInfo& current_run() {
    static RunInfo run;
    return run;
}

void stamp_run(Report& report) {
    report.run = to_json(current_run());
}

std::string run_line_once() {
    static bool written = false;
    if (written) return {};
    written = true;
    // Spelt out so that "type" leads, as on every other line (a json object sorts its keys).
    return fmt::format("{{\"type\":\"run\",\"schema_version\":{},\"run\":{}}}\n", kSchemaVersion,
                       dump_json(to_json(current_run())));
}

int emit(Report& report, const CommonOptions& common) {
    stamp_run(report);
    ReporterOptions ro;
    ro.color = common.stdout_color();
    auto reporter = make_reporter(common.format, ro);
    std::ostringstream buffer;
    if (common.format == Format::ndjson) buffer << run_line_once();
    reporter->write(report, buffer);
    write_stdout(buffer.str());
    if (report.failure && !report.failure->message.empty())
        std::cerr << report.tool << ": " << report.failure->message << '\n';
    return to_int(report.exit_code());
}

IntervalStream::IntervalStream(const CommonOptions& common, std::string key)
    : format_(common.format), key_(std::move(key)) {}

IntervalStream::~IntervalStream() = default;

void IntervalStream::write(const Section& section, std::string_view prefix) {
    // --json promises one document: the stream keeps the rows for the final report.
    if (!stream_) {
        stream_ = std::make_unique<RecordStream>(format_, section.name, section.fields,
                                                 [](std::string_view text) { write_stdout(text); });
        if (format_ == Format::ndjson) write_stdout(run_line_once()); // the stream opens with it
    }
    for (const auto& row : section.rows) {
        ++count_;
        stream_->write(row, prefix);
    }
}

void IntervalStream::into(Report& report) const {
    if (format_ == Format::json)
        report.extra[key_] = nlohmann::json::parse(stream_ ? stream_->json_array() : "[]");
}

void warn(const CommonOptions& common, const std::string& tool, const std::string& text) {
    if (common.quiet) return;
    std::cerr << tool << ": " << paint(Style::warn, "warning:", common.stderr_color()) << ' '
              << text << '\n';
}

int run_main(int argc, char** argv, const ToolInfo& info,
             const std::function<void(CLI::App&)>& setup, const std::function<int()>& run) {
    // Stdout is fully buffered when it is not a terminal; results are written in one go.
    std::ios::sync_with_stdio(false);
    current_run() = RunInfo::capture(argc, argv); // before anything runs: the start instant
    CLI::App app{info.summary, info.name};
    app.set_version_flag("-V,--version", std::string(info.name) + " " + kVersion);
    std::string completion_shell;
    app.add_option("--generate-completion", completion_shell, "Print a shell completion script")
        ->group("") // hidden
        ->check(CLI::IsMember({"bash", "zsh", "fish"}));
    const Format format = requested_format(argc, argv);
    auto usage = [&](const std::string& message) {
        print_usage_error(info.name, message);
        print_error_document(format, info, ExitCode::usage, message);
        return to_int(ExitCode::usage);
    };
    auto failed = [&](ExitCode code, const std::string& message) {
        std::cerr << info.name << ": " << message << '\n';
        print_error_document(format, info, code, message);
        return to_int(code);
    };
    try {
        setup(app);
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return 0;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app.help("", CLI::AppFormatMode::All);
        return 0;
    } catch (const CLI::CallForVersion&) {
        std::cout << info.name << ' ' << kVersion << '\n';
        return 0;
    } catch (const CLI::ParseError& e) {
        return usage(e.what());
    } catch (const ParseError& e) {
        return usage(e.what());
    }
    try {
        if (!completion_shell.empty()) {
            std::cout << completion_script(model_from(app, info), completion_shell);
            flush_stdout();
            return 0;
        }
        return run();
    } catch (const ParseError& e) {
        return usage(e.what());
    } catch (const ToolFailure& e) {
        return failed(e.code, e.what());
    } catch (const OutputError& e) {
        if (e.error != EPIPE) std::cerr << info.name << ": " << e.what() << '\n';
        return to_int(ExitCode::output); // no document: stdout is what failed
    } catch (const std::system_error& e) {
        const int err = e.code().value();
        const bool privilege =
            e.code().category() == std::generic_category() && (err == EACCES || err == EPERM);
        return failed(privilege ? ExitCode::no_permission : ExitCode::system, e.what());
    } catch (const std::exception& e) {
        return failed(ExitCode::system, std::string("internal error: ") + e.what());
    }
}

} // namespace netdx::cli
