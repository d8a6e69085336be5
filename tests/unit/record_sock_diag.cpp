// Records a live sock_diag TCP dump (both families) to a fixture file for the unit tests:
//   record_sock_diag OUT.bin
// tests/fixtures/sock_diag/make.sh builds a known population in a network namespace and
// runs this inside it.
#include <fstream>
#include <iostream>
#include <sys/socket.h>

#include <netdx/inspect/sock_diag.hpp>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: record_sock_diag OUT.bin\n";
        return 2;
    }
    std::ofstream out(argv[1], std::ios::binary);
    for (int family : {AF_INET, AF_INET6}) {
        netdx::DiagRequest req;
        req.family = family;
        const auto r = netdx::dump_tcp_sockets(
            req, [](const netdx::TcpSocket&) {},
            [&](std::span<const std::byte> d) { netdx::write_recorded_datagram(out, d); });
        if (!r.ok) {
            std::cerr << r.error << '\n';
            return 1;
        }
        std::cerr << "family " << family << ": " << r.records << " sockets\n";
    }
    return out ? 0 : 1;
}
