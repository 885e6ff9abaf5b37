// The count behind tests/support/counting_allocator.hh; the OBJECT library
// pixelring_counting_allocator, linked as an object into each test that includes it, once.
// Under ASan or TSan the runtime owns malloc, so its allocator hook counts, and it sees every
// allocation, operator new included. Otherwise this executable interposes glibc's allocation
// functions and forwards to glibc's own entry points; libstdc++'s operator new calls malloc or
// aligned_alloc, so it is counted too. operator new itself is not replaced: ASan goes on
// checking that every new meets its own delete. (GCC 12's TSan runtime runs no hook for
// aligned_alloc and posix_memalign; aligned operator new is still counted there.)

#include "tests/support/counting_allocator.hh"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PIXELRING_SANITIZER_HOOKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PIXELRING_SANITIZER_HOOKS 1
#endif
#endif

namespace {
// In the executable's static TLS: reaching it allocates nothing, even from inside malloc (the
// atomic is constant-initialised, so no TLS wrapper runs). Atomic so that another thread may
// read it (thread_allocation_counter); only this thread writes it, with a plain load and store.
thread_local std::atomic<size_t> t_allocations{0};

inline void count_one() noexcept {
    t_allocations.store(t_allocations.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
}
} // namespace

size_t pixelring::test::thread_allocations() noexcept {
    return t_allocations.load(std::memory_order_relaxed);
}

const std::atomic<size_t>& pixelring::test::thread_allocation_counter() noexcept {
    return t_allocations;
}

#ifdef PIXELRING_SANITIZER_HOOKS

// From <sanitizer/allocator_interface.h>, which GCC does not install; its runtimes export it.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             size_t),
                                                         void (*free_hook)(const volatile void*));
namespace {
void count_malloc(const volatile void*, size_t) {
    count_one();
}
void ignore_free(const volatile void*) {}
// Installed before main. Both hooks are required: the runtime refuses a null one.
[[maybe_unused]] const bool k_hooks_installed = [] {
    if (__sanitizer_install_malloc_and_free_hooks(count_malloc, ignore_free) == 0) {
        std::fprintf(stderr, "counting_allocator: the sanitizer refused the allocation hooks\n");
        std::abort();
    }
    return true;
}();
} // namespace

#else

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* __libc_valloc(size_t);
void* __libc_pvalloc(size_t);

void* malloc(size_t n) noexcept {
    count_one();
    return __libc_malloc(n);
}
void* calloc(size_t n, size_t size) noexcept {
    count_one();
    return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) noexcept {
    count_one();
    return __libc_realloc(p, n);
}
// glibc's own aligned_alloc is its memalign.
void* aligned_alloc(size_t alignment, size_t n) noexcept {
    count_one();
    return __libc_memalign(alignment, n);
}
void* memalign(size_t alignment, size_t n) noexcept {
    count_one();
    return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, size_t alignment, size_t n) noexcept {
    if (alignment == 0 || alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    count_one();
    void* p = __libc_memalign(alignment, n);
    if (p == nullptr) return ENOMEM;
    *out = p;
    return 0;
}
void* valloc(size_t n) noexcept {
    count_one();
    return __libc_valloc(n);
}
void* pvalloc(size_t n) noexcept {
    count_one();
    return __libc_pvalloc(n);
}
}

#endif
