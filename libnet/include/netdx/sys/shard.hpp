#pragma once
/// Splitting one run across k machines (or k local workers) so that the parts add up to
/// exactly the one-machine run.
///
/// Counts: part i of k takes share(N, i, k) = ⌊(i+1)·N/k⌋ − ⌊i·N/k⌋, integers that always
/// sum to N (10 over 3: 3, 3, 4).
///
/// Schedules: a rate R is a global schedule of slots t_j = start + j/R. A Stripe is the
/// slots one part owns, first + m·stride for m = 0 … count-1; part i of k of a stripe takes
/// every k-th of its slots, so the parts interleave in time and their union is the stripe:
///
///   slots j:   0  1  2  3  4  5  6  7  8  9        N = 10, k = 3, shares 3 3 4
///   part 2:    x        x        x        x        residue 0: 4 slots
///   part 0:       x        x        x              residue 1
///   part 1:          x        x        x           residue 2
///
/// The residue of part i is chosen so that it owns exactly share(N, i, k) slots: the parts
/// whose share is one more get the low residues (there are N mod k of them). Stripes nest:
/// a machine's stripe split across its worker processes, and theirs across threads, still
/// unite to the one schedule.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace netdx {

struct Shard {
    unsigned index = 0; ///< 0-based, < count
    unsigned count = 1;
    bool operator==(const Shard&) const = default;
};

/// The most parts a run is split into (and the most a stripe is split into at once).
inline constexpr unsigned kMaxShards = 65'536;

/// ⌊(i+1)·N/k⌋ − ⌊i·N/k⌋ (exact for any 64-bit N); k ≥ 1, i < k.
[[nodiscard]] std::uint64_t share(std::uint64_t total, unsigned index, unsigned count);

struct Stripe {
    /// A stripe without an end (a run bounded by time, not by a count).
    static constexpr std::uint64_t kUnbounded = UINT64_MAX;
    std::uint64_t first = 0;
    std::uint64_t stride = 1;
    std::uint64_t count = kUnbounded;

    /// Part `index` of `count` parts: exactly share(this->count, index, parts) slots (all
    /// of an unbounded stripe's every parts-th, from residue `index`). Throws
    /// std::invalid_argument when index >= parts or parts is 0.
    [[nodiscard]] Stripe part(unsigned index, unsigned parts) const;
    /// The global slot of this stripe's m-th slot.
    [[nodiscard]] std::uint64_t slot(std::uint64_t m) const { return first + m * stride; }
    [[nodiscard]] bool bounded() const { return count != kUnbounded; }
    bool operator==(const Stripe&) const = default;
};

/// "i/k" with 0 <= i < k <= kMaxShards; throws ParseError naming the bad token.
[[nodiscard]] Shard parse_shard(std::string_view text);

/// `--shard auto`: the shard a batch system gave this process, from (first found)
///   NETDX_SHARD="i/k";  SLURM_PROCID and SLURM_NTASKS (srun);
///   JOB_COMPLETION_INDEX and NETDX_SHARD_COUNT (a Kubernetes Indexed Job: the index is set
///   by Kubernetes, the count is the Job's completions, which the manifest passes on).
/// `env` looks a variable up (nullopt: unset); throws ParseError saying which variable is
/// missing or wrong.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;
[[nodiscard]] Shard shard_from_environment(const EnvLookup& env);
/// The same, from this process's environment.
[[nodiscard]] Shard shard_from_environment();

} // namespace netdx
