#include "checks.hpp"

#include <limits>

#include <fmt/format.h>

#include <netdx/net/uring_probe.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/capabilities.hpp>
#include <netdx/sys/clock.hpp>
#include <netdx/sys/limits.hpp>
#include <netdx/sys/system_info.hpp>

namespace netdx::doctor {

std::string_view status_name(Status s) {
    switch (s) {
    case Status::ok:
        return "ok";
    case Status::info:
        return "info";
    case Status::warn:
        return "warn";
    case Status::absent:
        return "absent";
    }
    return "?";
}

namespace {

constexpr std::string_view kNotPresent = "not present";

std::string limit_text(std::uint64_t v) {
    return v == std::numeric_limits<std::uint64_t>::max() ? "unlimited" : format_count(v);
}

Check absent(std::string key, std::string title, std::string why) {
    return Check{std::move(key),
                 std::move(title),
                 std::string(kNotPresent),
                 std::nullopt,
                 Status::absent,
                 std::move(why),
                 {}};
}

class Builder {
public:
    explicit Builder(const Environment& env) : env_(env), fs_(env.fs) {}

    std::vector<Check> build() {
        system();
        descriptors();
        ports();
        queues();
        time_wait();
        conntrack();
        capabilities();
        io_uring();
        clock();
        return std::move(out_);
    }

private:
    void add(Check c) { out_.push_back(std::move(c)); }

    void system() {
        const auto info = read_system_info(fs_);
        add({"kernel",
             "kernel",
             info.kernel.empty() ? std::string(kNotPresent) : info.kernel,
             std::nullopt,
             Status::info,
             "io_uring, sock_diag and TCP defaults depend on it",
             {}});
        Check cpus{"cpus",
                   "CPUs",
                   fmt::format("{} online, {} usable", info.online_cpus, info.usable_cpus),
                   static_cast<double>(info.usable_cpus),
                   Status::ok,
                   "client and server compete for them: pin apart",
                   {}};
        if (info.usable_cpus < 2) {
            cpus.status = Status::warn;
            cpus.fix = "run on a machine (or cpuset) with 2+ CPUs, or expect client and server to "
                       "share one";
        }
        add(std::move(cpus));
        if (!info.cpu_model.empty())
            add({"cpu_model",
                 "CPU model",
                 info.cpu_model,
                 std::nullopt,
                 Status::info,
                 "recorded with every measurement",
                 {}});
        Check virt{"virtualization",
                   "virtualisation",
                   info.virtualization,
                   std::nullopt,
                   Status::info,
                   "VMs and containers add timing noise",
                   {}};
        if (info.virtualization == "none") virt.status = Status::ok;
        add(std::move(virt));
    }

    void descriptors() {
        if (env_.live) {
            const auto lim = nofile_limit();
            Check soft{"nofile_soft",
                       "RLIMIT_NOFILE soft",
                       limit_text(lim.soft),
                       static_cast<double>(lim.soft),
                       Status::ok,
                       "one fd per connection: caps them per process",
                       {}};
            if (lim.soft < 10'000) {
                soft.status = Status::warn;
                soft.fix =
                    fmt::format("ulimit -n {} (netdx tools raise soft to hard by themselves)",
                                limit_text(lim.hard));
            }
            add(std::move(soft));
            const auto caps = read_capabilities(fs_);
            const bool can_raise_hard = caps && caps->has(Capability::sys_resource);
            Check hard{"nofile_hard",
                       "RLIMIT_NOFILE hard",
                       fmt::format("{} ({} raise it)", limit_text(lim.hard),
                                   can_raise_hard ? "may" : "may not"),
                       static_cast<double>(lim.hard),
                       Status::ok,
                       "ceiling for the soft limit; past it, use processes",
                       {}};
            if (lim.hard < 65'536) {
                hard.status = Status::warn;
                hard.fix = "raise nofile in /etc/security/limits.conf or LimitNOFILE= (systemd); "
                           "netdx-flood/netdx-echo spread over processes past it";
            }
            add(std::move(hard));
        }
        if (auto nr_open = fs_.sysctl_int("fs.nr_open"))
            add({"nr_open",
                 "fs.nr_open",
                 format_count(static_cast<std::uint64_t>(*nr_open)),
                 static_cast<double>(*nr_open),
                 Status::info,
                 "the most any process's hard limit can be",
                 {}});
        else
            add(absent("nr_open", "fs.nr_open", "the most any process's hard limit can be"));
        if (auto file_nr = fs_.read_ints("/proc/sys/fs/file-nr"); file_nr && file_nr->size() >= 3) {
            const auto used = static_cast<std::uint64_t>((*file_nr)[0]);
            const auto max = static_cast<std::uint64_t>((*file_nr)[2]);
            Check c{"file_max",
                    "fs.file-max",
                    fmt::format("{} ({} in use)", limit_text(max), format_count(used)),
                    static_cast<double>(max),
                    Status::ok,
                    "open files system-wide; past it, ENFILE",
                    {}};
            if (max < 200'000) {
                c.status = Status::warn;
                c.fix = "sysctl -w fs.file-max=1000000";
            }
            add(std::move(c));
        } else if (auto file_max = fs_.sysctl_int("fs.file-max")) {
            add({"file_max",
                 "fs.file-max",
                 limit_text(static_cast<std::uint64_t>(*file_max)),
                 static_cast<double>(*file_max),
                 Status::ok,
                 "open files system-wide; past it, ENFILE",
                 {}});
        } else {
            add(absent("file_max", "fs.file-max", "open files system-wide; past it, ENFILE"));
        }
    }

    void ports() {
        const auto range = ephemeral_port_range(fs_);
        if (!range) {
            add(absent("ephemeral_ports", "ip_local_port_range",
                       "outbound connections per (source, destination) 4-tuple set"));
            return;
        }
        Check c{"ephemeral_ports",
                "ip_local_port_range",
                fmt::format("{}-{}: {} ports per destination", range->low, range->high,
                            format_count(range->size())),
                static_cast<double>(range->size()),
                Status::ok,
                "connects per source to one addr:port, then EADDRNOTAVAIL",
                {}};
        if (range->size() < 16'384) {
            c.status = Status::warn;
            c.fix = "sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\", or connect from more "
                    "source addresses";
        }
        add(std::move(c));
    }

    void queues() {
        if (auto v = fs_.sysctl_int("net.core.somaxconn")) {
            Check c{"somaxconn",
                    "net.core.somaxconn",
                    format_count(static_cast<std::uint64_t>(*v)),
                    static_cast<double>(*v),
                    Status::ok,
                    "caps every listen() backlog; overflow drops SYNs",
                    {}};
            if (*v < 4096) {
                c.status = Status::warn;
                c.fix = "sysctl -w net.core.somaxconn=65535";
            }
            add(std::move(c));
        } else
            add(absent("somaxconn", "net.core.somaxconn", "caps every listen() backlog"));
        if (auto v = fs_.sysctl_int("net.ipv4.tcp_max_syn_backlog")) {
            Check c{"tcp_max_syn_backlog",
                    "tcp_max_syn_backlog",
                    format_count(static_cast<std::uint64_t>(*v)),
                    static_cast<double>(*v),
                    Status::ok,
                    "half-open connections a listener may queue",
                    {}};
            if (*v < 1024) {
                c.status = Status::warn;
                c.fix = "sysctl -w net.ipv4.tcp_max_syn_backlog=8192";
            }
            add(std::move(c));
        } else
            add(absent("tcp_max_syn_backlog", "tcp_max_syn_backlog",
                       "half-open connections a listener may queue"));
        if (auto v = fs_.sysctl_int("net.ipv4.tcp_syncookies")) {
            Check c{"tcp_syncookies",
                    "tcp_syncookies",
                    std::to_string(*v),
                    static_cast<double>(*v),
                    Status::ok,
                    *v == 1   ? "SYN cookies when the SYN queue overflows"
                    : *v == 2 ? "SYN cookies always (SYN options are lost)"
                              : "off: a full SYN queue drops new connections",
                    {}};
            if (*v == 0) {
                c.status = Status::warn;
                c.fix = "sysctl -w net.ipv4.tcp_syncookies=1";
            } else if (*v == 2)
                c.status = Status::info;
            add(std::move(c));
        } else
            add(absent("tcp_syncookies", "tcp_syncookies",
                       "SYN cookies when the SYN queue overflows"));
    }

    void time_wait() {
        if (auto v = fs_.sysctl_int("net.ipv4.tcp_tw_reuse")) {
            const char* why = *v == 1   ? "outbound connects may reuse TIME_WAIT ports"
                              : *v == 2 ? "TIME_WAIT port reuse on loopback only (default)"
                                        : "off: connect/close loops run out of ports";
            add({"tcp_tw_reuse",
                 "tcp_tw_reuse",
                 std::to_string(*v),
                 static_cast<double>(*v),
                 *v == 0 ? Status::info : Status::ok,
                 why,
                 {}});
        } else
            add(absent("tcp_tw_reuse", "tcp_tw_reuse",
                       "reuse of TIME_WAIT ports by outbound connects"));
        if (auto v = fs_.sysctl_int("net.ipv4.tcp_fin_timeout"))
            add({"tcp_fin_timeout",
                 "tcp_fin_timeout",
                 format_duration(static_cast<double>(*v) * 1e9),
                 static_cast<double>(*v) * 1e9,
                 Status::info,
                 "orphan FIN_WAIT2 life; NOT TIME_WAIT (fixed 60s)",
                 {}});
        else
            add(absent("tcp_fin_timeout", "tcp_fin_timeout",
                       "life of an orphaned FIN_WAIT2 socket"));
        if (auto v = fs_.sysctl_int("net.ipv4.tcp_max_tw_buckets")) {
            Check c{"tcp_max_tw_buckets",
                    "tcp_max_tw_buckets",
                    format_count(static_cast<std::uint64_t>(*v)),
                    static_cast<double>(*v),
                    Status::ok,
                    "TIME_WAIT sockets kept; more are dropped at once",
                    {}};
            if (*v < 32'768) {
                c.status = Status::warn;
                c.fix = "sysctl -w net.ipv4.tcp_max_tw_buckets=262144";
            }
            add(std::move(c));
        } else
            add(absent("tcp_max_tw_buckets", "tcp_max_tw_buckets", "TIME_WAIT sockets kept"));
    }

    void conntrack() {
        const auto max = fs_.sysctl_int("net.netfilter.nf_conntrack_max");
        if (!max) {
            add({"nf_conntrack",
                 "nf_conntrack",
                 "not present (module not loaded)",
                 std::nullopt,
                 Status::absent,
                 "no connection-tracking table to fill up",
                 {}});
            return;
        }
        const auto count = fs_.sysctl_int("net.netfilter.nf_conntrack_count").value_or(0);
        Check c{"nf_conntrack",
                "nf_conntrack",
                fmt::format("{} of {} entries", format_count(static_cast<std::uint64_t>(count)),
                            format_count(static_cast<std::uint64_t>(*max))),
                static_cast<double>(*max),
                Status::ok,
                "one entry per tracked connection; full = drops",
                {}};
        if (*max < 262'144 || count * 10 > *max * 8) {
            c.status = Status::warn;
            c.fix = "sysctl -w net.netfilter.nf_conntrack_max=1048576 (or exempt test traffic with "
                    "notrack)";
        }
        add(std::move(c));
    }

    void capabilities() {
        const auto caps = read_capabilities(fs_);
        if (!caps) {
            add(absent("cap_net_raw", "CAP_NET_RAW", "live capture (netdx-trace -i)"));
            add(absent("cap_net_admin", "CAP_NET_ADMIN",
                       "netdx-states --kill, network namespaces"));
            return;
        }
        auto cap_check = [&](Capability cap, std::string key, std::string why, std::string fix) {
            const bool has = caps->has(cap);
            add({std::move(key), std::string(capability_name(cap)), has ? "yes" : "no",
                 has ? 1.0 : 0.0, has ? Status::ok : Status::info, std::move(why),
                 has ? std::string{} : std::move(fix)});
        };
        cap_check(Capability::net_raw, "cap_net_raw", "live capture (netdx-trace -i)",
                  "run as root, or: setcap cap_net_raw+ep $(command -v netdx-trace)");
        cap_check(Capability::net_admin, "cap_net_admin",
                  "netdx-states --kill, test network namespaces",
                  "run as root, or: setcap cap_net_admin+ep $(command -v netdx-states)");
    }

    void io_uring() {
        const auto disabled = fs_.sysctl_int("kernel.io_uring_disabled");
        if (!env_.live) {
            add({"io_uring",
                 "io_uring",
                 "not probed (replayed machine)",
                 std::nullopt,
                 Status::absent,
                 "newest readiness API, compared by netdx-mux",
                 {}});
            return;
        }
        const auto u = probe_io_uring();
        Check c{"io_uring",
                "io_uring",
                u.available ? (u.multishot_poll ? "yes (poll, multishot)" : "yes (poll)")
                            : "no: " + u.detail,
                u.available ? 1.0 : 0.0,
                u.available ? Status::ok : Status::info,
                "newest readiness API, compared by netdx-mux",
                {}};
        if (!u.available)
            c.fix = disabled && *disabled != 0
                        ? "sysctl -w kernel.io_uring_disabled=0"
                        : "a kernel >= 5.6 without a seccomp filter blocking io_uring_setup";
        add(std::move(c));
    }

    void clock() {
        const auto source =
            fs_.read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource")
                .value_or("");
        if (source.empty()) {
            add(absent("clocksource", "clock source", "decides what one timestamp costs"));
            return;
        }
        std::string value = source;
        std::optional<double> cost;
        if (env_.live) {
            cost = measure_clock_read_cost_ns();
            value += fmt::format(" ({} per read)", format_duration(*cost));
        }
        Check c{"clocksource",
                "clock source",
                value,
                cost,
                Status::ok,
                "a slow clock inflates sub-microsecond timings",
                {}};
        if (source != "tsc" && source != "arch_sys_counter" && source != "kvm-clock") {
            c.status = Status::warn;
            c.fix = "echo tsc > /sys/devices/system/clocksource/clocksource0/current_clocksource "
                    "(if listed in available_clocksource)";
        }
        add(std::move(c));
    }

    const Environment& env_;
    const SysfsReader& fs_;
    std::vector<Check> out_;
};

} // namespace

std::vector<Check> run_checks(const Environment& env) {
    return Builder(env).build();
}

} // namespace netdx::doctor
