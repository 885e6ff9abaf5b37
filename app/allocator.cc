#include "app/allocator.hh"

#include <cstdlib>
#include <gnu/libc-version.h>

#include <fmt/format.h>

#if defined(PIXELRING_WITH_MIMALLOC)
#include <mimalloc.h>
#endif

namespace pixelring {

std::string malloc_in_use() {
    std::string system = fmt::format("system (glibc {})", gnu_get_libc_version());
#if defined(PIXELRING_WITH_MIMALLOC)
    // Through a volatile pointer: the compiler may drop a malloc whose block is only freed.
    void* (*volatile allocate)(std::size_t) = std::malloc;
    void* block = allocate(64);
    const bool ours = block != nullptr && mi_is_in_heap_region(block);
    std::free(block);
    if (!ours) return system + ", mimalloc linked but not in use";
    const int v = mi_version(); // 209 for 2.0.9
    return fmt::format("mimalloc {}.{}.{}", v / 100, v / 10 % 10, v % 10);
#else
    return system;
#endif
}

} // namespace pixelring
