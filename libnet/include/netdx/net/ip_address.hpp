#pragma once
/// An IPv4 or IPv6 address (no port), value type, ordered, hashable.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace netdx {

class IpAddress {
public:
    enum class Family : std::uint8_t { v4 = 4, v6 = 6 };

    IpAddress() = default; ///< 0.0.0.0
    static IpAddress v4(std::uint32_t host_order);
    static IpAddress v6(const std::array<std::uint8_t, 16>& bytes, std::uint32_t scope_id = 0);
    static IpAddress loopback_v4() { return v4(0x7f000001u); }

    /// Numeric address only ("127.0.0.1", "::1", "fe80::1%lo"); nullopt when `text` is not one.
    [[nodiscard]] static std::optional<IpAddress> from_string(std::string_view text);
    /// Like from_string but throws ParseError naming the token ("bad address 'x'").
    [[nodiscard]] static IpAddress parse(std::string_view text);

    [[nodiscard]] Family family() const { return family_; }
    [[nodiscard]] bool is_v4() const { return family_ == Family::v4; }
    [[nodiscard]] bool is_v6() const { return family_ == Family::v6; }
    /// 4 or 16 bytes, network order.
    [[nodiscard]] const std::uint8_t* bytes() const { return bytes_.data(); }
    [[nodiscard]] std::size_t size() const { return is_v4() ? 4 : 16; }
    [[nodiscard]] std::uint32_t v4_host_order() const;
    [[nodiscard]] std::uint32_t scope_id() const { return scope_id_; }

    [[nodiscard]] bool is_loopback() const;    ///< 127.0.0.0/8 or ::1
    [[nodiscard]] bool is_unspecified() const; ///< 0.0.0.0 or ::

    /// The address plus `n` (wrapping is reported as nullopt).
    [[nodiscard]] std::optional<IpAddress> plus(std::uint64_t n) const;
    /// Keeps the first `prefix_len` bits, zeroes the rest.
    [[nodiscard]] IpAddress masked(unsigned prefix_len) const;

    [[nodiscard]] std::string to_string() const;

    auto operator<=>(const IpAddress&) const = default;
    bool operator==(const IpAddress&) const = default;

private:
    Family family_ = Family::v4;
    std::array<std::uint8_t, 16> bytes_{};
    std::uint32_t scope_id_ = 0;
};

} // namespace netdx
