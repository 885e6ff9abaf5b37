#pragma once
// What the file sink tests (tests/unit/file_sink_test.cc, file_sink_direct_test.cc) share:
// reading a file whole, numbered events of varied sizes and their NDJSON text, how much of a
// file the page cache holds, and a file size limit. Test code only.

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

namespace pixelring::test {

inline std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Events first .. first + count - 1, each unique and without newline, with 0 to max_pad - 1
// bytes of padding.
inline std::vector<std::string> make_events(std::size_t count, std::size_t max_pad = 400,
                                            std::size_t first = 0) {
    std::vector<std::string> events;
    for (std::size_t i = first; i < first + count; ++i) {
        std::string pad((i * 37) % max_pad, char('a' + i % 26));
        events.push_back(R"({"v":1,"n":)" + std::to_string(i) + R"(,"pad":")" + pad + R"("})");
    }
    return events;
}

inline std::string as_ndjson(const std::vector<std::string>& events) {
    std::string text;
    for (const auto& e : events)
        text += e + '\n';
    return text;
}

// The share of the first length bytes of path in the page cache (mincore of a mapping, which
// reads nothing); -1 when it cannot be told.
inline double resident_fraction(const std::string& path, std::size_t length) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    void* map = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) return -1;
    const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> pages((length + page - 1) / page);
    const int result = mincore(map, length, pages.data());
    munmap(map, length);
    if (result != 0) return -1;
    const auto resident =
        std::count_if(pages.begin(), pages.end(), [](unsigned char p) { return (p & 1) != 0; });
    return double(resident) / double(pages.size());
}

// RLIMIT_FSIZE makes a write stop part-way like a disk that fills up, then fail with EFBIG;
// raising it again is the disk getting room back.
class file_size_limit {
public:
    explicit file_size_limit(rlim_t bytes) {
        old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
        getrlimit(RLIMIT_FSIZE, &old_);
        rlimit limit = old_;
        limit.rlim_cur = bytes;
        setrlimit(RLIMIT_FSIZE, &limit);
    }
    ~file_size_limit() {
        setrlimit(RLIMIT_FSIZE, &old_);
        std::signal(SIGXFSZ, old_handler_);
    }
    file_size_limit(const file_size_limit&) = delete;
    file_size_limit& operator=(const file_size_limit&) = delete;

private:
    rlimit old_{};
    void (*old_handler_)(int) = nullptr;
};

} // namespace pixelring::test
