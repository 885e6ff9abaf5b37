// tls/ticket_keys: session ticket keys made here and rotated, or read from a file a fleet
// shares, against a real OpenSSL client in memory (tests/support/tls_pair.hh): which tickets resume
// where, after how many rotations, after a reload of the file; the file's errors; and readers
// that never see half a key while the main thread replaces them.

#include <gtest/gtest.h>

#include <openssl/ssl.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.hh"
#include "tests/support/tls_pair.hh"
#include "tests/support/tls_test_certs.hh"
#include "tls/ticket_keys.hh"
#include "tls/tls_context.hh"

using namespace pixelring;
using namespace pixelring::test;

namespace {

constexpr uint32_t lifetime_s = 3600;
constexpr uint64_t lifetime_ms = lifetime_s * 1000ull;

void write_keys(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// n keys of 80 bytes, key i all bytes (seed + i).
std::string keys_of(unsigned char seed, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i)
        out.append(ticket_keys::key_size, char(seed + i));
    return out;
}

struct collector_tls {
    std::unique_ptr<tls_context> ctx;
    collector_tls(const issued_certificate& cert, const ticket_keys& keys) {
        tls_settings s;
        s.certificates = {{cert.chain, cert.key, {}}};
        s.tickets = &keys;
        s.session_cache = 0; // resumption by ticket only: the ID cache would hide a failure
        std::string error;
        ctx = tls_context::create(s, error);
        EXPECT_TRUE(ctx) << error;
    }
};

struct fixture {
    temp_dir dir{"pixelring-tickets"};
    test_ca ca{dir.str()};
    issued_certificate cert = ca.issue("a", {"a.example"});

    // The clients of first sessions stay: freeing a client's SSL_CTX makes its sessions
    // not resumable.
    std::vector<std::unique_ptr<client>> first_clients;

    // A full handshake with ctx; the session (with its ticket) for later. Caller frees it.
    SSL_SESSION* first_session(const tls_context& ctx, int version = 0) {
        client& c = *first_clients.emplace_back(
            std::make_unique<client>(ca.cert_path(), "a.example", version));
        server s(ctx);
        EXPECT_TRUE(pump(c, s));
        EXPECT_FALSE(s.session.resumed());
        client_read(c); // TLS 1.3 tickets come after the handshake
        SSL_SESSION* saved = SSL_get1_session(c.ssl);
        EXPECT_TRUE(saved && SSL_SESSION_is_resumable(saved));
        return saved;
    }
    // Whether saved resumes on ctx.
    bool resumes(const tls_context& ctx, SSL_SESSION* saved, int version = 0) {
        client c(ca.cert_path(), "a.example", version, std::string("\x08http/1.1", 9), saved);
        server s(ctx);
        EXPECT_TRUE(pump(c, s));
        return s.session.resumed() && SSL_session_reused(c.ssl) == 1;
    }
};

} // namespace

TEST(ticket_keys, generated_keys_rotate_and_the_one_before_still_opens) {
    auto keys = ticket_keys::generated(lifetime_s, 1000);
    ASSERT_TRUE(keys);
    EXPECT_EQ(keys->count(), 1u);
    ticket_keys::key first{}, got{};
    ASSERT_TRUE(keys->encrypting(first));
    EXPECT_EQ(keys->find(first.name, got), 0);
    EXPECT_EQ(std::memcmp(&first, &got, sizeof got), 0);

    EXPECT_FALSE(keys->rotate_if_due(1000 + lifetime_ms - 1));
    ASSERT_TRUE(keys->rotate_if_due(1000 + lifetime_ms));
    ticket_keys::key second{};
    ASSERT_TRUE(keys->encrypting(second));
    EXPECT_NE(std::memcmp(first.name, second.name, sizeof first.name), 0);
    EXPECT_EQ(keys->find(second.name, got), 0);
    EXPECT_EQ(keys->find(first.name, got), 1); // older: accepted, the ticket renewed
    EXPECT_EQ(std::memcmp(&first, &got, sizeof got), 0);
    EXPECT_EQ(keys->count(), 2u);

    ASSERT_TRUE(keys->rotate_if_due(1000 + 2 * lifetime_ms));
    EXPECT_EQ(keys->find(first.name, got), -1); // forgotten two periods after it was made
    EXPECT_EQ(keys->find(second.name, got), 1);
    EXPECT_EQ(keys->changes(), 3u);
    EXPECT_NE(keys->describe().find("a new one every 3600 s"), std::string::npos);
}

TEST(ticket_keys, a_ticket_resumes_for_one_rotation_and_not_after_two) {
    fixture f;
    for (const int version : {0, TLS1_2_VERSION}) {
        uint64_t now = 5000;
        auto keys = ticket_keys::generated(lifetime_s, now);
        collector_tls c(f.cert, *keys);
        // A client uses a TLS 1.3 ticket once: one session per attempt.
        SSL_SESSION* saved[3];
        for (SSL_SESSION*& session : saved)
            session = f.first_session(*c.ctx, version);
        EXPECT_TRUE(f.resumes(*c.ctx, saved[0], version)) << version;
        ASSERT_TRUE(keys->rotate_if_due(now += lifetime_ms));
        EXPECT_TRUE(f.resumes(*c.ctx, saved[1], version)) << version;
        ASSERT_TRUE(keys->rotate_if_due(now += lifetime_ms));
        EXPECT_FALSE(f.resumes(*c.ctx, saved[2], version)) << version;
        for (SSL_SESSION* session : saved)
            SSL_SESSION_free(session);
    }
}

// A TLS 1.3 client uses a ticket once, so a resumed connection must bring a new one: a chain
// of connections, each resuming with the ticket the one before got, all resume.
TEST(ticket_keys, every_tls13_resumption_brings_a_new_ticket) {
    fixture f;
    auto keys = ticket_keys::generated(lifetime_s, 0);
    collector_tls c(f.cert, *keys);
    SSL_SESSION* saved = f.first_session(*c.ctx);
    for (int i = 0; i < 4; ++i) {
        client& next = *f.first_clients.emplace_back(std::make_unique<client>(
            f.ca.cert_path(), "a.example", 0, std::string("\x08http/1.1", 9), saved));
        server s(*c.ctx);
        ASSERT_TRUE(pump(next, s));
        EXPECT_TRUE(s.session.resumed()) << i;
        client_read(next); // the new ticket comes after the handshake
        SSL_SESSION* fresh = SSL_get1_session(next.ssl);
        const unsigned char *old_ticket = nullptr, *new_ticket = nullptr;
        size_t old_len = 0, new_len = 0;
        SSL_SESSION_get0_ticket(saved, &old_ticket, &old_len);
        SSL_SESSION_get0_ticket(fresh, &new_ticket, &new_len);
        ASSERT_GT(new_len, 0u);
        EXPECT_FALSE(old_len == new_len && std::memcmp(old_ticket, new_ticket, old_len) == 0)
            << "connection " << i << " resumed without a new ticket";
        SSL_SESSION_free(saved);
        saved = fresh;
    }
    SSL_SESSION_free(saved);
}

TEST(ticket_keys, a_fleet_sharing_a_key_file_resumes_on_any_collector) {
    fixture f;
    const std::string file = f.dir.file("tickets.key");
    write_keys(file, keys_of(0x10, 2));
    std::string error;
    auto keys_a = ticket_keys::from_file(file, lifetime_s, error);
    auto keys_b = ticket_keys::from_file(file, lifetime_s, error);
    ASSERT_TRUE(keys_a && keys_b) << error;
    EXPECT_EQ(keys_a->count(), 2u);
    EXPECT_NE(keys_a->describe().find("2 keys from " + file), std::string::npos);
    collector_tls a(f.cert, *keys_a), b(f.cert, *keys_b);

    // Keys made here are each collector's own: no resumption across them.
    auto own_a = ticket_keys::generated(lifetime_s, 0),
         own_b = ticket_keys::generated(lifetime_s, 0);
    collector_tls alone_a(f.cert, *own_a), alone_b(f.cert, *own_b);

    for (const int version : {0, TLS1_2_VERSION}) {
        SSL_SESSION* from_a = f.first_session(*a.ctx, version);
        EXPECT_TRUE(f.resumes(*b.ctx, from_a, version)) << version;
        SSL_SESSION_free(from_a);

        SSL_SESSION* from_alone = f.first_session(*alone_a.ctx, version);
        EXPECT_FALSE(f.resumes(*alone_b.ctx, from_alone, version)) << version;
        EXPECT_TRUE(f.resumes(*alone_a.ctx, from_alone, version)) << version;
        SSL_SESSION_free(from_alone);
    }
    // A file never rotates by itself.
    EXPECT_FALSE(keys_a->rotate_if_due(100 * lifetime_ms));
}

TEST(ticket_keys, reloading_the_file_keeps_listed_keys_and_drops_the_others) {
    fixture f;
    const std::string file = f.dir.file("tickets.key");
    write_keys(file, keys_of(0x20, 1));
    std::string error;
    auto keys = ticket_keys::from_file(file, lifetime_s, error);
    ASSERT_TRUE(keys) << error;
    collector_tls c(f.cert, *keys);
    // A client uses a TLS 1.3 ticket once: one session per attempt.
    SSL_SESSION* saved[3];
    for (SSL_SESSION*& session : saved)
        session = f.first_session(*c.ctx);

    // The usual rotation: a new first key, the old one second. Old tickets still open.
    write_keys(file, keys_of(0x40, 1) + keys_of(0x20, 1));
    ASSERT_TRUE(keys->reload(error)) << error;
    EXPECT_TRUE(f.resumes(*c.ctx, saved[0]));

    // A file that does not load leaves the keys in use.
    write_keys(file, std::string(100, 'x'));
    EXPECT_FALSE(keys->reload(error));
    EXPECT_NE(error.find("100 bytes"), std::string::npos) << error;
    EXPECT_TRUE(f.resumes(*c.ctx, saved[1]));

    write_keys(file, keys_of(0x40, 1));
    ASSERT_TRUE(keys->reload(error)) << error;
    EXPECT_FALSE(f.resumes(*c.ctx, saved[2]));
    for (SSL_SESSION* session : saved)
        SSL_SESSION_free(session);
}

TEST(ticket_keys, file_errors_name_the_file_and_what_it_must_hold) {
    temp_dir dir("pixelring-tickets");
    std::string error;
    EXPECT_FALSE(ticket_keys::from_file(dir.file("missing.key"), lifetime_s, error));
    EXPECT_NE(error.find("tls.ticket_key_file = " + dir.file("missing.key") + ": cannot read it"),
              std::string::npos)
        << error;
    for (const size_t size : {size_t(0), size_t(48), size_t(81), size_t(9 * 80)}) {
        write_keys(dir.file("bad.key"), std::string(size, 'k'));
        EXPECT_FALSE(ticket_keys::from_file(dir.file("bad.key"), lifetime_s, error)) << size;
        EXPECT_NE(error.find(std::to_string(size) + " bytes; it must hold 1 to 8 keys of 80"),
                  std::string::npos)
            << error;
        EXPECT_NE(error.find("openssl rand 80 > "), std::string::npos) << error;
    }
    write_keys(dir.file("eight.key"), keys_of(1, 8));
    auto keys = ticket_keys::from_file(dir.file("eight.key"), lifetime_s, error);
    ASSERT_TRUE(keys) << error;
    EXPECT_EQ(keys->count(), 8u);
    ticket_keys::key k{};
    ASSERT_TRUE(keys->encrypting(k));
    EXPECT_EQ(k.name[0], 1); // the first key of the file seals
    unsigned char last[16];
    std::memset(last, 8, sizeof last);
    EXPECT_EQ(keys->find(last, k), 7);
}

// The main thread replaces the keys while another thread reads them: every key read is one
// whole key of one file (every byte the same), never half of each.
TEST(ticket_keys, readers_never_see_half_a_key) {
    temp_dir dir("pixelring-tickets");
    const std::string one = dir.file("one.key"), two = dir.file("two.key"), live = dir.file("k");
    write_keys(one, keys_of(0x11, 1));
    write_keys(two, keys_of(0x22, 2));
    write_keys(live, keys_of(0x11, 1));
    std::string error;
    auto keys = ticket_keys::from_file(live, lifetime_s, error);
    ASSERT_TRUE(keys) << error;

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> reads{0}, torn{0};
    std::thread reader([&] {
        ticket_keys::key k{};
        while (!stop.load(std::memory_order_relaxed)) {
            if (!keys->encrypting(k)) continue;
            const auto* b = reinterpret_cast<const unsigned char*>(&k);
            for (size_t i = 1; i < sizeof k; ++i)
                if (b[i] != b[0]) {
                    torn.fetch_add(1);
                    break;
                }
            reads.fetch_add(1, std::memory_order_relaxed);
        }
    });
    for (int i = 0; i < 500; ++i) {
        std::filesystem::copy_file(i % 2 ? one : two, live,
                                   std::filesystem::copy_options::overwrite_existing);
        ASSERT_TRUE(keys->reload(error)) << error;
    }
    stop = true;
    reader.join();
    EXPECT_EQ(torn.load(), 0u);
    EXPECT_GT(reads.load(), 0u);
}
