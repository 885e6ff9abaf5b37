// file_write_cost: the CPU time (user and system) a writer spends to append the same bytes to a
// file in three ways: through the page cache (the file sink without sink.file.direct), the
// same with sink.file.drop_cache's 16 MiB window (sync_file_range + POSIX_FADV_DONTNEED), and
// with O_DIRECT in whole aligned blocks (sink.file.direct). Not a Google Benchmark: what it
// measures is the kernel's work, and each case writes gigabytes.
//
//   build/release/bench/file_write_cost [DIR] [GIB] [ROUNDS]
//
// DIR (default .) is where the scratch file goes, on the file system to measure; GIB (default
// 2) is how much each case writes, in 256 KiB and 1 MiB writes; ROUNDS (default 3) runs the
// cases interleaved that many times. Prints one line per case and round. The file is removed
// after each case.

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace {

enum class way { page_cache, drop_cache, direct };

const char* name_of(way w) {
    switch (w) {
    case way::page_cache:
        return "page cache";
    case way::drop_cache:
        return "page cache + drop_cache";
    case way::direct:
        return "O_DIRECT";
    }
    return "?";
}

double seconds(const timeval& t) {
    return double(t.tv_sec) + double(t.tv_usec) / 1e6;
}

// Returns false (with a message) when the case could not run.
bool run(const std::string& path, way w, std::size_t chunk, uint64_t total) {
    const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (w == way::direct ? O_DIRECT : 0);
    const int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) {
        std::fprintf(stderr, "file_write_cost: open %s: %s\n", path.c_str(), std::strerror(errno));
        return false;
    }
    void* buffer = nullptr;
    if (posix_memalign(&buffer, 4096, chunk) != 0) return false;
    std::memset(buffer, 'x', chunk);
    static_cast<char*>(buffer)[chunk - 1] = '\n';
    constexpr uint64_t window = 16 << 20;
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    timespec t0{}, t1{};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool ok = true;
    for (uint64_t offset = 0; offset < total; offset += chunk) {
        if (::pwrite(fd, buffer, chunk, off_t(offset)) != ssize_t(chunk)) {
            std::fprintf(stderr, "file_write_cost: %s: write: %s\n", name_of(w),
                         std::strerror(errno));
            ok = false;
            break;
        }
        const uint64_t end = offset + chunk;
        if (w == way::drop_cache && end % window == 0 && end >= 2 * window) {
            sync_file_range(fd, off64_t(end - window), off64_t(window), SYNC_FILE_RANGE_WRITE);
            const uint64_t drop = end >= 3 * window ? end - 3 * window : 0;
            posix_fadvise(fd, off_t(drop), off_t(window), POSIX_FADV_DONTNEED);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_SELF, &after);
    std::free(buffer);
    ::close(fd);
    ::unlink(path.c_str());
    if (!ok) return false;
    const double user = seconds(after.ru_utime) - seconds(before.ru_utime);
    const double sys = seconds(after.ru_stime) - seconds(before.ru_stime);
    const double wall = double(t1.tv_sec - t0.tv_sec) + double(t1.tv_nsec - t0.tv_nsec) / 1e9;
    const double gib = double(total) / double(1ull << 30);
    std::printf("%-24s %5zu KiB writes: user %.2f s, system %.2f s, wall %.2f s for %.1f GiB "
                "(%.3f ns of CPU per byte)\n",
                name_of(w), chunk >> 10, user, sys, wall, gib, (user + sys) * 1e9 / double(total));
    std::fflush(stdout);
    return true;
}

} // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : ".";
    const double gib = argc > 2 ? std::atof(argv[2]) : 2.0;
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
    if (gib <= 0 || rounds <= 0) {
        std::fprintf(stderr, "usage: file_write_cost [DIR] [GIB] [ROUNDS]\n");
        return 2;
    }
    const auto total = uint64_t(gib * double(1ull << 30)) / (1 << 20) * (1 << 20);
    const std::string path = dir + "/file_write_cost.scratch";
    int failed = 0;
    for (int r = 0; r < rounds; ++r)
        for (const std::size_t chunk : {std::size_t(256) << 10, std::size_t(1) << 20})
            for (const way w : {way::page_cache, way::drop_cache, way::direct})
                failed += run(path, w, chunk, total) ? 0 : 1;
    return failed == 0 ? 0 : 1;
}
