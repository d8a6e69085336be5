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
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <netdx/inspect/socket_owners.hpp>
#include <netdx/inspect/tcp_socket.hpp>

namespace netdx::states {

struct GroupKey {
    enum class Kind { state, lport, rport, laddr, raddr, rnet, lnet, tuple, process, uid, cgroup };
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

/// What key texts are made from besides the socket: owners (process) and cgroup paths.
struct KeyContext {
    const OwnerMap* owners = nullptr;
    const std::unordered_map<std::uint64_t, std::string>* cgroups = nullptr;
};

/// The text of one key for one socket ("-" for a process when there is no owner).
[[nodiscard]] std::string key_text(const GroupKey& key, const TcpSocket& s, const KeyContext& ctx);

/// Counts sockets by keys as they stream in: a compact binary key per socket, text only
/// once per group when the result is made. Owners must be known before add() when a key is
/// `process` (ctx.owners); cgroup paths are only needed by result().
class Grouper {
public:
    explicit Grouper(std::vector<GroupKey> keys, const OwnerMap* owners = nullptr);
    Grouper(const Grouper&) = delete; // last_ points into this grouper's map
    Grouper& operator=(const Grouper&) = delete;
    Grouper(Grouper&&) = default; // the map's nodes move with it
    Grouper& operator=(Grouper&&) = default;
    void add(const TcpSocket& s);
    /// The cgroup ids the result will name (to resolve them once, for these only).
    [[nodiscard]] std::unordered_set<std::uint64_t> cgroup_ids() const;
    [[nodiscard]] Grouped result(std::size_t top, const KeyContext& ctx) const;
    [[nodiscard]] const std::vector<GroupKey>& keys() const { return keys_; }

private:
    struct Acc {
        std::uint64_t count = 0;
        TcpSocket first; ///< a socket of the group, to format its key text
    };
    std::vector<GroupKey> keys_;
    const OwnerMap* owners_;
    std::unordered_map<std::string, Acc> acc_;
    std::string raw_;      ///< scratch for add()
    std::string last_raw_; ///< the previous socket's key ...
    Acc* last_ = nullptr;  ///< ... and its group
    std::uint64_t total_ = 0;
};

} // namespace netdx::states
