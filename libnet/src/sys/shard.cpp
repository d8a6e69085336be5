#include <charconv>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/shard.hpp>

namespace netdx {

namespace {

__extension__ typedef unsigned __int128 U128;

std::uint64_t floor_div(std::uint64_t total, unsigned i, unsigned k) {
    return static_cast<std::uint64_t>(static_cast<U128>(total) * i / k);
}

std::optional<unsigned> parse_unsigned(std::string_view s) {
    unsigned v = 0;
    if (s.empty() || s.size() > 9) return std::nullopt;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

Shard make_shard(std::optional<unsigned> index, std::optional<unsigned> count,
                 std::string_view what) {
    if (!index || !count)
        throw ParseError(fmt::format("bad shard '{}': expected i/k, two whole numbers", what));
    if (*count == 0 || *count > kMaxShards)
        throw ParseError(
            fmt::format("bad shard '{}': the count must be 1 to {}", what, kMaxShards));
    if (*index >= *count)
        throw ParseError(fmt::format(
            "bad shard '{}': the index counts from 0, so it must be below {}", what, *count));
    return Shard{*index, *count};
}

} // namespace

std::uint64_t share(std::uint64_t total, unsigned index, unsigned count) {
    if (count == 0 || index >= count) throw std::invalid_argument("share: index out of range");
    return floor_div(total, index + 1, count) - floor_div(total, index, count);
}

Stripe Stripe::part(unsigned index, unsigned parts) const {
    if (parts == 0 || index >= parts) throw std::invalid_argument("Stripe::part: out of range");
    Stripe s;
    s.stride = stride * parts;
    if (!bounded()) {
        s.first = first + static_cast<std::uint64_t>(index) * stride;
        s.count = kUnbounded;
        return s;
    }
    // count = q·parts + r: the r parts whose share is q + 1 (those where ⌊(i+1)r/k⌋ steps)
    // take residues 0 … r-1 in order, the others r … parts-1: residue ρ owns q + 1 slots
    // exactly when ρ < r.
    const std::uint64_t r = count % parts;
    const std::uint64_t before = floor_div(r, index, parts); // big parts below index
    const bool big = floor_div(r, index + 1, parts) > before;
    const std::uint64_t residue = big ? before : r + (index - before);
    s.first = first + residue * stride;
    s.count = share(count, index, parts);
    return s;
}

Shard parse_shard(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos)
        throw ParseError(fmt::format("bad shard '{}': expected i/k (e.g. 0/3), or auto", text));
    return make_shard(parse_unsigned(text.substr(0, slash)), parse_unsigned(text.substr(slash + 1)),
                      text);
}

Shard shard_from_environment(const EnvLookup& env) {
    if (const auto s = env("NETDX_SHARD")) {
        try {
            return parse_shard(*s);
        } catch (const ParseError& e) {
            throw ParseError(std::string("NETDX_SHARD: ") + e.what());
        }
    }
    const auto procid = env("SLURM_PROCID");
    const auto ntasks = env("SLURM_NTASKS");
    if (procid || ntasks) {
        if (!procid || !ntasks)
            throw ParseError(fmt::format("--shard auto: {} is set but {} is not",
                                         procid ? "SLURM_PROCID" : "SLURM_NTASKS",
                                         procid ? "SLURM_NTASKS" : "SLURM_PROCID"));
        return make_shard(parse_unsigned(*procid), parse_unsigned(*ntasks),
                          fmt::format("SLURM_PROCID={} SLURM_NTASKS={}", *procid, *ntasks));
    }
    if (const auto index = env("JOB_COMPLETION_INDEX")) {
        const auto count = env("NETDX_SHARD_COUNT");
        if (!count)
            throw ParseError("--shard auto: JOB_COMPLETION_INDEX is set but NETDX_SHARD_COUNT is "
                             "not (set it to the Job's completions)");
        return make_shard(
            parse_unsigned(*index), parse_unsigned(*count),
            fmt::format("JOB_COMPLETION_INDEX={} NETDX_SHARD_COUNT={}", *index, *count));
    }
    throw ParseError("--shard auto: none of NETDX_SHARD, SLURM_PROCID/SLURM_NTASKS or "
                     "JOB_COMPLETION_INDEX/NETDX_SHARD_COUNT is set");
}

Shard shard_from_environment() {
    return shard_from_environment([](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    });
}

} // namespace netdx
