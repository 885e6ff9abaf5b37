// CRC32C (known vectors, hardware against software) and the disk spool against real files in a
// mkdtemp directory: exact counters, segment rotation and replay order across runs, corrupt
// and torn records skipped and counted, the budget, removal, open errors, and write errors
// (RLIMIT_FSIZE, in a forked child).

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/base/clock.hh"
#include "sinks/kafka/crc32c.hh"
#include "sinks/kafka/spool.hh"
#include "tests/support/temp_dir.hh"

namespace pixelring {
namespace {

namespace fs = std::filesystem;

// ---- CRC32C ---------------------------------------------------------------------------------

uint32_t crc_of(const std::string& bytes) {
    return crc32c(0, bytes.data(), bytes.size());
}

TEST(crc32c, known_vectors) {
    // RFC 3720 B.4 and the usual check value.
    std::string ascending(32, '\0');
    std::string descending(32, '\0');
    for (int i = 0; i < 32; ++i) {
        ascending[size_t(i)] = char(i);
        descending[size_t(i)] = char(31 - i);
    }
    EXPECT_EQ(crc_of("123456789"), 0xE3069283u);
    EXPECT_EQ(crc_of(std::string(32, '\0')), 0x8A9136AAu);
    EXPECT_EQ(crc_of(std::string(32, '\xFF')), 0x62A8AB43u);
    EXPECT_EQ(crc_of(ascending), 0x46DD794Eu);
    EXPECT_EQ(crc_of(descending), 0x113FDB5Cu);
    EXPECT_EQ(crc_of(""), 0u);
    EXPECT_EQ(crc32c_software(0, "123456789", 9), 0xE3069283u);
    EXPECT_EQ(crc32c_software(0, std::string(32, '\0').data(), 32), 0x8A9136AAu);
    if (crc32c_hardware_available()) {
        EXPECT_EQ(crc32c_hardware(0, "123456789", 9), 0xE3069283u);
        EXPECT_EQ(crc32c_hardware(0, std::string(32, '\0').data(), 32), 0x8A9136AAu);
    }
}

TEST(crc32c, chains_across_splits) {
    const std::string text = "The quick brown fox jumps over the lazy dog, 0123456789 times.";
    const uint32_t whole = crc_of(text);
    for (size_t split = 0; split <= text.size(); ++split) {
        const uint32_t first = crc32c(0, text.data(), split);
        EXPECT_EQ(crc32c(first, text.data() + split, text.size() - split), whole) << split;
        const uint32_t soft = crc32c_software(0, text.data(), split);
        EXPECT_EQ(crc32c_software(soft, text.data() + split, text.size() - split), whole);
    }
}

TEST(crc32c, hardware_matches_software) {
    if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
    std::mt19937_64 random(42);
    std::vector<unsigned char> bytes(70'000);
    for (auto& b : bytes)
        b = static_cast<unsigned char>(random());
    for (size_t offset = 0; offset < 16; ++offset) {
        for (size_t length = 0; length < 300; ++length) {
            const uint32_t seed = uint32_t(random());
            ASSERT_EQ(crc32c_hardware(seed, bytes.data() + offset, length),
                      crc32c_software(seed, bytes.data() + offset, length))
                << "offset " << offset << " length " << length;
        }
    }
    for (size_t length : {1000u, 4095u, 4096u, 4097u, 65'536u, 69'983u}) {
        const size_t offset = random() % (bytes.size() - length);
        EXPECT_EQ(crc32c_hardware(0, bytes.data() + offset, length),
                  crc32c_software(0, bytes.data() + offset, length))
            << length;
    }
    EXPECT_EQ(crc32c(0, bytes.data(), bytes.size()),
              crc32c_software(0, bytes.data(), bytes.size()));
}

// ---- spool helpers --------------------------------------------------------------------------

struct temp_dir : test::temp_dir {
    temp_dir() : test::temp_dir("pixelring-spool") {}
};

constexpr uint64_t k_header = 12;

std::string segment_file(const temp_dir& dir, uint64_t id) {
    char name[32];
    std::snprintf(name, sizeof name, "%020llu.spool", static_cast<unsigned long long>(id));
    return dir.file(name);
}

// The names of the files in dir, sorted.
std::vector<std::string> listing(const temp_dir& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir.path()))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_all(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// JSON-ish events of varied sizes, each unique.
std::vector<std::string> make_records(size_t count, size_t first = 0, size_t max_pad = 300) {
    std::vector<std::string> records;
    for (size_t i = first; i < first + count; ++i) {
        std::string pad((i * 37) % max_pad, char('a' + i % 26));
        records.push_back(R"({"n":)" + std::to_string(i) + R"(,"pad":")" + pad + R"("})");
    }
    return records;
}

uint64_t spool_bytes(const std::vector<std::string>& records) {
    uint64_t total = 0;
    for (const auto& r : records)
        total += k_header + r.size();
    return total;
}

spool_settings settings_for(const temp_dir& dir, uint64_t segment_bytes = 64u << 20) {
    spool_settings settings;
    settings.dir = dir.path().string();
    settings.segment_bytes = segment_bytes;
    return settings;
}

std::unique_ptr<spool> open_spool(const spool_settings& settings) {
    std::string error;
    auto out = spool::open(settings, error);
    EXPECT_NE(out, nullptr) << error;
    EXPECT_EQ(error, "");
    return out;
}

std::vector<std::string> read_segment(spool_segment_reader& reader) {
    std::vector<std::string> records;
    std::string_view record;
    while (reader.next(record))
        records.emplace_back(record);
    EXPECT_EQ(reader.records_read(), records.size());
    return records;
}

// Reads every waiting segment in order and removes it; ids: the segments' ids, in order.
std::vector<std::string> drain(spool& s, std::vector<uint64_t>* ids = nullptr) {
    std::vector<std::string> records;
    while (auto reader = s.open_next_segment()) {
        if (ids) ids->push_back(reader->id());
        const auto part = read_segment(*reader);
        records.insert(records.end(), part.begin(), part.end());
        s.remove_segment(reader->id(), reader->records_read());
    }
    return records;
}

void append_all(spool& s, const std::vector<std::string>& records,
                spool_origin origin = spool_origin::event) {
    for (const auto& r : records)
        ASSERT_EQ(s.append(r, origin), spool_append_result::ok);
}

// Segments the rotation rule makes of these records: sealed once written + buffered reaches
// segment_bytes.
uint64_t expected_segments(const std::vector<std::string>& records, uint64_t segment_bytes) {
    uint64_t segments = 0;
    uint64_t size = 0;
    for (const auto& r : records) {
        size += k_header + r.size();
        if (size >= segment_bytes) {
            ++segments;
            size = 0;
        }
    }
    return segments + (size > 0 ? 1 : 0);
}

// ---- the spool ------------------------------------------------------------------------------

TEST(spool, appends_and_reads_back_in_order_across_segments) {
    temp_dir dir;
    constexpr uint64_t segment_bytes = 4000;
    const auto records = make_records(300);
    auto s = open_spool(settings_for(dir, segment_bytes));
    EXPECT_TRUE(s->empty());
    EXPECT_TRUE(s->writable());
    append_all(*s, records);
    const auto& c = s->counters();
    EXPECT_EQ(c.bytes, spool_bytes(records)) << "buffered records count";
    EXPECT_EQ(c.records, records.size());
    s->flush();
    EXPECT_FALSE(s->empty());
    EXPECT_EQ(c.spooled, records.size());
    EXPECT_EQ(c.respooled, 0u);
    EXPECT_EQ(c.bytes, spool_bytes(records));
    const uint64_t segments = expected_segments(records, segment_bytes);
    EXPECT_GT(segments, 10u);
    EXPECT_EQ(c.segments, segments);
    EXPECT_EQ(listing(dir).size(), segments);
    uint64_t on_disk = 0;
    for (const auto& name : listing(dir))
        on_disk += fs::file_size(dir.file(name));
    EXPECT_EQ(on_disk, c.bytes);

    std::vector<uint64_t> ids;
    EXPECT_EQ(drain(*s, &ids), records);
    EXPECT_EQ(ids.size(), segments);
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    EXPECT_EQ(ids.front(), 1u);
    EXPECT_EQ(c.replayed, records.size());
    EXPECT_EQ(c.corrupt_records, 0u);
    EXPECT_EQ(c.corrupt_bytes, 0u);
    EXPECT_EQ(c.bytes, 0u);
    EXPECT_EQ(c.records, 0u);
    EXPECT_EQ(c.segments, 0u);
    EXPECT_EQ(c.removed_segments, segments);
    EXPECT_EQ(c.io_errors[0] + c.io_errors[1] + c.full[0] + c.full[1], 0u);
    EXPECT_TRUE(s->empty());
    EXPECT_TRUE(listing(dir).empty());
    EXPECT_EQ(s->open_next_segment(), nullptr);
}

// A segment that could not be retired is handed out again after return_segment, whole.
TEST(spool, a_returned_segment_is_handed_out_again) {
    temp_dir dir;
    const auto records = make_records(20);
    auto s = open_spool(settings_for(dir));
    append_all(*s, records);
    auto first = s->open_next_segment();
    ASSERT_NE(first, nullptr);
    const uint64_t id = first->id();
    EXPECT_EQ(read_segment(*first), records);
    first.reset();
    EXPECT_EQ(s->open_next_segment(), nullptr); // handed out: not waiting
    s->return_segment(id);
    EXPECT_FALSE(s->empty());
    auto again = s->open_next_segment();
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(again->id(), id);
    EXPECT_EQ(read_segment(*again), records);
    s->remove_segment(id, again->records_read());
    again.reset();
    EXPECT_TRUE(s->empty());
    EXPECT_EQ(s->counters().records, 0u);
    EXPECT_TRUE(listing(dir).empty());
}

TEST(spool, record_file_format) {
    temp_dir dir;
    auto s = open_spool(settings_for(dir));
    ASSERT_EQ(s->append("123456789", spool_origin::event), spool_append_result::ok);
    ASSERT_EQ(s->append("", spool_origin::replay), spool_append_result::ok);
    s->sync();
    const std::string bytes = read_all(segment_file(dir, 1));
    ASSERT_EQ(bytes.size(), 2 * k_header + 9);
    EXPECT_EQ(bytes.substr(0, 4), "PRS1");
    EXPECT_EQ(bytes.substr(4, 4), std::string("\x09\x00\x00\x00", 4));
    const uint32_t crc = crc32c(crc32c(0, bytes.data() + 4, 4), "123456789", 9);
    uint32_t stored = 0;
    for (int i = 0; i < 4; ++i)
        stored |= uint32_t(uint8_t(bytes[size_t(8 + i)])) << (8 * i);
    EXPECT_EQ(stored, crc);
    EXPECT_EQ(bytes.substr(12, 9), "123456789");
    EXPECT_EQ(bytes.substr(21, 8), std::string("PRS1\0\0\0\0", 8));
    EXPECT_EQ(s->counters().spooled, 1u);
    EXPECT_EQ(s->counters().respooled, 1u);
    EXPECT_EQ(drain(*s), (std::vector<std::string>{"123456789", ""}));
}

TEST(spool, records_larger_than_buffers_span_chunks) {
    temp_dir dir;
    std::vector<std::string> records;
    for (size_t i = 0; i < 12; ++i) // 300 KiB each: the 1 MiB write and read chunks split them
        records.push_back(std::string(300 * 1024 + i, char('a' + i)));
    records.insert(records.begin() + 5, std::string(3 << 20, 'X')); // above both buffers
    records.push_back(R"({"small":1})");
    auto s = open_spool(settings_for(dir));
    append_all(*s, records);
    s->flush();
    EXPECT_EQ(s->counters().spooled, records.size());
    EXPECT_EQ(s->counters().bytes, spool_bytes(records));
    EXPECT_EQ(fs::file_size(segment_file(dir, 1)), spool_bytes(records));
    EXPECT_EQ(drain(*s), records);
    EXPECT_EQ(s->counters().corrupt_records, 0u);
}

TEST(spool, reopen_replays_earlier_segments_first) {
    temp_dir dir;
    constexpr uint64_t segment_bytes = 3000;
    const auto earlier = make_records(100);
    {
        auto s = open_spool(settings_for(dir, segment_bytes));
        append_all(*s, earlier);
        // No flush: close() (the destructor) writes and syncs what is buffered.
    }
    const auto files = listing(dir);
    const uint64_t earlier_segments = expected_segments(earlier, segment_bytes);
    ASSERT_EQ(files.size(), earlier_segments);

    auto s = open_spool(settings_for(dir, segment_bytes));
    const auto& c = s->counters();
    EXPECT_EQ(c.bytes, spool_bytes(earlier));
    EXPECT_EQ(c.segments, earlier_segments);
    EXPECT_EQ(c.records, 0u) << "records of earlier segments are counted as they are read";
    EXPECT_FALSE(s->empty());

    const auto later = make_records(5, 1000); // one segment: no rotation writes them early
    append_all(*s, later, spool_origin::replay);
    ASSERT_EQ(expected_segments(later, segment_bytes), 1u);
    EXPECT_EQ(c.records, later.size());
    EXPECT_EQ(c.respooled, 0u) << "not written yet";

    std::vector<uint64_t> ids;
    std::vector<std::string> read;
    while (auto reader = s->open_next_segment()) {
        ids.push_back(reader->id());
        const bool is_earlier = reader->id() <= earlier_segments;
        const uint64_t records_before = c.records;
        const auto part = read_segment(*reader);
        read.insert(read.end(), part.begin(), part.end());
        if (is_earlier) {
            EXPECT_EQ(c.records, records_before + part.size());
            EXPECT_EQ(records_before, later.size()) << "the earlier segments read were removed";
        } else {
            EXPECT_EQ(c.records, records_before);
        }
        s->remove_segment(reader->id(), reader->records_read());
        if (is_earlier) {
            EXPECT_EQ(c.records, later.size());
        }
    }
    std::vector<std::string> expected = earlier;
    expected.insert(expected.end(), later.begin(), later.end());
    EXPECT_EQ(read, expected);
    ASSERT_EQ(ids.size(), earlier_segments + expected_segments(later, segment_bytes));
    for (size_t i = 0; i < ids.size(); ++i)
        EXPECT_EQ(ids[i], i + 1);
    EXPECT_EQ(c.respooled, later.size());
    EXPECT_EQ(c.replayed, expected.size());
    EXPECT_EQ(c.records, 0u);
    EXPECT_EQ(c.bytes, 0u);
    EXPECT_EQ(c.segments, 0u);
    EXPECT_TRUE(listing(dir).empty());
}

TEST(spool, new_segments_number_after_the_highest_left_behind) {
    temp_dir dir;
    {
        auto s = open_spool(settings_for(dir));
        append_all(*s, make_records(3));
    }
    fs::rename(segment_file(dir, 1), segment_file(dir, 41)); // an earlier run got that far
    auto s = open_spool(settings_for(dir));
    append_all(*s, make_records(2, 10));
    s->flush();
    EXPECT_TRUE(fs::exists(segment_file(dir, 42)));
    std::vector<uint64_t> ids;
    EXPECT_EQ(drain(*s, &ids).size(), 5u);
    EXPECT_EQ(ids, (std::vector<uint64_t>{41, 42}));
}

TEST(spool, ignores_other_files_and_reports_unreadable_segments) {
    temp_dir dir;
    write_all(dir.file("notes.txt"), "not a segment");
    write_all(dir.file("123.spool"), "PRS1 too short a name");
    write_all(dir.file("00000000000000000003.spool.tmp"), "PRS1");
    fs::create_directory(segment_file(dir, 7)); // named like a segment, cannot be read as one
    testing::internal::CaptureStderr();
    auto s = open_spool(settings_for(dir));
    const std::string log = testing::internal::GetCapturedStderr();
    ASSERT_NE(s, nullptr);
    EXPECT_NE(log.find(segment_file(dir, 7)), std::string::npos) << log;
    EXPECT_EQ(s->counters().segments, 0u);
    EXPECT_EQ(s->counters().bytes, 0u);
    EXPECT_TRUE(s->empty());
    EXPECT_EQ(s->open_next_segment(), nullptr);
    ASSERT_EQ(s->append("{}", spool_origin::event), spool_append_result::ok);
    s->flush();
    EXPECT_TRUE(fs::exists(segment_file(dir, 8))) << "never reuses a number it saw";
    EXPECT_EQ(drain(*s), (std::vector<std::string>{"{}"}));
    EXPECT_TRUE(fs::exists(dir.file("notes.txt")));
    EXPECT_TRUE(fs::is_directory(segment_file(dir, 7)));
}

// Writes records into segment 1 of dir (closed), returns each record's offset in the file.
std::vector<uint64_t> write_segment(const temp_dir& dir, const std::vector<std::string>& records) {
    {
        auto s = open_spool(settings_for(dir));
        append_all(*s, records);
    }
    std::vector<uint64_t> offsets;
    uint64_t offset = 0;
    for (const auto& r : records) {
        offsets.push_back(offset);
        offset += k_header + r.size();
    }
    EXPECT_EQ(fs::file_size(segment_file(dir, 1)), offset);
    return offsets;
}

struct replay_result {
    std::vector<std::string> records;
    uint64_t corrupt_records = 0;
    uint64_t corrupt_bytes = 0;
    uint64_t replayed = 0;
    uint64_t records_gauge = 0;
};

// Opens dir as a new run would and reads everything back.
replay_result replay(const temp_dir& dir) {
    replay_result out;
    auto s = open_spool(settings_for(dir));
    out.records = drain(*s);
    out.corrupt_records = s->counters().corrupt_records;
    out.corrupt_bytes = s->counters().corrupt_bytes;
    out.replayed = s->counters().replayed;
    out.records_gauge = s->counters().records;
    EXPECT_EQ(s->counters().bytes, 0u);
    EXPECT_TRUE(listing(dir).empty());
    return out;
}

std::vector<std::string> without(std::vector<std::string> records, size_t index) {
    records.erase(records.begin() + std::ptrdiff_t(index));
    return records;
}

TEST(spool, flipped_payload_bytes_skip_one_record) {
    temp_dir dir;
    const auto records = make_records(10);
    const auto offsets = write_segment(dir, records);
    std::string bytes = read_all(segment_file(dir, 1));
    bytes[offsets[4] + k_header + 3] ^= 0x20;
    bytes[offsets[4] + k_header + 5] ^= 0x01;
    write_all(segment_file(dir, 1), bytes);
    const auto result = replay(dir);
    EXPECT_EQ(result.records, without(records, 4));
    EXPECT_EQ(result.corrupt_records, 1u);
    EXPECT_EQ(result.corrupt_bytes, k_header + records[4].size());
    EXPECT_EQ(result.replayed, 9u);
    EXPECT_EQ(result.records_gauge, 0u);
}

TEST(spool, huge_length_field_skips_one_record) {
    temp_dir dir;
    const auto records = make_records(10);
    const auto offsets = write_segment(dir, records);
    std::string bytes = read_all(segment_file(dir, 1));
    bytes.replace(offsets[6] + 4, 4, "\xF0\xFF\xFF\x7F");
    write_all(segment_file(dir, 1), bytes);
    const auto result = replay(dir);
    EXPECT_EQ(result.records, without(records, 6));
    EXPECT_EQ(result.corrupt_records, 1u);
    EXPECT_EQ(result.corrupt_bytes, k_header + records[6].size());
}

TEST(spool, short_wrong_length_is_caught_by_the_crc) {
    temp_dir dir;
    const auto records = make_records(10);
    const auto offsets = write_segment(dir, records);
    std::string bytes = read_all(segment_file(dir, 1));
    bytes[offsets[0] + 4] = char(bytes[offsets[0] + 4] - 1); // one byte shorter
    write_all(segment_file(dir, 1), bytes);
    const auto result = replay(dir);
    EXPECT_EQ(result.records, without(records, 0));
    EXPECT_EQ(result.corrupt_records, 1u);
    EXPECT_EQ(result.corrupt_bytes, k_header + records[0].size());
}

TEST(spool, garbage_between_records_is_skipped) {
    temp_dir dir;
    const auto records = make_records(10);
    const auto offsets = write_segment(dir, records);
    std::string bytes = read_all(segment_file(dir, 1));
    // A false magic with a length that cannot be right, and one with a wrong CRC, inside.
    const std::string garbage = std::string("junkPRS1\xFF\xFF\xFF\xFFjunk") + "PRS1" +
                                std::string("\x03\x00\x00\x00", 4) + "crc" + "abcPR";
    bytes.insert(offsets[3], garbage);
    bytes.insert(offsets[8] + garbage.size(), "x"); // a single stray byte
    write_all(segment_file(dir, 1), bytes);
    const auto result = replay(dir);
    EXPECT_EQ(result.records, records);
    EXPECT_EQ(result.corrupt_records, 2u);
    EXPECT_EQ(result.corrupt_bytes, garbage.size() + 1);
}

TEST(spool, garbage_across_a_read_chunk_boundary) {
    temp_dir dir;
    constexpr uint64_t chunk = 1u << 20; // the reader's read(2) size
    const std::vector<std::string> records = {std::string(1000, 'a'), std::string(500, 'b'),
                                              std::string(700, 'c')};
    const auto offsets = write_segment(dir, records);
    std::string bytes = read_all(segment_file(dir, 1));
    // Garbage after the first record so that the second record's magic straddles the end
    // of the first chunk (2 bytes before it, 2 after).
    const uint64_t garbage_bytes = chunk - 2 - offsets[1];
    bytes.insert(offsets[1], std::string(garbage_bytes, 'P'));
    write_all(segment_file(dir, 1), bytes);
    const auto result = replay(dir);
    EXPECT_EQ(result.records, records);
    EXPECT_EQ(result.corrupt_records, 1u);
    EXPECT_EQ(result.corrupt_bytes, garbage_bytes);
}

TEST(spool, torn_tail_is_counted_and_earlier_records_read) {
    for (const uint64_t keep : {uint64_t(5), k_header, k_header + 7}) {
        temp_dir dir;
        const auto records = make_records(10);
        const auto offsets = write_segment(dir, records);
        ASSERT_EQ(truncate(segment_file(dir, 1).c_str(), off_t(offsets[9] + keep)), 0);
        const auto result = replay(dir);
        EXPECT_EQ(result.records, without(records, 9)) << keep;
        EXPECT_EQ(result.corrupt_records, 1u) << keep;
        EXPECT_EQ(result.corrupt_bytes, keep);
    }
}

TEST(spool, budget_refuses_appends_per_origin) {
    temp_dir dir;
    auto settings = settings_for(dir);
    settings.max_bytes = 1000;
    auto s = open_spool(settings);
    const std::string record(88, 'r'); // 100 bytes with its header
    const auto& c = s->counters();
    for (int i = 0; i < 9; ++i)
        ASSERT_EQ(s->append(record, spool_origin::event), spool_append_result::ok);
    EXPECT_TRUE(s->writable()) << "100 bytes left";
    testing::internal::CaptureStderr();
    ASSERT_EQ(s->append(record, spool_origin::replay), spool_append_result::ok); // exactly full
    EXPECT_FALSE(s->writable());
    EXPECT_EQ(s->append(record, spool_origin::event), spool_append_result::full);
    EXPECT_EQ(s->append(record, spool_origin::event), spool_append_result::full);
    EXPECT_EQ(s->append("x", spool_origin::replay), spool_append_result::full);
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
    EXPECT_NE(log.find("spool.max_bytes (1000) spent"), std::string::npos) << log;
    EXPECT_NE(log.find(R"(dropped{reason="spool_full"})"), std::string::npos) << log;
    EXPECT_EQ(c.full[size_t(spool_origin::event)], 2u);
    EXPECT_EQ(c.full[size_t(spool_origin::replay)], 1u);
    EXPECT_EQ(c.bytes, 1000u);
    EXPECT_EQ(c.records, 10u);
    s->flush();
    EXPECT_EQ(c.spooled, 9u);
    EXPECT_EQ(c.respooled, 1u);
    EXPECT_FALSE(s->writable());

    EXPECT_EQ(drain(*s).size(), 10u); // Kafka took them: room again
    EXPECT_EQ(c.bytes, 0u);
    EXPECT_TRUE(s->writable());
    EXPECT_EQ(s->append(record, spool_origin::event), spool_append_result::ok);
}

TEST(spool, oversized_record_is_an_error) {
    temp_dir dir;
    auto s = open_spool(settings_for(dir));
    const std::string huge((16u << 20) + 1, 'h');
    testing::internal::CaptureStderr();
    EXPECT_EQ(s->append(huge, spool_origin::event), spool_append_result::error);
    testing::internal::GetCapturedStderr();
    EXPECT_EQ(s->counters().io_errors[0], 1u);
    EXPECT_EQ(s->counters().bytes, 0u);
    EXPECT_TRUE(s->empty());
}

TEST(spool, remove_segment_deletes_the_file) {
    temp_dir dir;
    auto s = open_spool(settings_for(dir));
    const auto records = make_records(5);
    append_all(*s, records);
    auto reader = s->open_next_segment(); // seals the active segment
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(listing(dir), (std::vector<std::string>{"00000000000000000001.spool"}));
    EXPECT_EQ(read_segment(*reader), records);
    const auto& c = s->counters();
    EXPECT_EQ(c.segments, 1u);
    EXPECT_EQ(c.records, 5u);
    s->remove_segment(reader->id(), reader->records_read());
    EXPECT_TRUE(listing(dir).empty());
    EXPECT_EQ(c.bytes, 0u);
    EXPECT_EQ(c.records, 0u);
    EXPECT_EQ(c.segments, 0u);
    EXPECT_EQ(c.removed_segments, 1u);

    testing::internal::CaptureStderr();
    s->remove_segment(12345, 3); // unknown: reported, nothing changes
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("12345"), std::string::npos) << log;
    EXPECT_EQ(c.removed_segments, 1u);
    EXPECT_EQ(c.segments, 0u);
}

TEST(spool, remove_syncs_reappended_records_first) {
    temp_dir dir;
    auto s = open_spool(settings_for(dir));
    append_all(*s, make_records(3));
    auto reader = s->open_next_segment();
    ASSERT_NE(reader, nullptr);
    const auto again = read_segment(*reader);
    append_all(*s, again, spool_origin::replay); // their replay failed: back into the spool
    const uint64_t fsyncs = s->counters().fsyncs;
    s->remove_segment(reader->id(), reader->records_read());
    // The buffered records written and fdatasync'd, then the directory fsync'd after the
    // unlink.
    EXPECT_EQ(s->counters().respooled, 3u);
    EXPECT_EQ(s->counters().fsyncs, fsyncs + 2);
    EXPECT_EQ(fs::file_size(segment_file(dir, 2)), spool_bytes(again));
    EXPECT_EQ(s->counters().records, 3u);
    EXPECT_EQ(drain(*s), again);
}

TEST(spool, open_next_segment_seals_the_active_segment) {
    temp_dir dir;
    auto s = open_spool(settings_for(dir));
    EXPECT_EQ(s->open_next_segment(), nullptr) << "nothing waits";
    EXPECT_TRUE(listing(dir).empty()) << "the first segment is created by the first append";
    const auto first = make_records(3);
    append_all(*s, first);
    EXPECT_FALSE(s->empty());
    auto reader = s->open_next_segment();
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(reader->id(), 1u);
    EXPECT_TRUE(s->empty()) << "handed out: no longer waiting";
    EXPECT_EQ(s->open_next_segment(), nullptr);

    const auto second = make_records(2, 100);
    append_all(*s, second);
    s->flush();
    EXPECT_EQ(fs::file_size(segment_file(dir, 1)), spool_bytes(first)) << "sealed";
    EXPECT_EQ(fs::file_size(segment_file(dir, 2)), spool_bytes(second));
    EXPECT_EQ(read_segment(*reader), first);
    auto next = s->open_next_segment();
    ASSERT_NE(next, nullptr);
    EXPECT_EQ(next->id(), 2u);
    EXPECT_EQ(read_segment(*next), second);
    EXPECT_EQ(s->counters().segments, 2u);
    s->remove_segment(1, reader->records_read());
    s->remove_segment(2, next->records_read());
    EXPECT_TRUE(s->empty());
    EXPECT_EQ(s->counters().records, 0u);
}

TEST(spool, tick_syncs_at_most_every_fsync_ms) {
    temp_dir dir;
    auto settings = settings_for(dir);
    settings.fsync_ms = 100;
    auto s = open_spool(settings);
    const auto& c = s->counters();
    const uint64_t now = monotonic_ms() + 1000;
    s->tick(now);
    EXPECT_EQ(c.fsyncs, 0u) << "nothing written";
    append_all(*s, make_records(2));
    s->flush();
    const uint64_t created = c.fsyncs; // the directory, after the segment was created
    s->tick(now);
    EXPECT_EQ(c.fsyncs, created + 1);
    append_all(*s, make_records(1));
    s->flush();
    s->tick(now + 50);
    EXPECT_EQ(c.fsyncs, created + 1) << "50 ms after the last sync";
    s->tick(now + 100);
    EXPECT_EQ(c.fsyncs, created + 2);
    s->tick(now + 500);
    EXPECT_EQ(c.fsyncs, created + 2) << "not written since";
    append_all(*s, make_records(1));
    s->sync(); // now, whatever the period
    EXPECT_EQ(c.fsyncs, created + 3);
    s->sync();
    EXPECT_EQ(c.fsyncs, created + 3) << "clean";
    EXPECT_EQ(c.fsync_errors, 0u);
}

TEST(spool, directory_is_created) {
    temp_dir dir;
    auto settings = settings_for(dir);
    settings.dir = dir.file("spool");
    auto s = open_spool(settings);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(fs::is_directory(settings.dir));
    append_all(*s, make_records(1));
    s->close();
    EXPECT_TRUE(fs::exists(settings.dir + "/00000000000000000001.spool"));
}

TEST(spool, open_errors_name_the_key_and_path) {
    temp_dir dir;
    auto settings = settings_for(dir);
    settings.dir = dir.file("a-file");
    write_all(settings.dir, "x");
    std::string error;
    EXPECT_EQ(spool::open(settings, error), nullptr);
    EXPECT_NE(error.find("spool.dir"), std::string::npos) << error;
    EXPECT_NE(error.find(settings.dir), std::string::npos) << error;
    EXPECT_NE(error.find(std::strerror(ENOTDIR)), std::string::npos) << error;

    settings.dir = dir.file("missing/spool"); // one level only
    error.clear();
    EXPECT_EQ(spool::open(settings, error), nullptr);
    EXPECT_NE(error.find("spool.dir"), std::string::npos) << error;
    EXPECT_NE(error.find(settings.dir), std::string::npos) << error;
    EXPECT_NE(error.find("cannot create"), std::string::npos) << error;
    EXPECT_NE(error.find(std::strerror(ENOENT)), std::string::npos) << error;
}

TEST(spool, directory_removed_underneath_is_an_error) {
    temp_dir dir;
    auto settings = settings_for(dir);
    settings.dir = dir.file("spool");
    auto s = open_spool(settings);
    fs::remove(settings.dir);
    testing::internal::CaptureStderr();
    EXPECT_EQ(s->append("{}", spool_origin::replay), spool_append_result::error);
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find(settings.dir), std::string::npos) << log;
    EXPECT_EQ(s->counters().io_errors[size_t(spool_origin::replay)], 1u);
    EXPECT_FALSE(s->writable());
    EXPECT_TRUE(s->empty());
    s->close();
}

// ---- write errors (in a child process) ------------------------------------------------------

// Runs body in a forked child, which reports through its exit code: 0 for success, else the
// number of the check that failed. The child never returns into GoogleTest.
template <typename Body> int run_in_child(Body body) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) _exit(body());
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -2;
    if (!WIFEXITED(status)) return -3;
    return WEXITSTATUS(status);
}

void set_file_size_limit(rlim_t bytes) {
    rlimit limit{};
    getrlimit(RLIMIT_FSIZE, &limit);
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
}

TEST(spool, write_error_loses_the_buffer_cleanly_and_recovers) {
    temp_dir dir;
    const std::string log_path = dir.file("stderr.log");
    const std::string segment = segment_file(dir, 1);
    const int result = run_in_child([&]() -> int {
        const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log_fd < 0 || dup2(log_fd, STDERR_FILENO) < 0) return 100;
        std::signal(SIGXFSZ, SIG_IGN); // the write fails with EFBIG instead
        std::string error;
        auto s = spool::open(settings_for(dir), error);
        if (!s) return 101;
        const auto& c = s->counters();
        const std::string record(88, 'r'); // 100 bytes each
        for (int i = 0; i < 5; ++i)
            if (s->append(record, spool_origin::event) != spool_append_result::ok) return 1;
        s->flush();
        if (c.spooled != 5 || !s->writable()) return 2;

        set_file_size_limit(750); // two and a half records more fit
        for (int i = 0; i < 4; ++i)
            if (s->append(record, spool_origin::event) != spool_append_result::ok) return 3;
        if (s->append(record, spool_origin::replay) != spool_append_result::ok) return 4;
        s->flush();
        if (c.io_errors[0] != 4 || c.io_errors[1] != 1) return 5;
        if (c.spooled != 5 || c.respooled != 0) return 6;
        if (s->writable()) return 7;
        if (c.bytes != 500 || c.records != 5) return 8;
        struct stat st;
        if (stat(segment.c_str(), &st) != 0 || st.st_size != 500) return 9; // no torn record

        set_file_size_limit(RLIM_INFINITY); // room again
        for (int i = 0; i < 2; ++i)
            if (s->append(record, spool_origin::replay) != spool_append_result::ok) return 10;
        s->flush();
        if (!s->writable()) return 11;
        if (c.respooled != 2 || c.bytes != 700 || c.records != 7) return 12;
        if (stat(segment.c_str(), &st) != 0 || st.st_size != 700) return 13;
        auto reader = s->open_next_segment();
        if (!reader) return 14;
        std::string_view view;
        uint64_t n = 0;
        while (reader->next(view))
            n += view == record;
        if (n != 7 || c.corrupt_records != 0) return 15;
        s->remove_segment(reader->id(), reader->records_read());
        if (c.bytes != 0 || c.records != 0 || c.segments != 0) return 16;
        return 0;
    });
    EXPECT_EQ(result, 0) << "check " << result << " failed in the child";
    const std::string log = read_all(log_path);
    EXPECT_NE(log.find(segment), std::string::npos) << log;
    EXPECT_NE(log.find(std::strerror(EFBIG)), std::string::npos) << log;
}

} // namespace
} // namespace pixelring
