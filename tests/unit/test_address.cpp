#include <string>

#include <doctest/doctest.h>

#include <netdx/net/address_list.hpp>
#include <netdx/net/endpoint.hpp>
#include <netdx/net/host_port.hpp>
#include <netdx/net/resolver.hpp>
#include <netdx/sys/parse_error.hpp>

#include "parse_error_of.hpp"

using namespace netdx;

TEST_CASE("host:port forms") {
    auto hp = parse_host_port("127.0.0.1:7007", "x");
    CHECK(hp.host == "127.0.0.1");
    CHECK(hp.port == 7007);
    hp = parse_host_port("[::1]:80", "x");
    CHECK(hp.host == "::1");
    CHECK(hp.port == 80);
    CHECK(hp.to_string() == "[::1]:80");
    hp = parse_host_port("7007", "127.0.0.1");
    CHECK(hp.host == "127.0.0.1");
    CHECK(hp.port == 7007);
    hp = parse_host_port(":9", "127.0.0.1");
    CHECK(hp.host == "127.0.0.1");
    CHECK(hp.port == 9);
    hp = parse_host_port("localhost", "x", 7);
    CHECK(hp.host == "localhost");
    CHECK(hp.port == 7);
    hp = parse_host_port("::1", "x", 7);
    CHECK(hp.host == "::1");
    CHECK(hp.port == 7);
}

TEST_CASE("host:port errors name the bad token") {
    CHECK(parse_error_of([] { (void)parse_host_port("1.2.3.4:70000", "x"); }) ==
          "bad port '70000' in '1.2.3.4:70000'");
    CHECK(parse_error_of([] { (void)parse_host_port("1.2.3.4:http", "x"); }) ==
          "bad port 'http' in '1.2.3.4:http'");
    CHECK(parse_error_of([] {
              (void)parse_host_port("1.2.3.4", "x");
          }).find("missing port in '1.2.3.4'") == 0);
    CHECK(parse_error_of([] { (void)parse_host_port("[::1", "x"); }).find("missing ']'") == 0);
    CHECK(parse_error_of([] { (void)parse_host_port("[::1]x", "x"); }).find("unexpected 'x'") == 0);
    CHECK(parse_error_of([] { (void)parse_host_port("host:", "x"); }).find("missing port") == 0);
    CHECK(parse_error_of([] { (void)parse_host_port("", "x"); }) == "empty address");
    CHECK(parse_error_of([] {
              (void)parse_host_port("h:1-2", "x");
          }).find("range is not allowed") != std::string::npos);
}

TEST_CASE("port ranges for destination lists") {
    auto v = parse_host_port_range("127.0.0.1:8000-8003", "x");
    REQUIRE(v.size() == 4);
    CHECK(v.front().port == 8000);
    CHECK(v.back().port == 8003);
    CHECK(parse_host_port_range("127.0.0.1:8000", "x").size() == 1);
    CHECK(parse_error_of([] { (void)parse_host_port_range("h:9-8", "x"); }).find("low > high") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_host_port_range("h:1-65535", "x"); }).find("more than") !=
          std::string::npos);
}

TEST_CASE("IP addresses") {
    auto a = IpAddress::parse("127.0.0.1");
    CHECK(a.is_v4());
    CHECK(a.is_loopback());
    CHECK(a.to_string() == "127.0.0.1");
    auto b = IpAddress::parse("::1");
    CHECK(b.is_v6());
    CHECK(b.is_loopback());
    CHECK(IpAddress::parse("::").is_unspecified());
    CHECK(!IpAddress::from_string("256.1.1.1"));
    CHECK(!IpAddress::from_string("1.2.3"));
    CHECK(!IpAddress::from_string("fe80::1%"));
    CHECK(IpAddress::parse("127.0.0.255").plus(1)->to_string() == "127.0.1.0");
    CHECK(!IpAddress::parse("255.255.255.255").plus(1));
    CHECK(IpAddress::parse("10.1.2.3").masked(8).to_string() == "10.0.0.0");
    CHECK(IpAddress::parse("10.0.0.1") < IpAddress::parse("10.0.0.2"));
}

TEST_CASE("endpoints round-trip through sockaddr") {
    Endpoint e(IpAddress::parse("::1"), 7007);
    CHECK(e.to_string() == "[::1]:7007");
    CHECK(e.family() == AF_INET6);
    auto copy = Endpoint::from_sockaddr(e.sockaddr_ptr(), e.sockaddr_len());
    CHECK(copy == e);
    Endpoint v4(IpAddress::loopback_v4(), 9);
    CHECK(v4.to_string() == "127.0.0.1:9");
    CHECK(v4.port() == 9);
}

TEST_CASE("address lists: single, range, CIDR, mixed") {
    auto one = parse_address_list("127.0.0.2");
    REQUIRE(one.size() == 1);
    auto range = parse_address_list("127.0.0.2-127.0.0.9");
    REQUIRE(range.size() == 8);
    CHECK(range.front().to_string() == "127.0.0.2");
    CHECK(range.back().to_string() == "127.0.0.9");
    auto cidr = parse_address_list("127.0.0.0/29");
    REQUIRE(cidr.size() == 8);
    CHECK(cidr.back().to_string() == "127.0.0.7");
    auto mixed = parse_address_list("127.0.0.1, 127.0.0.0/30,::1");
    CHECK(mixed.size() == 5); // 127.0.0.1 appears twice: kept once
    auto v6 = parse_address_list("::1-::3");
    CHECK(v6.size() == 3);
    auto cross = parse_address_list("127.0.0.254-127.0.1.1");
    CHECK(cross.size() == 4);
}

TEST_CASE("address list errors") {
    CHECK(parse_error_of([] {
              (void)parse_address_list("127.0.0.9-127.0.0.2");
          }).find("backwards") != std::string::npos);
    CHECK(parse_error_of([] { (void)parse_address_list("127.0.0.1-::1"); }).find("mixes") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_address_list("10.0.0.0/33"); }).find("'/33'") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_address_list("10.0.0.x"); }).find("'10.0.0.x'") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_address_list("10.0.0.0/8"); }).find("more than") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_address_list("::/64"); }).find("more than") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_address_list("1.1.1.1,,2.2.2.2"); }).find("empty item") !=
          std::string::npos);
    CHECK(parse_error_of([] {
              (void)parse_address_list("1.0.0.0-1.1.0.0", 1000);
          }).find("more than") != std::string::npos);
}

TEST_CASE("CIDR containment") {
    auto c = Cidr::parse("127.0.0.0/8");
    CHECK(c.contains(IpAddress::parse("127.1.2.3")));
    CHECK(!c.contains(IpAddress::parse("10.0.0.1")));
    CHECK(!c.contains(IpAddress::parse("::1")));
    CHECK(Cidr::parse("10.1.2.3/16").to_string() == "10.1.0.0/16");
}

TEST_CASE("resolver: numeric, localhost, failure as a value") {
    auto r = resolve({"127.0.0.1", 7});
    REQUIRE(r.ok());
    REQUIRE(r.endpoints.size() == 1);
    CHECK(r.endpoints[0].to_string() == "127.0.0.1:7");
    auto lh = resolve({"localhost", 7}, AddressFamily::v4);
    REQUIRE(lh.ok());
    CHECK(lh.endpoints[0].ip().is_loopback());
    auto bad = resolve({"no-such-host.invalid", 7});
    CHECK(!bad.ok());
    CHECK(bad.error.find("cannot resolve 'no-such-host.invalid'") == 0);
    auto wrong_family = resolve({"127.0.0.1", 7}, AddressFamily::v6);
    CHECK(!wrong_family.ok());
}
