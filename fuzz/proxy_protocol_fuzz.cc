// The input is the first bytes of a connection when server.proxy_protocol is on. The harness
// calls parse_proxy_header (core/http/proxy_protocol.hh) as net/worker/worker_input.cc's
// take_proxy_header does: from buf[0] again after every recv, with max_bytes the staging
// buffer's capacity (server.max_header_bytes + 4 receive buffers, for the default and the
// smallest max_header_bytes). It does so for every length from 0 to the input's size — a
// superset of any recv split — in one heap buffer of exactly the input's size whose bytes
// from that length on are ASan-poisoned, since the contract says nothing at or past buf[len]
// is read. Checked across lengths: an error stays an error and a complete header stays the
// same header; every length before a complete header is need_more; a v1 line never waits
// for more after 107 bytes or after a CR followed by something else, and a v1 prefix that
// ends with CR and waits for more must be complete once the LF arrives; a v2 header is
// complete exactly at 16 + its length field, within max_bytes. A complete header's fields
// are checked against the bytes (v1 CRLF at consumed, v2 addresses and ports at their
// offsets, families 4/6 or local).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/http/proxy_protocol.hh"
#include "fuzz/fuzz_support.hh"

namespace pixelring {
namespace {

using fuzz::escaped;

bool same_header(const proxy_header& a, const proxy_header& b) {
    return a.consumed == b.consumed && a.version == b.version && a.local == b.local &&
           a.source.family == b.source.family && a.destination.family == b.destination.family &&
           std::memcmp(a.source.bytes, b.source.bytes, 16) == 0 &&
           std::memcmp(a.destination.bytes, b.destination.bytes, 16) == 0 &&
           a.source_port == b.source_port && a.destination_port == b.destination_port;
}

void check_complete(std::string_view buf, const proxy_header& h, size_t max_bytes) {
    FUZZ_CHECK(h.consumed > 0 && h.consumed <= buf.size(), "consumed %zu of %zu", h.consumed,
               buf.size());
    if (h.local) {
        FUZZ_CHECK(h.source.family == 0 && h.destination.family == 0,
                   "a local header with addresses");
    } else {
        FUZZ_CHECK((h.source.family == 4 || h.source.family == 6) &&
                       h.destination.family == h.source.family,
                   "families %u and %u", unsigned(h.source.family), unsigned(h.destination.family));
    }
    if (h.version == 1) {
        FUZZ_CHECK(buf.substr(0, 6) == "PROXY " && h.consumed <= proxy_v1_max_bytes &&
                       buf.substr(h.consumed - 2, 2) == "\r\n",
                   "v1 header of %zu bytes: %s", h.consumed,
                   escaped(buf.substr(0, h.consumed)).c_str());
        const std::string_view line = buf.substr(6, h.consumed - 8);
        FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos, "CR or LF in the line");
        if (!h.local)
            FUZZ_CHECK(line.substr(0, 5) == (h.source.family == 4 ? "TCP4 " : "TCP6 "),
                       "family %u from %s", unsigned(h.source.family), escaped(line).c_str());
        return;
    }
    FUZZ_CHECK(h.version == 2, "version %u", unsigned(h.version));
    const auto* b = reinterpret_cast<const uint8_t*>(buf.data());
    const size_t length = size_t(b[14]) << 8 | b[15];
    FUZZ_CHECK(h.consumed == 16 + length && h.consumed <= max_bytes,
               "v2 header consumed %zu, length field %zu, max_bytes %zu", h.consumed, length,
               max_bytes);
    if (h.local) return;
    FUZZ_CHECK((b[12] & 0xf) == 1, "addresses from a LOCAL command");
    const size_t width = h.source.family == 4 ? 4 : 16;
    FUZZ_CHECK((b[13] >> 4) == (width == 4 ? 1 : 2), "family %u from byte 0x%02x",
               unsigned(h.source.family), unsigned(b[13]));
    FUZZ_CHECK(16 + 2 * width + 4 <= h.consumed, "addresses beyond the header");
    FUZZ_CHECK(std::memcmp(h.source.bytes, b + 16, width) == 0 &&
                   std::memcmp(h.destination.bytes, b + 16 + width, width) == 0 &&
                   h.source_port == (b[16 + 2 * width] << 8 | b[17 + 2 * width]) &&
                   h.destination_port == (b[18 + 2 * width] << 8 | b[19 + 2 * width]),
               "addresses or ports not those of the header");
}

void play(std::string_view input, size_t max_bytes) {
    fuzz::exact_buffer buf(input);
    bool errored = false, completed = false;
    proxy_header first;
    for (size_t len = 0; len <= input.size(); ++len) {
        buf.receive(len);
        proxy_header h;
        const parse_status st = parse_proxy_header(buf.data(), len, h, max_bytes);
        const std::string_view seen = input.substr(0, len);
        if (errored) {
            FUZZ_CHECK(st == parse_status::error, "error at a shorter length, %d at %zu: %s",
                       int(st), len, escaped(seen).c_str());
            continue;
        }
        if (completed) {
            FUZZ_CHECK(st == parse_status::complete && same_header(h, first),
                       "complete at a shorter length, then %d (another header) at %zu", int(st),
                       len);
            continue;
        }
        if (st == parse_status::error) {
            FUZZ_CHECK(h.error_reason && *h.error_reason, "error without a reason");
            errored = true;
            continue;
        }
        if (st == parse_status::complete) {
            check_complete(seen, h, max_bytes);
            FUZZ_CHECK(h.consumed == len, "first complete at %zu bytes, consumed %zu", len,
                       h.consumed);
            completed = true;
            first = h;
            continue;
        }
        // need_more: every byte so far agrees with a header.
        if (len == 0 || input[0] != 'P') continue;
        FUZZ_CHECK(len < proxy_v1_max_bytes, "v1 waits for more after %zu bytes: %s", len,
                   escaped(seen).c_str());
        const size_t cr = seen.find('\r');
        if (cr == std::string_view::npos) continue;
        FUZZ_CHECK(cr + 1 == len, "v1 waits for more after a CR without LF: %s",
                   escaped(seen).c_str());
        // Only the LF is missing: with it the header must be complete.
        fuzz::exact_buffer with_lf(std::string(seen) + "\n");
        proxy_header h2;
        const parse_status st2 = parse_proxy_header(with_lf.data(), with_lf.size(), h2, max_bytes);
        FUZZ_CHECK(st2 == parse_status::complete,
                   "v1 line waits for its LF, then is refused with it (%s): %s", h2.error_reason,
                   escaped(seen).c_str());
    }
}

} // namespace
} // namespace pixelring

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    // The staging buffer's capacity: server.max_header_bytes (default 16 KiB, at least 1 KiB)
    // plus four 16 KiB receive buffers (net/worker/worker.cc).
    pixelring::play(input, 16384 + 4 * 16384);
    pixelring::play(input, 1024 + 4 * 16384);
    return 0;
}
