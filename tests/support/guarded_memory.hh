#pragma once
// Test input that ends right before an unreadable page, so that code which reads one byte past
// the end of its input crashes the test instead of passing by luck. Test code only.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace pixelring::test {

// Readable pages followed by one PROT_NONE page. place() copies bytes so that the last of them
// is the last readable byte: reading one more faults. The mapping is removed with the object.
class guarded_buffer {
public:
    // Room for at least capacity bytes: whole pages, at least one.
    explicit guarded_buffer(size_t capacity) {
        const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        readable_ = capacity == 0 ? page : (capacity + page - 1) / page * page;
        mapped_ = readable_ + page;
        void* p =
            mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) fail("mmap of the guarded buffer failed");
        base_ = static_cast<char*>(p);
        if (mprotect(end(), page, PROT_NONE) != 0) fail("mprotect of the guard page failed");
    }
    ~guarded_buffer() { munmap(base_, mapped_); }
    guarded_buffer(const guarded_buffer&) = delete;
    guarded_buffer& operator=(const guarded_buffer&) = delete;

    // Copies data so that it ends at end(), and returns its first byte; the caller may write
    // there. The next place() overwrites it.
    char* place(std::string_view data) {
        if (data.size() > readable_) fail("more bytes placed than the guarded buffer holds");
        char* at = end() - data.size();
        if (!data.empty()) std::memcpy(at, data.data(), data.size());
        return at;
    }
    // place(), as a view of the copy.
    std::string_view place_view(std::string_view data) { return {place(data), data.size()}; }

    // The first unreadable byte.
    char* end() const { return base_ + readable_; }

private:
    [[noreturn]] static void fail(const char* what) {
        std::fprintf(stderr, "guarded_buffer: %s\n", what);
        std::abort();
    }

    char* base_ = nullptr;
    size_t readable_ = 0;
    size_t mapped_ = 0;
};

} // namespace pixelring::test
