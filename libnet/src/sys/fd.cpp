#include <unistd.h>

#include <netdx/sys/fd.hpp>

namespace netdx {

void Fd::reset(int fd) noexcept {
    if (fd_ >= 0 && fd_ != fd) ::close(fd_);
    fd_ = fd;
}

} // namespace netdx
