#pragma once
// The keys that encrypt and authenticate session tickets, which let a returning client resume
// its session without a full handshake. Shared by every worker and every certificate.
//
// Two sources:
// - made here (tls.ticket_key_file empty): a fresh random key every tls.session_timeout_s,
//   and tickets of the key before it still accepted, so a ticket resumes for at least that
//   long and a key is forgotten two periods after it was made (old tickets cannot be
//   decrypted from a later memory dump). Each collector has its own keys.
// - read from tls.ticket_key_file, shared by a fleet: 1 to 8 keys of 80 bytes each (16 bytes
//   of name, 32 of HMAC-SHA256 secret, 32 of AES-256 key; the layout of nginx's 80-byte
//   ssl_session_ticket_key files, so `openssl rand 80` makes one). The first key encrypts
//   new tickets, every key is accepted, so a client resumes on whichever collector its next
//   connection reaches. Read at start and on each reload (SIGHUP); rotating them is the
//   operator's.
//
// The main thread writes (rotate, reload); OpenSSL's ticket callback reads on the workers
// through a sequence lock over atomic words: a reader never waits for a lock, and one that
// meets a write in progress reads again (a few times, then it treats the ticket as unknown,
// which costs that client a full handshake, nothing more).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/config/config.hh"

struct ssl_ctx_st;

namespace pixelring {

class ticket_keys {
public:
    static constexpr size_t key_size = 80;
    static constexpr size_t max_keys = 8;

    struct key {
        unsigned char name[16];
        unsigned char hmac[32];
        unsigned char aes[32];
    };
    static_assert(sizeof(key) == key_size);

    // Keys made here, the first now; a new one every lifetime_s seconds (rotate_if_due).
    static std::unique_ptr<ticket_keys> generated(uint32_t lifetime_s, uint64_t now_ms);
    // Keys from a file; nullptr with error naming the file and what is wrong.
    static std::unique_ptr<ticket_keys> from_file(const std::string& path, uint32_t lifetime_s,
                                                  std::string& error);
    // As the configuration says: tls.ticket_key_file when set, else keys made here; sessions
    // resume for tls.session_timeout_s.
    static std::unique_ptr<ticket_keys> from_config(const tls_config& cfg, uint64_t now_ms,
                                                    std::string& error);
    ~ticket_keys();
    ticket_keys(const ticket_keys&) = delete;
    ticket_keys& operator=(const ticket_keys&) = delete;

    // Main thread. Keys made here: a new encrypting key when lifetime_s has passed since the
    // last one (the previous one still decrypts); true when it rotated. From a file: false.
    bool rotate_if_due(uint64_t now_ms);
    // Main thread. From a file: reads it again; on error (named) the keys in use stay.
    // Keys made here: nothing to read, true.
    bool reload(std::string& error);

    const std::string& file() const noexcept { return file_; } // empty: made here
    uint32_t lifetime_s() const noexcept { return lifetime_s_; }
    size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
    uint64_t changes() const noexcept { return changes_.load(std::memory_order_relaxed); }
    // For the log: where the keys come from, how many, how long sessions resume.
    std::string describe() const;

    // Any thread. The key new tickets are made with; false when none could be read.
    bool encrypting(key& out) const noexcept;
    // Any thread. The key named `name`: 0 for the encrypting key, 1.. for older ones
    // (the ticket is then renewed), -1 when there is none by that name.
    int find(const unsigned char (&name)[16], key& out) const noexcept;

    // Makes ctx issue and accept tickets with these keys (its ticket callback); the keys
    // must outlive ctx's sessions. Sessions resume for lifetime_s (ticket or ID). False when
    // OpenSSL refused.
    bool attach(ssl_ctx_st* ctx) const;

private:
    explicit ticket_keys(uint32_t lifetime_s) : lifetime_s_(lifetime_s) {}
    void publish(const key* keys, size_t n) noexcept;

    static constexpr size_t words_per_key = key_size / 8;
    std::atomic<uint64_t> sequence_{0}; // odd while publish writes
    std::atomic<size_t> count_{0};
    std::array<std::atomic<uint64_t>, max_keys * words_per_key> words_{};
    std::atomic<uint64_t> changes_{0};

    // Main thread only.
    std::string file_;
    uint32_t lifetime_s_;
    uint64_t rotated_ms_ = 0;
    key held_[2] = {}; // made here: the encrypting key and the one before
    size_t held_count_ = 0;
};

} // namespace pixelring
