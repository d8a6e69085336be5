#pragma once
/// The descriptors netdx-mux watches: N sources, each a watched fd and a trigger that makes
/// it readable.
///
///   kind         watched          trigger           descriptors per source
///   pipe         read end         write end         2
///   socketpair   one end          the other         2
///   eventfd      the eventfd      the same eventfd  1
///   tcp          accepted socket  client socket     2 (loopback pair)
///
/// Placement: `spread` keeps the numbers the kernel hands out (low, interleaved with the
/// triggers); `high` moves the watched fds to the top of the RLIMIT_NOFILE range, which is
/// what select pays for (its cost follows the highest fd, not the count).

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <netdx/sys/fd.hpp>

namespace netdx::mux {

enum class FdKind { pipe, socketpair, eventfd, tcp };
enum class Placement { spread, high };

[[nodiscard]] std::string_view fd_kind_name(FdKind k);
[[nodiscard]] std::optional<FdKind> fd_kind_from_name(std::string_view name);
[[nodiscard]] std::size_t fds_per_source(FdKind k);

/// How many sources fit in `free_fds` descriptors.
[[nodiscard]] std::size_t max_sources(FdKind k, std::uint64_t free_fds);

class FdPool {
public:
    /// Throws std::system_error naming what was being made ("pipe 4,117 of 5,000: EMFILE").
    FdPool(FdKind kind, std::size_t n, Placement placement);

    [[nodiscard]] std::size_t size() const { return watched_.size(); }
    [[nodiscard]] int watched(std::size_t i) const { return watched_[i].get(); }
    /// Makes source i readable (one byte, or eventfd += 1).
    void make_ready(std::size_t i) const;
    /// Reads it back to EAGAIN (all sources are non-blocking): readable no more.
    void consume(std::size_t i) const;

private:
    FdKind kind_;
    std::vector<Fd> watched_;
    std::vector<Fd> triggers_; ///< empty for eventfd (the watched fd is its own trigger)
};

} // namespace netdx::mux
