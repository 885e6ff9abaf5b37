// kernel_tls: the probe of the kernel's TLS offload.

#include "tls/kernel_tls.hh"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace pixelring {

kernel_tls_probe probe_kernel_tls(const char* path) {
    kernel_tls_probe p;
    std::ifstream in(path);
    std::string list, word;
    std::getline(in, list);
    std::istringstream words(list);
    while (words >> word)
        if (word == "tls") p.offered = true;
    if (!in && list.empty())
        p.log_line = fmt::format("kernel TLS off: {} cannot be read; records are encrypted in "
                                 "user space",
                                 path);
    else if (!p.offered)
        p.log_line = fmt::format("kernel TLS off: the kernel offers no \"tls\" upper-layer "
                                 "protocol ({}: \"{}\"; `modprobe tls` adds it where the module "
                                 "exists); records are encrypted in user space",
                                 path, list);
    else
        p.log_line = "kernel TLS off: the kernel offers it, but pixelring encrypts records in "
                     "user space (its OpenSSL sessions work on the worker's buffers, not on the "
                     "socket)";
    return p;
}

} // namespace pixelring
