// The file sink under sink.file.direct (sinks/file/direct_writer.hh), against real files in a
// mkdtemp directory: byte-exact output across many whole-block writes, events held until
// poll() after direct_hold_ms, the page cache left alone, files that end off a block or inside
// a line, rotation and reopen, events larger than the buffer, fsync "always", exact accounting
// when a write stops part-way (RLIMIT_FSIZE), and a file truncated under the writer.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sinks/file/file_sink.hh"
#include "tests/support/sink_files.hh"
#include "tests/support/temp_dir.hh"

namespace pixelring {
namespace {

namespace fs = std::filesystem;

struct temp_dir : test::temp_dir {
    temp_dir() : test::temp_dir("pixelring-direct") {}
};

using test::as_ndjson;
using test::file_size_limit;
using test::read_all;
using test::resident_fraction;

void put_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

// Events of 0 to 899 bytes of padding, about 480 bytes on average: the harness's are ~600.
std::vector<std::string> make_events(std::size_t count, std::size_t first = 0) {
    return test::make_events(count, 900, first);
}

file_sink_config direct_config(const std::string& path) {
    file_sink_config cfg;
    cfg.path = path;
    cfg.rotate_bytes = 0;
    cfg.rotate_seconds = 0;
    cfg.fsync = "never";
    cfg.drop_cache = false; // so that the page cache shows what the writes did
    cfg.direct = true;
    return cfg;
}

std::unique_ptr<sink> open_sink(const file_sink_config& cfg) {
    std::string error;
    auto out = make_file_sink(cfg, error);
    EXPECT_NE(out, nullptr) << error;
    return out;
}

// Whether files in dir take an O_DIRECT write of one aligned block; the cases that look at
// what went past the page cache skip where they do not (tmpfs before Linux 6.6, some FUSE).
bool takes_direct_writes(const std::string& dir) {
    const std::string probe = dir + "/probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    void* block = nullptr;
    bool ok = posix_memalign(&block, 4096, 4096) == 0;
    if (ok) {
        std::memset(block, 'x', 4096);
        ok = ::pwrite(fd, block, 4096, 0) == 4096;
    }
    std::free(block);
    ::close(fd);
    ::unlink(probe.c_str());
    return ok;
}

// Past the hold time (10 ms), poll() hands what is held to the file.
void wait_and_poll(sink& out) {
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    out.poll();
}

// Writes events in drain passes of `pass` events, each followed by flush() and poll(), as the
// sink thread does.
void write_passes(sink& out, const std::vector<std::string>& events, std::size_t pass) {
    for (std::size_t i = 0; i < events.size(); ++i) {
        out.write(events[i]);
        if ((i + 1) % pass == 0 || i + 1 == events.size()) {
            out.flush();
            out.poll();
        }
    }
}

TEST(file_sink_direct, many_block_writes_are_byte_exact) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    const auto events = make_events(12'000); // about 5.5 MiB: several full buffers
    auto out = open_sink(direct_config(path));
    const auto started = std::chrono::steady_clock::now();
    write_passes(*out, events, 97);
    const uint64_t before_close = out->counters().written;
    // Past the 10 ms hold (a slow or busy machine, a sanitizer build), poll() rightly wrote
    // the partial last block too: only a faster run shows that the rest waited for close.
    const bool within_hold =
        std::chrono::steady_clock::now() - started < std::chrono::milliseconds(10);
    out->close();
    const std::string expected = as_ndjson(events);
    EXPECT_EQ(read_all(path), expected);
    EXPECT_EQ(out->counters().written, events.size());
    EXPECT_EQ(out->counters().failed, 0u);
    EXPECT_EQ(out->counters().bytes, expected.size());
    EXPECT_EQ(out->counters().queued, 0u);
    EXPECT_TRUE(out->healthy());
    // Whole buffers went out before close; the rest waited for it.
    EXPECT_GT(before_close, events.size() / 2);
    if (within_hold) {
        EXPECT_LT(before_close, events.size());
    }
}

TEST(file_sink_direct, events_wait_for_the_hold_time_then_poll_writes_them) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    const auto events = make_events(3);
    auto out = open_sink(direct_config(path));
    for (const auto& e : events)
        out->write(e);
    out->flush();
    out->poll(); // well inside the hold time
    EXPECT_EQ(read_all(path), "");
    EXPECT_EQ(out->counters().written, 0u);
    EXPECT_EQ(out->counters().queued, 3u);
    wait_and_poll(*out);
    EXPECT_EQ(read_all(path), as_ndjson(events));
    EXPECT_EQ(out->counters().written, 3u);
    EXPECT_EQ(out->counters().queued, 0u);
    // Holding anyway, the sink lets its thread sleep 5 ms between empty passes, not 1.
    EXPECT_EQ(out->idle_sleep_us(), 5000u);
    // The partial block is in the file; the next events continue it, byte for byte.
    const auto more = make_events(5, 3);
    for (const auto& e : more)
        out->write(e);
    out->flush();
    wait_and_poll(*out);
    auto all = events;
    all.insert(all.end(), more.begin(), more.end());
    EXPECT_EQ(read_all(path), as_ndjson(all));
    out->close();
    EXPECT_EQ(read_all(path), as_ndjson(all));
    EXPECT_EQ(out->counters().written, 8u);
    EXPECT_EQ(out->counters().bytes, as_ndjson(all).size());
}

TEST(file_sink_direct, whole_blocks_bypass_the_page_cache) {
    temp_dir dir;
    if (!takes_direct_writes(dir.str()))
        GTEST_SKIP() << dir.str() << " does not take O_DIRECT writes";
    const std::string path = dir.file("events.ndjson");
    const auto events = make_events(20'000); // about 9 MiB
    auto out = open_sink(direct_config(path));
    write_passes(*out, events, 500);
    out->close();
    ASSERT_EQ(read_all(path).size(), as_ndjson(events).size());
    // read_all above read the file through the page cache: drop it again, then look at what
    // a second, fresh writer leaves behind.
    const std::string second = dir.file("second.ndjson");
    auto out2 = open_sink(direct_config(second));
    write_passes(*out2, events, 500);
    out2->close();
    const double resident = resident_fraction(second, std::size_t(fs::file_size(second)));
    std::printf("direct: %.1f%% of a %.1f MiB file resident after close\n", resident * 100,
                double(fs::file_size(second)) / (1 << 20));
    EXPECT_GE(resident, 0.0) << "mincore failed";
    EXPECT_LT(resident, 0.1); // the page-cache writer leaves it all (file_sink_test)
    EXPECT_EQ(read_all(second), as_ndjson(events));
}

TEST(file_sink_direct, appends_to_a_file_that_ends_off_a_block) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    const std::string head = as_ndjson(make_events(11, 1000)); // not a block multiple
    ASSERT_NE(head.size() % 4096, 0u);
    put_file(path, head);
    const auto events = make_events(4000);
    auto out = open_sink(direct_config(path));
    write_passes(*out, events, 64);
    out->close();
    EXPECT_EQ(read_all(path), head + as_ndjson(events));
    EXPECT_EQ(out->counters().written, events.size());
    EXPECT_EQ(out->counters().bytes, as_ndjson(events).size());
}

// At start a torn last line (a crash) is cut off (file_sink_test has the cases); a file that
// comes to end inside a line later (another program's write, then SIGHUP) gets a line break
// before the next event instead.
TEST(file_sink_direct, a_file_that_ends_inside_a_line_gets_its_line_break_first) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    const std::string whole = std::string(5000, 'h') + "\n";
    put_file(path, whole + "{\"torn\":"); // ends inside a line
    const auto events = make_events(3000);
    auto out = open_sink(direct_config(path));
    EXPECT_EQ(read_all(path), whole);
    std::ofstream(path, std::ios::binary | std::ios::app) << "{\"other\":"; // and again
    out->reopen();
    write_passes(*out, events, 50);
    out->close();
    EXPECT_EQ(read_all(path), whole + "{\"other\":\n" + as_ndjson(events));
    EXPECT_EQ(out->counters().written, events.size()); // the line break is not an event
    EXPECT_EQ(out->counters().failed, 0u);
}

TEST(file_sink_direct, a_file_of_whole_blocks_ending_in_a_line_is_continued) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    const std::string head = std::string(8191, 'b') + "\n"; // exactly two blocks
    put_file(path, head);
    const auto events = make_events(2000);
    auto out = open_sink(direct_config(path));
    write_passes(*out, events, 33);
    out->close();
    EXPECT_EQ(read_all(path), head + as_ndjson(events));
}

TEST(file_sink_direct, rotation_by_size_keeps_every_event_whole) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    auto cfg = direct_config(path);
    cfg.rotate_bytes = 1 << 20;
    const auto events = make_events(9000); // about 4 MiB: four rotations or so
    auto out = open_sink(cfg);
    write_passes(*out, events, 200);
    out->close();
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir.path()))
        files.push_back(entry.path());
    std::sort(files.begin(), files.end()); // "events.ndjson" < "events.ndjson.<stamp>..."
    ASSERT_GE(files.size(), 4u);
    // The current file holds the newest events; rotated ones sort by their stamp and number.
    std::string joined;
    for (std::size_t i = 1; i < files.size(); ++i) {
        const std::string text = read_all(files[i].string());
        EXPECT_LE(text.size(), cfg.rotate_bytes);
        EXPECT_EQ(text.back(), '\n');
        joined += text;
    }
    joined += read_all(files[0].string());
    EXPECT_EQ(joined, as_ndjson(events));
    EXPECT_EQ(out->counters().written, events.size());
    EXPECT_GE(out->counters().rotations, 3u);
}

TEST(file_sink_direct, reopen_after_rename_settles_the_old_file_first) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    const auto first = make_events(2500);
    const auto second = make_events(1500, 2500);
    auto out = open_sink(direct_config(path));
    write_passes(*out, first, 100);
    fs::rename(path, dir.file("events.ndjson.1")); // logrotate, then SIGHUP
    out->reopen();
    write_passes(*out, second, 100);
    out->close();
    EXPECT_EQ(read_all(dir.file("events.ndjson.1")), as_ndjson(first));
    EXPECT_EQ(read_all(path), as_ndjson(second));
    EXPECT_EQ(out->counters().written, first.size() + second.size());
}

TEST(file_sink_direct, event_larger_than_the_buffer_keeps_order) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    std::vector<std::string> events = make_events(700);
    events.insert(events.begin() + 350, R"({"big":")" + std::string(3 << 20, 'B') + R"("})");
    events.insert(events.begin() + 351, R"({"after":1})");
    auto out = open_sink(direct_config(path));
    write_passes(*out, events, 40);
    out->close();
    EXPECT_EQ(read_all(path), as_ndjson(events));
    EXPECT_EQ(out->counters().written, events.size());
    EXPECT_EQ(out->counters().bytes, as_ndjson(events).size());
}

TEST(file_sink_direct, fsync_always_writes_at_every_flush) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    auto cfg = direct_config(path);
    cfg.fsync = "always";
    auto out = open_sink(cfg);
    const auto events = make_events(5);
    for (const auto& e : events)
        out->write(e);
    out->flush();
    EXPECT_EQ(read_all(path), as_ndjson(events)); // no hold: it was to be synced
    EXPECT_EQ(out->counters().written, 5u);
    EXPECT_GE(out->counters().fsyncs, 1u);
    out->close();
}

TEST(file_sink_direct, a_full_file_counts_exactly_and_the_next_event_starts_a_line) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    const auto events = make_events(6000); // about 2.7 MiB
    auto out = open_sink(direct_config(path));
    {
        const file_size_limit limit((1 << 20) + 1000); // not at a block or a line end
        write_passes(*out, events, 100);
        out->flush();
        wait_and_poll(*out);
    }
    const uint64_t written = out->counters().written;
    const uint64_t failed = out->counters().failed;
    EXPECT_EQ(written + failed, events.size());
    EXPECT_GT(failed, 0u);
    EXPECT_FALSE(out->healthy());
    const std::string full = read_all(path);
    EXPECT_EQ(full.size(), (1u << 20) + 1000);
    // The events counted written are exactly the whole lines in the file.
    const std::string whole = as_ndjson({events.begin(), events.begin() + long(written)});
    ASSERT_LE(whole.size(), full.size());
    EXPECT_EQ(full.substr(0, whole.size()), whole);
    EXPECT_EQ(full.find('\n', whole.size()), std::string::npos); // then part of one line
    // With room again, the next event begins a line of its own.
    out->tick(1);
    EXPECT_TRUE(out->healthy());
    out->write(R"({"after":"full"})");
    out->close();
    EXPECT_EQ(read_all(path), full + "\n" + R"({"after":"full"})" + "\n");
    EXPECT_EQ(out->counters().written, written + 1);
}

TEST(file_sink_direct, a_truncated_file_is_continued_at_its_new_end_with_whole_lines) {
    temp_dir dir;
    const std::string path = dir.file("events.ndjson");
    const auto first = make_events(2600); // a little over 1 MiB: one whole-buffer write
    const auto second = make_events(3000, 2600);
    auto out = open_sink(direct_config(path));
    write_passes(*out, first, 100);
    const uint64_t before = out->counters().written;
    ASSERT_GT(before, 0u);
    // copytruncate: another program empties the file while the writer holds a partial block
    // (perhaps the end of a line whose beginning was in the file).
    ASSERT_EQ(::truncate(path.c_str(), 0), 0);
    write_passes(*out, second, 100);
    out->close();
    const std::string text = read_all(path);
    EXPECT_EQ(text.find('\0'), std::string::npos) << "a hole where the old data was";
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    // Every line is one event, whole; the events after the truncation are all there.
    std::istringstream lines(text);
    std::string line;
    std::size_t count = 0;
    while (std::getline(lines, line)) {
        ++count;
        EXPECT_EQ(line.front(), '{');
        EXPECT_EQ(line.back(), '}');
    }
    const std::string tail = as_ndjson(second);
    ASSERT_GE(text.size(), tail.size());
    EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
    EXPECT_EQ(out->counters().written + out->counters().failed, first.size() + second.size());
    EXPECT_LE(out->counters().failed, 1u); // at most the line cut by the truncation
    // The file holds what was held at the truncation (less the cut line) and the rest.
    EXPECT_EQ(count, first.size() - before - out->counters().failed + second.size());
}

TEST(file_sink_direct, a_fifo_is_written_through_the_page_cache_path) {
    temp_dir dir;
    const std::string path = dir.file("events.fifo");
    ASSERT_EQ(mkfifo(path.c_str(), 0644), 0);
    const int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(reader, 0);
    auto out = open_sink(direct_config(path));
    const auto events = make_events(4);
    for (const auto& e : events)
        out->write(e);
    out->flush(); // no hold: a FIFO has no blocks
    EXPECT_EQ(out->idle_sleep_us(), 1000u);
    std::string got(64 << 10, '\0');
    const ssize_t n = ::read(reader, got.data(), got.size());
    ASSERT_GT(n, 0);
    got.resize(std::size_t(n));
    EXPECT_EQ(got, as_ndjson(events));
    out->close();
    ::close(reader);
}

} // namespace
} // namespace pixelring
