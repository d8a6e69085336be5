#pragma once
/// --group-by: counting sockets by one or more keys, without awk.
///
///   --group-by state,process      key columns        count
///                                 close-wait  4242 java   2,000
///                                 time-wait   -            19,000
///
/// Rows are sorted by count (then by key), cut to --top N with one "(N more groups)" row
/// carrying the rest, so the rows always add up to the total.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <netdx/inspect/socket_owners.hpp>
#include <netdx/inspect/tcp_socket.hpp>

namespace netdx::states {

struct GroupKey {
    enum class Kind { state, lport, rport, laddr, raddr, rnet, lnet, tuple, process, uid };
    Kind kind = Kind::state;
    int prefix = 24;  ///< rnet/lnet only
    std::string name; ///< column title: "state", "rnet/24"
};

/// "state,rnet/24,process"; throws ParseError naming the bad key.
[[nodiscard]] std::vector<GroupKey> parse_group_keys(const std::string& text);
/// Whether any key needs socket owners (process).
[[nodiscard]] bool needs_owners(const std::vector<GroupKey>& keys);

struct GroupRow {
    std::vector<std::string> keys;
    std::uint64_t count = 0;
};

struct Grouped {
    std::vector<GroupRow> rows; ///< sorted, cut to top (+ one "more" row)
    std::uint64_t total = 0;
    std::uint64_t groups = 0; ///< before the cut
};

/// The text of one key for one socket ("-" for a process when there is no owner).
[[nodiscard]] std::string key_text(const GroupKey& key, const TcpSocket& s, const OwnerMap& owners);

[[nodiscard]] Grouped group_sockets(const std::vector<TcpSocket>& sockets,
                                    const std::vector<GroupKey>& keys, const OwnerMap& owners,
                                    std::size_t top);

} // namespace netdx::states
