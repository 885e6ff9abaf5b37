// The file and stdout sinks against real files in a mkdtemp directory: byte-exact output,
// rotation by size and by age, reopen, fsync policy, and exact accounting when writes fail
// (/dev/full, RLIMIT_FSIZE, a pipe without reader), and sink.file.drop_cache (last).

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sinks/file/file_sink.hh"
#include "sinks/stdout_sink.hh"
#include "tests/support/sink_files.hh"
#include "tests/support/temp_dir.hh"

namespace pixelring {
namespace {

namespace fs = std::filesystem;

struct temp_dir : test::temp_dir {
    temp_dir() : test::temp_dir("pixelring-sink") {}
};

using test::as_ndjson;
using test::file_size_limit;
using test::make_events;
using test::read_all;
using test::resident_fraction;

void write_all(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

file_sink_config config_for(const std::string& path) {
    file_sink_config cfg;
    cfg.path = path;
    cfg.rotate_bytes = 0;
    cfg.rotate_seconds = 0;
    cfg.fsync = "never";
    // These cases are the page-cache writer's, whose flush() hands every event to the file;
    // file_sink_direct_test.cc has sink.file.direct's, which holds events for whole blocks.
    cfg.direct = false;
    return cfg;
}

std::unique_ptr<sink> open_sink(const file_sink_config& cfg) {
    std::string error;
    auto out = make_file_sink(cfg, error);
    EXPECT_NE(out, nullptr) << error;
    EXPECT_EQ(error, "");
    return out;
}

TEST(file_sink, writes_events_byte_exact) {
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

TEST(file_sink, event_larger_than_buffer_keeps_order) {
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

TEST(file_sink, appends_to_existing_file) {
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

// A crash in the middle of a write leaves a line cut short at the end of the file: the next
// start cuts it off (and counts it), with and without sink.file.direct, so that the file
// holds whole lines only. A file that ends with its newline is left as it is.
TEST(file_sink, a_torn_last_line_is_cut_at_start) {
    const std::string whole = "{\"a\":1}\n{\"b\":2}\n";
    const std::string big_line = "{\"c\":\"" + std::string(100'000, 'x') + "\"}\n";
    struct torn_case {
        std::string before, after;
    };
    const torn_case cases[] = {
        {whole + "{\"torn\":", whole},
        {whole, whole},
        {"{\"only a torn line\"", ""},
        {big_line + std::string(70'000, 'y'), big_line}, // the newline lies chunks back
        {big_line + "{\"t", big_line},
    };
    for (const bool direct : {false, true}) {
        for (const auto& c : cases) {
            temp_dir dir;
            const std::string path = dir.file("events.ndjson");
            write_all(path, c.before);
            file_sink_config cfg = config_for(path);
            cfg.direct = direct;
            auto out = open_sink(cfg);
            ASSERT_NE(out, nullptr);
            EXPECT_EQ(read_all(path), c.after) << "direct " << direct;
            std::string metrics;
            out->write_metrics(metrics);
            EXPECT_NE(metrics.find("pixelring_sink_torn_bytes_cut_total " +
                                   std::to_string(c.before.size() - c.after.size()) + "\n"),
                      std::string::npos)
                << metrics;
            out->write("{\"new\":1}");
            out->close();
            EXPECT_EQ(read_all(path), c.after + "{\"new\":1}\n") << "direct " << direct;
        }
    }
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

TEST(file_sink, rotates_by_size_without_splitting_events) {
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

TEST(file_sink, rotates_by_age_on_tick) {
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

TEST(file_sink, reopen_follows_the_path_after_rename) {
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

TEST(file_sink, fsync_never_syncs_only_at_close) {
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

TEST(file_sink, fsync_always_syncs_every_flush_that_wrote) {
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

// Polls done() every millisecond for up to limit; true once it returned true.
template <class Done>
bool eventually(Done done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

TEST(file_sink, fsync_interval_syncs_in_the_background) {
    temp_dir dir;
    auto cfg = config_for(dir.file("events.ndjson"));
    cfg.fsync = "interval";
    cfg.fsync_interval_ms = 20;
    auto out = open_sink(cfg);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(out->counters().fsyncs, 0u) << "nothing written";
    out->write(R"({"a":1})");
    out->flush();
    ASSERT_TRUE(eventually([&] { return out->counters().fsyncs == 1; }));
    out->tick(1'000'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(100)); // five intervals
    EXPECT_EQ(out->counters().fsyncs, 1u) << "nothing written since";
    out->write(R"({"b":2})");
    out->flush();
    ASSERT_TRUE(eventually([&] { return out->counters().fsyncs == 2; }));
    out->write(R"({"c":3})");
    out->close(); // flush + fdatasync
    EXPECT_EQ(out->counters().fsyncs, 3u);
    EXPECT_EQ(out->counters().written, 3u);
}

// An fdatasync for make_file_sink that records every call (thread, file, size when it started,
// outcome), and can block the next call until release(): a sync as slow as the test wants.
class sync_probe {
public:
    struct call {
        std::thread::id thread;
        pid_t tid = 0;
        ino_t ino = 0;
        off_t size = -1; // -1: the descriptor was not open
        int error = 0;   // what the call failed with
        bool finished = false;
    };

    fdatasync_function function() {
        return [this](int fd) { return sync(fd); };
    }
    void hold_next() {
        const std::lock_guard lock(mutex_);
        hold_next_ = true;
    }
    void release() {
        {
            const std::lock_guard lock(mutex_);
            released_ = true;
        }
        changed_.notify_all();
    }
    void fail_with(int error) {
        const std::lock_guard lock(mutex_);
        fail_ = error;
    }
    // The call hold_next() meant has come and is blocked.
    bool wait_held() {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return held_ > 0; });
    }
    int held() {
        const std::lock_guard lock(mutex_);
        return held_;
    }
    std::vector<call> calls() {
        const std::lock_guard lock(mutex_);
        return calls_;
    }
    std::size_t count_on(std::thread::id thread) {
        const auto all = calls();
        return std::size_t(std::count_if(all.begin(), all.end(),
                                         [&](const call& c) { return c.thread == thread; }));
    }

private:
    int sync(int fd) {
        call c;
        c.thread = std::this_thread::get_id();
        c.tid = gettid();
        struct stat st;
        if (fstat(fd, &st) == 0) {
            c.ino = st.st_ino;
            c.size = st.st_size;
        }
        std::unique_lock lock(mutex_);
        const std::size_t index = calls_.size();
        calls_.push_back(c);
        if (hold_next_) {
            hold_next_ = false;
            ++held_;
            changed_.notify_all();
            // Bounded, so that a sink thread that waits for this sync fails the test instead
            // of hanging it.
            changed_.wait_for(lock, std::chrono::seconds(30), [&] { return released_; });
            --held_;
        }
        int error = c.size < 0 ? EBADF : fail_;
        lock.unlock();
        if (error == 0 && ::fdatasync(fd) != 0) error = errno;
        lock.lock();
        calls_[index].error = error;
        calls_[index].finished = true;
        lock.unlock();
        errno = error;
        return error == 0 ? 0 : -1;
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<call> calls_;
    bool hold_next_ = false;
    bool released_ = false;
    int held_ = 0;
    int fail_ = 0;
};

std::unique_ptr<sink> open_sink(const file_sink_config& cfg, sync_probe& probe) {
    std::string error;
    auto out = make_file_sink(cfg, error, probe.function());
    EXPECT_NE(out, nullptr) << error;
    return out;
}

file_sink_config interval_config(const std::string& path) {
    auto cfg = config_for(path);
    cfg.fsync = "interval";
    cfg.fsync_interval_ms = 1; // the syncer all but always busy
    return cfg;
}

// The sink thread drains 32 MiB and rotates 7 times while the syncer is stuck in one
// fdatasync: it neither waits for that sync nor makes one of its own.
TEST(file_sink, fsync_interval_never_waits_for_a_slow_sync) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    auto cfg = interval_config(path);
    cfg.rotate_bytes = 4 << 20;
    sync_probe probe;
    auto out = open_sink(cfg, probe);
    const auto sink_thread = std::this_thread::get_id();
    probe.hold_next();
    out->write(R"({"first":1})");
    out->flush();
    ASSERT_TRUE(probe.wait_held()) << "the syncer never synced";

    const std::string pad(1000, 'p');
    constexpr int events = 32 * 1024;
    auto longest = std::chrono::steady_clock::duration::zero();
    for (int i = 0; i < events; ++i) {
        out->write(R"({"n":)" + std::to_string(i) + R"(,"pad":")" + pad + R"("})");
        if (i % 256 == 255) {
            const auto start = std::chrono::steady_clock::now();
            out->flush();
            out->tick(1'000'000 + uint64_t(i));
            longest = std::max(longest, std::chrono::steady_clock::now() - start);
        }
    }
    EXPECT_EQ(probe.held(), 1) << "the sink thread waited for the sync it was not to wait for";
    EXPECT_EQ(probe.count_on(sink_thread), 0u);
    EXPECT_EQ(out->counters().written, uint64_t(events) + 1);
    EXPECT_EQ(out->counters().rotations, 7u);
    std::printf("longest flush+tick while the syncer was blocked: %.3f ms\n",
                std::chrono::duration<double, std::milli>(longest).count());

    probe.release();
    // The writes made while the syncer was blocked get a sync of their own.
    ASSERT_TRUE(eventually([&] { return out->counters().fsyncs >= 2; }));
    EXPECT_EQ(probe.count_on(sink_thread), 0u);
    out->close();
    EXPECT_TRUE(out->healthy());
    std::map<ino_t, off_t> synced; // largest size seen at the start of a successful sync
    for (const auto& c : probe.calls()) {
        EXPECT_EQ(c.error, 0);
        synced[c.ino] = std::max(synced[c.ino], c.size);
    }
    std::vector<fs::path> files = rotated_files(dir, "events.ndjson");
    files.push_back(path);
    for (const auto& file : files) {
        struct stat st;
        ASSERT_EQ(stat(file.c_str(), &st), 0);
        EXPECT_EQ(synced[st.st_ino], st.st_size) << file << " not synced after its last write";
    }
}

TEST(file_sink, fsync_interval_rotation_syncs_every_file_and_keeps_every_event) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    auto cfg = interval_config(path);
    cfg.rotate_bytes = 4096;
    sync_probe probe;
    auto out = open_sink(cfg, probe);
    const auto events = make_events(6000); // ~1.4 MB: some 300 files
    testing::internal::CaptureStderr();
    for (std::size_t i = 0; i < events.size(); ++i) {
        out->write(events[i]);
        if (i % 5 == 4) out->flush();
        if (i % 50 == 49) out->tick(1'000'000 + i);
    }
    EXPECT_EQ(probe.count_on(std::this_thread::get_id()), 0u) << "rotation synced on the sink";
    out->close();
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    EXPECT_TRUE(out->healthy());
    EXPECT_EQ(out->counters().written, events.size());
    EXPECT_EQ(out->counters().failed, 0u);
    EXPECT_GE(out->counters().rotations, 200u);

    std::vector<fs::path> files = rotated_files(dir, "events.ndjson");
    EXPECT_EQ(out->counters().rotations, files.size());
    files.push_back(path);
    // Every file was synced by a call that started after its last byte, and finished.
    std::map<ino_t, off_t> synced; // largest size seen at the start of a successful sync
    uint64_t successes = 0;
    for (const auto& c : probe.calls()) {
        EXPECT_GE(c.size, 0) << "fdatasync on a closed descriptor";
        EXPECT_TRUE(c.finished);
        if (c.error != 0 || !c.finished) continue;
        ++successes;
        synced[c.ino] = std::max(synced[c.ino], c.size);
    }
    EXPECT_EQ(out->counters().fsyncs, successes);
    std::string all;
    for (const auto& file : files) {
        const std::string text = read_all(file.string());
        EXPECT_EQ(text.back(), '\n') << file;
        all += text;
        struct stat st;
        ASSERT_EQ(stat(file.c_str(), &st), 0);
        EXPECT_EQ(synced[st.st_ino], st.st_size) << file << " not synced after its last write";
    }
    EXPECT_EQ(all, as_ndjson(events));
}

TEST(file_sink, fsync_interval_close_syncs_and_joins_the_syncer) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    sync_probe probe;
    auto out = open_sink(interval_config(path), probe);
    out->write(R"({"a":1})");
    out->flush();
    ASSERT_TRUE(eventually([&] { return out->counters().fsyncs == 1; }));
    const pid_t syncer = probe.calls().at(0).tid;
    EXPECT_NE(syncer, gettid());
    const std::string task = "/proc/self/task/" + std::to_string(syncer);
    EXPECT_TRUE(fs::exists(task));

    out->write(R"({"b":2})"); // still buffered: close writes it, then syncs it
    out->close();
    const auto calls = probe.calls();
    const off_t size = off_t(read_all(path).size());
    EXPECT_EQ(size, 16);
    EXPECT_TRUE(std::any_of(calls.begin(), calls.end(), [&](const sync_probe::call& c) {
        return c.finished && c.error == 0 && c.size == size;
    })) << "no sync of the whole file finished before close() returned";
    EXPECT_EQ(out->counters().fsyncs, calls.size());
    // The thread is gone: joined (the kernel forgets it a moment after its exit).
    EXPECT_TRUE(eventually([&] { return !fs::exists(task); }));
}

TEST(file_sink, fsync_interval_destructor_stops_the_syncer_without_close) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    sync_probe probe;
    pid_t syncer = 0;
    {
        auto out = open_sink(interval_config(path), probe);
        out->write(R"({"a":1})");
        out->flush();
        ASSERT_TRUE(eventually([&] { return out->counters().fsyncs == 1; }));
        syncer = probe.calls().at(0).tid;
        out->write(R"({"b":2})");
    }
    EXPECT_EQ(read_all(path), "{\"a\":1}\n{\"b\":2}\n");
    EXPECT_TRUE(
        eventually([&] { return !fs::exists("/proc/self/task/" + std::to_string(syncer)); }));
}

TEST(file_sink, fsync_interval_failure_is_reported_and_marks_unhealthy) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    sync_probe probe;
    probe.fail_with(EIO);
    auto out = open_sink(interval_config(path), probe);
    testing::internal::CaptureStderr();
    for (std::size_t i = 1; i <= 5; ++i) {
        out->write(R"({"a":1})");
        out->flush();
        ASSERT_TRUE(eventually([&] { return probe.calls().size() >= i; }));
    }
    EXPECT_TRUE(eventually([&] { return !out->healthy(); }));
    probe.fail_with(0);
    // Within 10 s of the first report, the other failures are not logged.
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
    EXPECT_NE(log.find("fdatasync"), std::string::npos) << log;
    EXPECT_NE(log.find(path), std::string::npos) << log;
    EXPECT_NE(log.find(std::strerror(EIO)), std::string::npos) << log;
    EXPECT_EQ(out->counters().fsyncs, 0u);

    out->tick(1'000'000); // reopens; the syncer follows the new descriptor
    EXPECT_TRUE(out->healthy());
    out->write(R"({"b":2})");
    out->flush();
    EXPECT_TRUE(eventually([&] { return out->counters().fsyncs >= 1; }));
    out->close();
    EXPECT_TRUE(out->healthy());
    EXPECT_EQ(out->counters().written, 6u);
}

TEST(file_sink, full_disk_counts_failed_and_recovers_on_tick) {
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

TEST(file_sink, partial_write_counts_exactly_and_ends_the_torn_line) {
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

TEST(file_sink, missing_directory_names_path_and_error) {
    temp_dir dir;
    const std::string path = dir.file("no-such-dir/events.ndjson");
    std::string error;
    auto out = make_file_sink(config_for(path), error);
    EXPECT_EQ(out, nullptr);
    EXPECT_NE(error.find(path), std::string::npos) << error;
    EXPECT_NE(error.find(std::strerror(ENOENT)), std::string::npos) << error;
}

TEST(file_sink, rejects_unknown_fsync_policy) {
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

TEST(stdout_sink, writes_lines_to_fd_one) {
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

TEST(stdout_sink, pipe_without_reader_counts_failed_without_sigpipe) {
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

// ---- sink.file.drop_cache ------------------------------------------------------------------
//
// The sink's sync_file_range and posix_fadvise calls go through the two definitions below,
// which take precedence over libc's for this binary: each call is recorded, then passed on to
// libc's function, unless a test asks for a failure. Only the sink thread (the test's) makes
// these calls.

namespace pixelring::test {

struct cache_call {
    bool sync = false; // sync_file_range; else posix_fadvise
    int fd = -1;
    int64_t offset = 0;
    int64_t length = 0;
    unsigned flags = 0; // sync_file_range's flags, or the advice
};

struct cache_calls_state {
    std::mutex mutex;
    std::vector<cache_call> calls;
    int fail_sync_with = 0; // errno for sync_file_range to fail with; 0: pass on
};

cache_calls_state& cache_calls() {
    static cache_calls_state state;
    return state;
}

void record_cache_call(const cache_call& call) {
    const std::lock_guard lock(cache_calls().mutex);
    cache_calls().calls.push_back(call);
}

} // namespace pixelring::test

extern "C" int sync_file_range(int fd, off64_t offset, off64_t length, unsigned flags) {
    using pixelring::test::cache_calls;
    pixelring::test::record_cache_call({true, fd, offset, length, flags});
    int fail = 0;
    {
        const std::lock_guard lock(cache_calls().mutex);
        fail = cache_calls().fail_sync_with;
    }
    if (fail != 0) {
        errno = fail;
        return -1;
    }
    using function = int (*)(int, off64_t, off64_t, unsigned);
    static const auto next = reinterpret_cast<function>(dlsym(RTLD_NEXT, "sync_file_range"));
    return next(fd, offset, length, flags);
}

extern "C" int posix_fadvise(int fd, off_t offset, off_t length, int advice) noexcept {
    pixelring::test::record_cache_call({false, fd, offset, length, unsigned(advice)});
    using function = int (*)(int, off_t, off_t, int);
    static const auto next = reinterpret_cast<function>(dlsym(RTLD_NEXT, "posix_fadvise"));
    return next(fd, offset, length, advice);
}

namespace pixelring {
namespace {

constexpr int64_t cache_window = 16 << 20; // the sink's window

std::vector<test::cache_call> take_cache_calls() {
    const std::lock_guard lock(test::cache_calls().mutex);
    return std::exchange(test::cache_calls().calls, {});
}

class fail_sync_file_range {
public:
    explicit fail_sync_file_range(int error) { set(error); }
    ~fail_sync_file_range() { set(0); }
    fail_sync_file_range(const fail_sync_file_range&) = delete;
    fail_sync_file_range& operator=(const fail_sync_file_range&) = delete;

private:
    static void set(int error) {
        const std::lock_guard lock(test::cache_calls().mutex);
        test::cache_calls().fail_sync_with = error;
    }
};

// Event n into out: ~640 bytes (about the size of a real one), unique, its length varies
// with n. Reuses out's memory: these tests make some 500k events, also under TSan.
std::string_view cache_event(uint64_t n, std::string& out) {
    out.assign(R"({"v":1,"n":)");
    char digits[24];
    out.append(digits, std::size_t(std::snprintf(digits, sizeof digits, "%llu",
                                                 static_cast<unsigned long long>(n))));
    out.append(R"(,"pad":")");
    out.append(600 + n % 32, char('a' + n % 26));
    out.append("\"}");
    return out;
}

// Events first .. first+count-1, in drain passes of 4096 events (the sink thread's batch per
// ring), each ended by flush().
void write_cache_events(sink& out, uint64_t first, uint64_t count) {
    std::string event;
    for (uint64_t n = first; n < first + count; ++n) {
        out.write(cache_event(n, event));
        if ((n - first) % 4096 == 4095) out.flush();
    }
    out.flush();
}

// Checks that text, from offset on, is exactly events first .. first+count-1, one per line.
void expect_cache_events(const std::string& text, std::size_t offset, uint64_t first,
                         uint64_t count) {
    uint64_t n = first;
    std::size_t at = offset;
    std::string event;
    while (at < text.size()) {
        const std::size_t end = text.find('\n', at);
        ASSERT_NE(end, std::string::npos) << "last line torn at " << at;
        ASSERT_LT(n, first + count) << "more lines than events";
        ASSERT_EQ(std::string_view(text).substr(at, end - at), cache_event(n, event))
            << "line " << n;
        ++n;
        at = end + 1;
    }
    EXPECT_EQ(n, first + count) << "lines missing";
}

// The part of the first `length` bytes of the file at path that is in the page cache, 0 to 1.
bool on_tmpfs(const std::string& dir) {
    struct statfs fs_info;
    return statfs(dir.c_str(), &fs_info) == 0 && fs_info.f_type == TMPFS_MAGIC;
}

// A file that existed before, of this many bytes (whole lines, not window-aligned).
constexpr std::size_t cache_head_bytes = (3 << 20) + 100;

void write_cache_head(const std::string& path) {
    std::string head(cache_head_bytes, 'h');
    for (std::size_t i = 99; i < head.size(); i += 100)
        head[i] = '\n';
    head.back() = '\n';
    write_all(path, head);
}

// The calls follow the windows at file offsets: the file existed (3 MiB), and a reopen starts
// over at the reopened file's size. Writeback never waits; the dropped ranges lag one window
// behind it and are given a second time; close drops the whole file after its sync.
TEST(file_sink, drop_cache_calls_follow_windows_at_file_offsets) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    write_cache_head(path);
    take_cache_calls();
    auto out = open_sink(config_for(path)); // drop_cache: the default
    ASSERT_NE(out, nullptr);
    constexpr uint64_t first = 106'000; // ~68 MiB with the head
    write_cache_events(*out, 0, first);
    const int64_t end = int64_t(cache_head_bytes + out->counters().bytes);
    ASSERT_GT(end, 4 * cache_window);
    ASSERT_LT(end, 5 * cache_window - (8 << 20)); // room for the second part below
    out->reopen();
    const auto calls = take_cache_calls();
    constexpr unsigned writeback = SYNC_FILE_RANGE_WRITE;
    constexpr unsigned dontneed = POSIX_FADV_DONTNEED;
    const int64_t head = cache_head_bytes, w = cache_window;
    const std::vector<std::tuple<bool, int64_t, int64_t, unsigned>> expected = {
        {true, head, w - head, writeback}, // the first window: from where the file ended
        {true, w, w, writeback},           {false, 0, w, dontneed},     {true, 2 * w, w, writeback},
        {false, 0, 2 * w, dontneed},       {true, 3 * w, w, writeback}, {false, w, 2 * w, dontneed},
        {false, 0, end, dontneed}, // reopen leaves the file: all of it, clean or not
    };
    ASSERT_EQ(calls.size(), expected.size());
    for (std::size_t i = 0; i < calls.size(); ++i) {
        EXPECT_EQ(std::tuple(calls[i].sync, calls[i].offset, calls[i].length, calls[i].flags),
                  expected[i])
            << "call " << i;
        EXPECT_EQ(calls[i].fd, calls[0].fd);
    }

    // Reopened: the same file, its windows from its size now.
    const uint64_t second = uint64_t(5 * cache_window - end) / 600 + 100; // past 80 MiB
    write_cache_events(*out, first, second);
    const int64_t end2 = head + int64_t(out->counters().bytes);
    out->close();
    const auto after = take_cache_calls();
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(std::tuple(after[0].sync, after[0].offset, after[0].length, after[0].flags),
              std::tuple(true, end, 5 * w - end, writeback));
    EXPECT_EQ(std::tuple(after[1].sync, after[1].offset, after[1].length, after[1].flags),
              std::tuple(false, 4 * w, end2 - 4 * w, dontneed)); // close, after its fdatasync
    EXPECT_EQ(out->counters().written, first + second);
    EXPECT_EQ(out->counters().failed, 0u);
    EXPECT_EQ(out->counters().fsyncs, 1u) << "fsync never: only at close, as before";
    EXPECT_TRUE(out->healthy());
    const std::string text = read_all(path);
    ASSERT_EQ(int64_t(text.size()), end2);
    expect_cache_events(text, cache_head_bytes, 0, first + second);
}

// ~100 MiB through the sink. Returns the fraction of the first 64 MiB that is in the page
// cache after the last flush, and (in closed) after close.
void write_and_measure_cache(bool drop_cache, double& flushed, double& closed) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    auto cfg = config_for(path);
    cfg.drop_cache = drop_cache;
    auto out = open_sink(cfg);
    ASSERT_NE(out, nullptr);
    constexpr uint64_t events = 170'000; // ~104 MiB
    write_cache_events(*out, 0, events);
    flushed = resident_fraction(path, 64 << 20);
    out->close();
    closed = resident_fraction(path, 64 << 20);
    EXPECT_EQ(out->counters().written, events);
    EXPECT_EQ(out->counters().failed, 0u);
    EXPECT_TRUE(out->healthy());
    const std::string text = read_all(path);
    EXPECT_GT(text.size(), 100u << 20);
    expect_cache_events(text, 0, 0, events); // every line, in order: as many as events
}

TEST(file_sink, drop_cache_keeps_the_written_file_out_of_the_page_cache) {
    if (on_tmpfs(fs::temp_directory_path().string()))
        GTEST_SKIP() << "the test directory is on tmpfs, where POSIX_FADV_DONTNEED does nothing";
    double flushed = -1, closed = -1;
    write_and_measure_cache(true, flushed, closed);
    std::printf("drop_cache on: first 64 MiB resident %.1f%% after flush, %.1f%% after close\n",
                flushed * 100, closed * 100);
    EXPECT_GE(flushed, 0.0) << "mincore failed";
    EXPECT_LT(flushed, 0.25);
    EXPECT_GE(closed, 0.0) << "mincore failed";
    EXPECT_LT(closed, 0.25);
}

// The same without drop_cache: the file stays in the page cache, so the test above can fail.
TEST(file_sink, without_drop_cache_the_written_file_stays_in_the_page_cache) {
    if (on_tmpfs(fs::temp_directory_path().string()))
        GTEST_SKIP() << "the test directory is on tmpfs, where POSIX_FADV_DONTNEED does nothing";
    take_cache_calls();
    double flushed = -1, closed = -1;
    write_and_measure_cache(false, flushed, closed);
    std::printf("drop_cache off: first 64 MiB resident %.1f%% after flush, %.1f%% after close\n",
                flushed * 100, closed * 100);
    EXPECT_GT(flushed, 0.75);
    EXPECT_GT(closed, 0.75);
    EXPECT_TRUE(take_cache_calls().empty());
}

// A FIFO has no page cache of its own: nothing is tried, nothing is logged, nothing is lost.
TEST(file_sink, drop_cache_leaves_a_fifo_alone) {
    temp_dir dir;
    const std::string path = dir.file("events.fifo");
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
    // Open for reading first, so that the sink's open for writing does not wait for a reader.
    const int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(reader, 0) << std::strerror(errno);
    take_cache_calls();
    testing::internal::CaptureStderr();
    auto out = open_sink(config_for(path));
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(fcntl(reader, F_SETFL, 0), 0); // blocking reads from now on
    std::string received;
    std::thread drain([&] {
        char buffer[1 << 16];
        for (;;) { // ends at EOF: the sink closed its end
            const ssize_t n = ::read(reader, buffer, sizeof buffer);
            if (n > 0) received.append(buffer, std::size_t(n));
            if (n == 0 || (n < 0 && errno != EINTR)) break;
        }
    });
    constexpr uint64_t events = 60'000; // ~38 MiB: two window ends
    write_cache_events(*out, 0, events);
    out->close();
    drain.join();
    ::close(reader);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    EXPECT_TRUE(take_cache_calls().empty());
    EXPECT_EQ(out->counters().written, events);
    EXPECT_EQ(out->counters().failed, 0u);
    EXPECT_TRUE(out->healthy());
    expect_cache_events(received, 0, 0, events);
}

// sync_file_range fails (EINVAL, as on some FUSE file systems): one note, no more tries for
// that file, every event written, nothing counted failed, still healthy. A reopened file is
// tried again.
TEST(file_sink, drop_cache_failure_is_noted_once_and_loses_nothing) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    take_cache_calls();
    fail_sync_file_range failing(EINVAL);
    testing::internal::CaptureStderr();
    auto out = open_sink(config_for(path));
    ASSERT_NE(out, nullptr);
    constexpr uint64_t events = 60'000; // ~38 MiB: two window ends
    write_cache_events(*out, 0, events);
    auto calls = take_cache_calls();
    ASSERT_EQ(calls.size(), 1u) << "tried again after a failure";
    EXPECT_TRUE(calls[0].sync);
    EXPECT_EQ(out->counters().written, events);
    EXPECT_EQ(out->counters().failed, 0u);
    EXPECT_TRUE(out->healthy());

    out->reopen(); // nothing to drop: this file gave up
    EXPECT_TRUE(take_cache_calls().empty());
    write_cache_events(*out, events, 30'000); // ~19 MiB more: past the next window end
    calls = take_cache_calls();
    ASSERT_EQ(calls.size(), 1u) << "the reopened file is tried again, once";
    EXPECT_TRUE(calls[0].sync);
    out->close();
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log; // rate-limited: one per 10 s
    EXPECT_NE(log.find("sync_file_range"), std::string::npos) << log;
    EXPECT_NE(log.find(path), std::string::npos) << log;
    EXPECT_NE(log.find(std::strerror(EINVAL)), std::string::npos) << log;
    EXPECT_EQ(out->counters().written, events + 30'000);
    EXPECT_EQ(out->counters().failed, 0u);
    EXPECT_EQ(out->counters().fsyncs, 1u);
    EXPECT_TRUE(out->healthy());
    expect_cache_events(read_all(path), 0, 0, events + 30'000);
}

} // namespace
} // namespace pixelring
