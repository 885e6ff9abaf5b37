#include "sinks/write_all.hh"

#include <algorithm>
#include <cerrno>
#include <unistd.h>

namespace pixelring {

int write_all(int fd, iovec* parts, int count, std::size_t& done) {
    done = 0;
    while (count > 0) {
        if (parts->iov_len == 0) {
            ++parts;
            --count;
            continue;
        }
        const ssize_t n = ::writev(fd, parts, count);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        // A regular file never returns 0 for a non-empty write; should some device do so, an
        // error beats spinning.
        if (n == 0) return EIO;
        done += std::size_t(n);
        for (std::size_t left = std::size_t(n); left > 0;) {
            const std::size_t step = std::min(left, parts->iov_len);
            parts->iov_base = static_cast<char*>(parts->iov_base) + step;
            parts->iov_len -= step;
            left -= step;
            if (parts->iov_len == 0) {
                ++parts;
                --count;
            }
        }
    }
    return 0;
}

} // namespace pixelring
