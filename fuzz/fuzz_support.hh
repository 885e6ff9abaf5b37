#pragma once
// What every harness in fuzz/ shares: the check that stops the fuzzer with a message, buffers
// of exactly the size the server hands a parser (so that ASan reports any byte read past it),
// the arrival of bytes in pieces as recv delivers them, and the checks of JSON output (strict
// UTF-8, and simdjson's DOM parser, which refuses what a strict reader refuses). Fuzz code
// only: single-threaded, allocates freely, aborts on the first broken contract.

#include <sanitizer/asan_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "tests/support/utf8_check.hh"

// A contract the code under test broke: print where and why, then abort, which libFuzzer
// reports as a crash and saves the input for.
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "\n%s:%d: fuzz check failed: %s\n  ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                                     \
            std::fprintf(stderr, "\n");                                                            \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

namespace pixelring::fuzz {

// A heap copy of bytes with nothing readable after them (ASan's redzone follows), plus
// `padding` more bytes filled with pad_byte when the callee is promised that many.
class exact_buffer {
public:
    explicit exact_buffer(std::string_view bytes, size_t padding = 0, char pad_byte = 0)
        : size_(bytes.size()), capacity_(bytes.size() + padding),
          data_(new char[capacity_ == 0 ? 0 : capacity_]) {
        if (!bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
        if (padding) std::memset(data_.get() + size_, pad_byte, padding);
    }
    char* data() noexcept { return data_.get(); }
    const char* data() const noexcept { return data_.get(); }
    size_t size() const noexcept { return size_; }
    size_t capacity() const noexcept { return capacity_; }
    std::string_view view() const noexcept { return {data_.get(), size_}; }

    // Only the first `received` bytes may be read: the rest is poisoned (ASan reports a read
    // of it as use-after-poison), as the bytes a peer has not sent yet. Growing `received`
    // unpoisons. The poison is removed when the buffer is destroyed.
    void receive(size_t received) noexcept {
        if (size_ == 0) return;
        ASAN_UNPOISON_MEMORY_REGION(data_.get(), size_);
        if (received < size_) ASAN_POISON_MEMORY_REGION(data_.get() + received, size_ - received);
    }
    ~exact_buffer() {
        if (size_) ASAN_UNPOISON_MEMORY_REGION(data_.get(), size_);
    }

private:
    size_t size_;
    size_t capacity_;
    std::unique_ptr<char[]> data_;
};

// FNV-1a of the input: seeds the schedules below, so a given input always replays the same.
inline uint64_t input_hash(std::string_view s) noexcept {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s)
        h = (h ^ c) * 0x100000001b3ull;
    return h;
}

// The sizes in which recv hands a connection's bytes over: mostly a few bytes (where
// resumption goes wrong), sometimes a few dozen, now and then everything that is left.
class recv_schedule {
public:
    explicit recv_schedule(uint64_t seed) noexcept : state_(seed) {}
    size_t next(size_t left) noexcept {
        const uint64_t r = step();
        size_t n;
        switch (r % 8) {
        case 0:
            n = left;
            break;
        case 1:
        case 2:
            n = 1 + (r >> 8) % 64;
            break;
        default:
            n = 1 + (r >> 8) % 8;
            break;
        }
        return n < left ? n : left;
    }
    uint64_t step() noexcept { // splitmix64
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }

private:
    uint64_t state_;
};

// Strict UTF-8 (RFC 3629): the tests' own check.
using test::is_valid_utf8;

// Printable for a failure message: the first 300 bytes, C-escaped.
inline std::string escaped(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size() && i < 300; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += char(c);
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    if (s.size() > 300) out += "...";
    return out;
}

// Parses text with simdjson's DOM parser (a strict RFC 8259 reader that also refuses numbers
// beyond a double) after checking that it is strict UTF-8. Aborts otherwise; returns the
// parsed element, valid until the next call.
inline simdjson::dom::element parse_json_or_abort(std::string_view text, const char* what) {
    static simdjson::dom::parser parser;
    FUZZ_CHECK(is_valid_utf8(text), "%s is not valid UTF-8: %s", what, escaped(text).c_str());
    simdjson::dom::element root;
    const auto error = parser.parse(simdjson::padded_string(text)).get(root);
    FUZZ_CHECK(!error, "%s is not valid JSON (%s): %s", what, simdjson::error_message(error),
               escaped(text).c_str());
    return root;
}

// As parse_json_or_abort, for text that must be a JSON object (an event, an error body).
inline simdjson::dom::object parse_json_object_or_abort(std::string_view text, const char* what) {
    simdjson::dom::object object;
    FUZZ_CHECK(!parse_json_or_abort(text, what).get(object), "%s is not a JSON object: %s", what,
               escaped(text).c_str());
    return object;
}

// For an object: no member name twice (a JSON reader would keep only one of them).
inline void check_unique_keys(simdjson::dom::object object, const char* what) {
    std::string_view seen[128];
    size_t count = 0;
    for (auto field : object) {
        for (size_t i = 0; i < count; ++i)
            FUZZ_CHECK(seen[i] != field.key, "%s has the member \"%s\" twice", what,
                       escaped(field.key).c_str());
        if (count < 128) seen[count++] = field.key;
    }
}

// The view lies inside [base, base + size) (an empty view anywhere is fine).
inline bool inside(std::string_view part, const char* base, size_t size) noexcept {
    if (part.empty()) return true;
    return part.data() >= base && part.data() + part.size() <= base + size;
}

} // namespace pixelring::fuzz
