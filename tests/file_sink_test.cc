// The file and stdout sinks against real files in a mkdtemp directory: byte-exact output,
// rotation by size and by age, reopen, fsync policy, and exact accounting when writes fail
// (/dev/full, RLIMIT_FSIZE, a pipe without reader).

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sinks/file_sink.hh"
#include "sinks/stdout_sink.hh"

namespace pixelring {
namespace {

namespace fs = std::filesystem;

class temp_dir {
public:
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "pixelring-sink-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) std::abort();
        path_ = pattern;
    }
    ~temp_dir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const fs::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_all(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

// Events of varied sizes, each unique and without newline.
std::vector<std::string> make_events(std::size_t count, std::size_t max_pad = 400) {
    std::vector<std::string> events;
    for (std::size_t i = 0; i < count; ++i) {
        std::string pad((i * 37) % max_pad, char('a' + i % 26));
        events.push_back(R"({"v":1,"n":)" + std::to_string(i) + R"(,"pad":")" + pad + R"("})");
    }
    return events;
}

std::string as_ndjson(const std::vector<std::string>& events) {
    std::string text;
    for (const auto& e : events)
        text += e + '\n';
    return text;
}

file_sink_config config_for(const std::string& path) {
    file_sink_config cfg;
    cfg.path = path;
    cfg.rotate_bytes = 0;
    cfg.rotate_seconds = 0;
    cfg.fsync = "never";
    return cfg;
}

std::unique_ptr<sink> open_sink(const file_sink_config& cfg) {
    std::string error;
    auto out = make_file_sink(cfg, error);
    EXPECT_NE(out, nullptr) << error;
    EXPECT_EQ(error, "");
    return out;
}

TEST(FileSink, WritesEventsByteExact) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    // ~200 KiB per batch: the second batch overruns the 256 KiB buffer mid-way.
    const auto events = make_events(2000);
    auto out = open_sink(config_for(path));
    for (std::size_t i = 0; i < 1000; ++i)
        out->write(events[i]);
    out->flush();
    for (std::size_t i = 1000; i < events.size(); ++i)
        out->write(events[i]);
    out->flush();
    const std::string expected = as_ndjson(events);
    EXPECT_EQ(read_all(path), expected);
    EXPECT_EQ(out->counters().written, events.size());
    EXPECT_EQ(out->counters().failed, 0u);
    EXPECT_EQ(out->counters().bytes, expected.size());
    EXPECT_EQ(out->counters().rotations, 0u);
    EXPECT_TRUE(out->healthy());
    const mode_t mask = umask(022);
    umask(mask);
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644 & ~mask);
    out->close();
    EXPECT_EQ(read_all(path), expected);
}

TEST(FileSink, EventLargerThanBufferKeepsOrder) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    const std::vector<std::string> events = {
        R"({"a":1})", R"({"big":")" + std::string(600 * 1024, 'x') + "\"}", R"({"c":3})"};
    auto out = open_sink(config_for(path));
    for (const auto& e : events)
        out->write(e);
    out->flush();
    EXPECT_EQ(read_all(path), as_ndjson(events));
    EXPECT_EQ(out->counters().written, 3u);
    EXPECT_EQ(out->counters().failed, 0u);
}

TEST(FileSink, AppendsToExistingFile) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    write_all(path, "{\"old\":1}\n");
    const auto events = make_events(10);
    auto out = open_sink(config_for(path));
    for (const auto& e : events)
        out->write(e);
    out->close();
    EXPECT_EQ(read_all(path), "{\"old\":1}\n" + as_ndjson(events));
    EXPECT_EQ(out->counters().written, 10u);
}

// Rotated files in the order they were written: by stamp, then by the ".n" suffix.
std::vector<fs::path> rotated_files(const temp_dir& dir, const std::string& base) {
    const std::regex name(std::regex_replace(base, std::regex(R"(\.)"), R"(\.)") +
                          R"(\.(\d{8}T\d{6}Z)(\.(\d+))?)");
    std::vector<std::pair<std::pair<std::string, long>, fs::path>> found;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
        const std::string file = entry.path().filename().string();
        if (file == base) continue;
        std::smatch m;
        EXPECT_TRUE(std::regex_match(file, m, name)) << "unexpected file " << file;
        if (!m.empty())
            found.push_back({{m[1].str(), m[3].matched ? std::stol(m[3].str()) : 0}, entry.path()});
    }
    std::sort(found.begin(), found.end());
    std::vector<fs::path> files;
    for (const auto& f : found)
        files.push_back(f.second);
    return files;
}

TEST(FileSink, RotatesBySizeWithoutSplittingEvents) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    constexpr uint64_t limit = 1000;
    write_all(path, std::string(899, 'o') + "\n"); // the existing size counts
    auto events = make_events(300);
    events.insert(events.begin() + 150, R"({"huge":")" + std::string(3000, 'h') + "\"}");
    auto cfg = config_for(path);
    cfg.rotate_bytes = limit;
    auto out = open_sink(cfg);
    for (std::size_t i = 0; i < events.size(); ++i) {
        out->write(events[i]);
        if (i % 7 == 0) out->flush();
    }
    out->close();
    EXPECT_EQ(out->counters().written, events.size());
    EXPECT_EQ(out->counters().failed, 0u);

    std::vector<fs::path> files = rotated_files(dir, "events.ndjson");
    EXPECT_EQ(out->counters().rotations, files.size());
    EXPECT_GT(files.size(), 10u);
    files.push_back(path);
    std::string all;
    for (const auto& file : files) {
        const std::string text = read_all(file.string());
        ASSERT_FALSE(text.empty()) << file;
        EXPECT_EQ(text.back(), '\n') << file << " ends mid-line";
        const bool one_line = text.find('\n') == text.size() - 1;
        EXPECT_TRUE(text.size() <= limit || one_line) << file << " has " << text.size();
        all += text;
    }
    EXPECT_EQ(all, std::string(899, 'o') + "\n" + as_ndjson(events));
}

TEST(FileSink, RotatesByAgeOnTick) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    auto cfg = config_for(path);
    cfg.rotate_seconds = 60;
    constexpr uint64_t t0 = 1'700'000'000'000; // 2023-11-14T22:13:20Z
    // A file with the stamp the rotation will use: kept, and the rotation takes ".1".
    write_all(dir.file("events.ndjson.20231114T221420Z"), "keep\n");
    auto out = open_sink(cfg);
    out->tick(t0);
    out->write(R"({"a":1})");
    out->flush();
    out->tick(t0 + 59'999);
    EXPECT_EQ(out->counters().rotations, 0u);
    out->tick(t0 + 60'000);
    EXPECT_EQ(out->counters().rotations, 1u);
    EXPECT_EQ(read_all(dir.file("events.ndjson.20231114T221420Z")), "keep\n");
    EXPECT_EQ(read_all(dir.file("events.ndjson.20231114T221420Z.1")), "{\"a\":1}\n");
    EXPECT_EQ(read_all(path), "");

    out->write(R"({"b":2})");
    out->flush();
    out->tick(t0 + 119'999);
    EXPECT_EQ(out->counters().rotations, 1u);
    out->tick(t0 + 120'000);
    EXPECT_EQ(out->counters().rotations, 2u);
    EXPECT_EQ(read_all(dir.file("events.ndjson.20231114T221520Z")), "{\"b\":2}\n");

    // An empty file is not rotated.
    out->tick(t0 + 300'000);
    EXPECT_EQ(out->counters().rotations, 2u);
    EXPECT_EQ(rotated_files(dir, "events.ndjson").size(), 3u);
    EXPECT_TRUE(out->healthy());
}

TEST(FileSink, ReopenFollowsThePathAfterRename) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    auto out = open_sink(config_for(path));
    out->write(R"({"a":1})");
    out->flush();
    fs::rename(path, dir.file("events.ndjson.moved")); // what logrotate does
    out->write(R"({"b":2})");                          // still the moved file's descriptor
    out->reopen();
    out->write(R"({"c":3})");
    out->close();
    EXPECT_EQ(read_all(dir.file("events.ndjson.moved")), "{\"a\":1}\n{\"b\":2}\n");
    EXPECT_EQ(read_all(path), "{\"c\":3}\n");
    EXPECT_EQ(out->counters().written, 3u);
    EXPECT_TRUE(out->healthy());
}

TEST(FileSink, FsyncNeverSyncsOnlyAtClose) {
    temp_dir dir;
    auto out = open_sink(config_for(dir.file("events.ndjson")));
    for (int i = 0; i < 3; ++i) {
        out->write(R"({"a":1})");
        out->flush();
        out->tick(1'000'000 + uint64_t(i) * 5'000);
    }
    EXPECT_EQ(out->counters().fsyncs, 0u);
    out->close();
    EXPECT_EQ(out->counters().fsyncs, 1u);
}

TEST(FileSink, FsyncAlwaysSyncsEveryFlushThatWrote) {
    temp_dir dir;
    auto cfg = config_for(dir.file("events.ndjson"));
    cfg.fsync = "always";
    auto out = open_sink(cfg);
    for (int i = 0; i < 3; ++i) {
        out->write(R"({"a":1})");
        out->write(R"({"b":2})");
        out->flush();
    }
    EXPECT_EQ(out->counters().fsyncs, 3u);
    out->flush(); // nothing written: no fsync
    out->tick(9'000'000);
    EXPECT_EQ(out->counters().fsyncs, 3u);
    out->close(); // nothing left to sync
    EXPECT_EQ(out->counters().fsyncs, 3u);
}

TEST(FileSink, FsyncIntervalSyncsOnTick) {
    temp_dir dir;
    auto cfg = config_for(dir.file("events.ndjson"));
    cfg.fsync = "interval";
    cfg.fsync_interval_ms = 1000;
    auto out = open_sink(cfg);
    constexpr uint64_t t0 = 1'000'000;
    out->tick(t0);
    out->write(R"({"a":1})");
    out->flush();
    EXPECT_EQ(out->counters().fsyncs, 0u);
    out->tick(t0 + 999);
    EXPECT_EQ(out->counters().fsyncs, 0u);
    out->tick(t0 + 1000);
    EXPECT_EQ(out->counters().fsyncs, 1u);
    out->tick(t0 + 5000); // nothing written since
    EXPECT_EQ(out->counters().fsyncs, 1u);
    out->write(R"({"b":2})");
    out->flush();
    out->tick(t0 + 5100); // the last fsync is long ago
    EXPECT_EQ(out->counters().fsyncs, 2u);
    out->write(R"({"c":3})");
    out->flush();
    out->tick(t0 + 6000);
    EXPECT_EQ(out->counters().fsyncs, 2u);
    out->tick(t0 + 6100);
    EXPECT_EQ(out->counters().fsyncs, 3u);
    out->write(R"({"d":4})");
    out->close(); // flush + fdatasync
    EXPECT_EQ(out->counters().fsyncs, 4u);
    EXPECT_EQ(out->counters().written, 4u);
}

TEST(FileSink, FullDiskCountsFailedAndRecoversOnTick) {
    if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
    auto cfg = config_for("/dev/full");
    cfg.rotate_bytes = 100; // must never rename a device
    cfg.rotate_seconds = 1;
    cfg.fsync = "always";
    auto out = open_sink(cfg);
    ASSERT_NE(out, nullptr);
    const auto events = make_events(50);
    testing::internal::CaptureStderr();
    for (const auto& e : events)
        out->write(e);
    out->flush();
    EXPECT_EQ(out->counters().failed, events.size());
    EXPECT_EQ(out->counters().written, 0u);
    EXPECT_FALSE(out->healthy());
    out->write(events[0]);
    out->flush(); // within 10 s of the first report: not logged again
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
    EXPECT_NE(log.find("/dev/full"), std::string::npos) << log;
    EXPECT_NE(log.find(std::strerror(ENOSPC)), std::string::npos) << log;
    EXPECT_EQ(out->counters().failed, events.size() + 1);

    out->tick(2'000'000);
    EXPECT_TRUE(out->healthy()) << "reopened";
    out->tick(2'005'000);
    EXPECT_EQ(out->counters().rotations, 0u);
    EXPECT_EQ(out->counters().fsyncs, 0u);
    out->close();
    EXPECT_EQ(out->counters().failed + out->counters().written, events.size() + 1);
    EXPECT_TRUE(fs::exists("/dev/full"));
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

TEST(FileSink, PartialWriteCountsExactlyAndEndsTheTornLine) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    std::vector<std::string> events;
    for (int i = 0; i < 25; ++i)
        events.push_back(std::string(99, char('a' + i))); // 100 B lines
    auto out = open_sink(config_for(path));
    testing::internal::CaptureStderr();
    {
        file_size_limit limit(1050); // ten lines and half of the eleventh
        for (const auto& e : events)
            out->write(e);
        out->flush();
    }
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find(std::strerror(EFBIG)), std::string::npos) << log;
    EXPECT_NE(log.find(path), std::string::npos) << log;
    EXPECT_EQ(out->counters().written, 10u);
    EXPECT_EQ(out->counters().failed, 15u);
    EXPECT_EQ(out->counters().bytes, 1050u);
    EXPECT_FALSE(out->healthy());

    out->tick(1'000'000); // reopens the same file: the room is back
    EXPECT_TRUE(out->healthy());
    out->write(R"({"after":1})");
    out->write(R"({"after":2})");
    out->close();
    EXPECT_EQ(out->counters().written, 12u);
    EXPECT_EQ(out->counters().failed, 15u);
    std::string expected;
    for (int i = 0; i < 10; ++i)
        expected += events[std::size_t(i)] + '\n';
    expected += events[10].substr(0, 50) + "\n{\"after\":1}\n{\"after\":2}\n";
    EXPECT_EQ(read_all(path), expected);
}

TEST(FileSink, MissingDirectoryNamesPathAndError) {
    temp_dir dir;
    const std::string path = dir.file("no-such-dir/events.ndjson");
    std::string error;
    auto out = make_file_sink(config_for(path), error);
    EXPECT_EQ(out, nullptr);
    EXPECT_NE(error.find(path), std::string::npos) << error;
    EXPECT_NE(error.find(std::strerror(ENOENT)), std::string::npos) << error;
}

TEST(FileSink, RejectsUnknownFsyncPolicy) {
    temp_dir dir;
    auto cfg = config_for(dir.file("events.ndjson"));
    cfg.fsync = "sometimes";
    std::string error;
    EXPECT_EQ(make_file_sink(cfg, error), nullptr);
    EXPECT_NE(error.find("sink.file.fsync"), std::string::npos) << error;
    EXPECT_NE(error.find("sometimes"), std::string::npos) << error;
}

// Points fd 1 at another descriptor for the lifetime of the object.
class stdout_redirect {
public:
    explicit stdout_redirect(int fd) {
        std::fflush(stdout);
        saved_ = dup(STDOUT_FILENO);
        dup2(fd, STDOUT_FILENO);
    }
    ~stdout_redirect() {
        std::fflush(stdout);
        dup2(saved_, STDOUT_FILENO);
        ::close(saved_);
    }
    stdout_redirect(const stdout_redirect&) = delete;
    stdout_redirect& operator=(const stdout_redirect&) = delete;

private:
    int saved_ = -1;
};

TEST(StdoutSink, WritesLinesToFdOne) {
    temp_dir dir;
    const std::string path = dir.file("stdout.ndjson");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    const auto events = make_events(1000); // ~200 KiB: several 64 KiB buffers
    auto out = make_stdout_sink();
    {
        stdout_redirect redirect(fd);
        for (const auto& e : events)
            out->write(e);
        out->flush();
        out->write(R"({"last":1})");
        out->close();
    }
    ::close(fd);
    EXPECT_EQ(read_all(path), as_ndjson(events) + "{\"last\":1}\n");
    EXPECT_EQ(out->counters().written, events.size() + 1);
    EXPECT_EQ(out->counters().failed, 0u);
    EXPECT_EQ(out->counters().fsyncs, 0u);
    EXPECT_TRUE(out->healthy());
}

TEST(StdoutSink, PipeWithoutReaderCountsFailedWithoutSigpipe) {
    int pipe_fds[2];
    ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
    ::close(pipe_fds[0]);
    auto out = make_stdout_sink();
    testing::internal::CaptureStderr();
    {
        stdout_redirect redirect(pipe_fds[1]);
        out->write(R"({"a":1})");
        out->write(R"({"b":2})");
        out->flush(); // SIGPIPE's default action would end the test binary here
    }
    ::close(pipe_fds[1]);
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find(std::strerror(EPIPE)), std::string::npos) << log;
    EXPECT_EQ(out->counters().failed, 2u);
    EXPECT_EQ(out->counters().written, 0u);
    EXPECT_FALSE(out->healthy());
    sigset_t pending;
    sigpending(&pending);
    EXPECT_FALSE(sigismember(&pending, SIGPIPE));

    temp_dir dir;
    const std::string path = dir.file("stdout.ndjson");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    {
        stdout_redirect redirect(fd);
        out->write(R"({"c":3})");
        out->flush();
    }
    ::close(fd);
    EXPECT_TRUE(out->healthy()) << "healthy again once a write succeeds";
    EXPECT_EQ(read_all(path), "{\"c\":3}\n");
    EXPECT_EQ(out->counters().written, 1u);
}

} // namespace
} // namespace pixelring
