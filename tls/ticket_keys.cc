// ticket_keys: session ticket keys made here or read from a shared file, and the OpenSSL
// callback that seals and opens tickets with them.

#include "tls/ticket_keys.hh"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <vector>

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

namespace pixelring {

namespace {

// A reader that meets a write in progress reads again, this many times at most.
constexpr int read_attempts = 64;

int keys_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// Fetched once: an implicit fetch per ticket would search OpenSSL's provider store each time.
const EVP_CIPHER* ticket_cipher() {
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
    return cipher;
}

bool set_hmac_key(EVP_MAC_CTX* mac, const ticket_keys::key& k) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                                             const_cast<unsigned char*>(k.hmac),
                                                             sizeof k.hmac),
                           OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(mac, params) == 1;
}

// OpenSSL's ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb). Sealing (enc 1): 1 with a
// key set up, 0 for no ticket this time. Opening: 1 for the encrypting key, 2 when OpenSSL is
// to issue a new ticket, 0 for an unknown name (a full handshake), -1 on failure.
int ticket_callback(SSL* ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                    EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) {
    const auto* keys =
        static_cast<const ticket_keys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keys_index()));
    const EVP_CIPHER* aes = ticket_cipher();
    if (!keys || !aes) return enc ? 0 : -1;
    ticket_keys::key k;
    int result;
    if (enc) {
        if (!keys->encrypting(k)) return 0;
        result = RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) == 1 &&
                         EVP_EncryptInit_ex(cipher, aes, nullptr, k.aes, iv) == 1 &&
                         set_hmac_key(mac, k)
                     ? 1
                     : -1;
        if (result == 1) std::memcpy(name, k.name, sizeof k.name);
    } else {
        unsigned char wanted[16];
        std::memcpy(wanted, name, sizeof wanted);
        const int which = keys->find(wanted, k);
        if (which < 0) return 0;
        // 2 (a new ticket after this handshake) for an older key, and always in TLS 1.3,
        // whose clients use a ticket once (RFC 8446, C.4): without a new one, a client's next
        // connection would have nothing to resume with.
        const bool renew = which != 0 || SSL_version(ssl) >= TLS1_3_VERSION;
        result = EVP_DecryptInit_ex(cipher, aes, nullptr, k.aes, iv) == 1 && set_hmac_key(mac, k)
                     ? (renew ? 2 : 1)
                     : -1;
    }
    OPENSSL_cleanse(&k, sizeof k);
    return result;
}

} // namespace

std::unique_ptr<ticket_keys> ticket_keys::generated(uint32_t lifetime_s, uint64_t now_ms) {
    std::unique_ptr<ticket_keys> self(new ticket_keys(lifetime_s));
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&self->held_[0]), key_size) != 1)
        throw std::bad_alloc(); // OpenSSL's generator failed: nothing here can go on
    self->held_count_ = 1;
    self->rotated_ms_ = now_ms;
    self->publish(self->held_, 1);
    return self;
}

std::unique_ptr<ticket_keys> ticket_keys::from_file(const std::string& path, uint32_t lifetime_s,
                                                    std::string& error) {
    std::unique_ptr<ticket_keys> self(new ticket_keys(lifetime_s));
    self->file_ = path;
    if (!self->reload(error)) return nullptr;
    return self;
}

std::unique_ptr<ticket_keys> ticket_keys::from_config(const tls_config& cfg, uint64_t now_ms,
                                                      std::string& error) {
    if (cfg.ticket_key_file.empty()) return generated(cfg.session_timeout_s, now_ms);
    return from_file(cfg.ticket_key_file, cfg.session_timeout_s, error);
}

std::string ticket_keys::describe() const {
    if (file_.empty())
        return fmt::format("session tickets: keys made here, a new one every {} s (tickets of "
                           "the one before still resume)",
                           lifetime_s_);
    return fmt::format("session tickets: {} key{} from {} (the first seals new tickets); sessions "
                       "resume for {} s",
                       count(), count() == 1 ? "" : "s", file_, lifetime_s_);
}

ticket_keys::~ticket_keys() {
    OPENSSL_cleanse(held_, sizeof held_);
}

bool ticket_keys::rotate_if_due(uint64_t now_ms) {
    if (!file_.empty() || now_ms - rotated_ms_ < uint64_t(lifetime_s_) * 1000) return false;
    held_[1] = held_[0];
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&held_[0]), key_size) != 1) {
        held_[0] = held_[1]; // keep the old key a while longer; the next turn tries again
        return false;
    }
    held_count_ = 2;
    rotated_ms_ = now_ms;
    publish(held_, held_count_);
    return true;
}

bool ticket_keys::reload(std::string& error) {
    if (file_.empty()) return true;
    std::ifstream in(file_, std::ios::binary);
    if (!in) {
        error = fmt::format("tls.ticket_key_file = {}: cannot read it: {}", file_,
                            std::strerror(errno));
        return false;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.empty() || bytes.size() % key_size != 0 || bytes.size() > max_keys * key_size) {
        error = fmt::format("tls.ticket_key_file = {}: {} bytes; it must hold 1 to {} keys of {} "
                            "random bytes each (make one with: openssl rand 80 > {})",
                            file_, bytes.size(), max_keys, key_size, file_);
        OPENSSL_cleanse(bytes.data(), bytes.size());
        return false;
    }
    key keys[max_keys];
    const size_t n = bytes.size() / key_size;
    std::memcpy(keys, bytes.data(), bytes.size());
    OPENSSL_cleanse(bytes.data(), bytes.size());
    publish(keys, n);
    OPENSSL_cleanse(keys, sizeof keys);
    return true;
}

// The sequence lock without fences: the writer marks the sequence odd, then stores every word
// with release, so a reader that loads (with acquire) any word of the new keys also sees the
// odd mark when it reads the sequence again, and reads again; the sequence's final release
// store publishes the whole set.
void ticket_keys::publish(const key* keys, size_t n) noexcept {
    const uint64_t s = sequence_.load(std::memory_order_relaxed);
    sequence_.store(s + 1, std::memory_order_relaxed);
    for (size_t i = 0; i < n * words_per_key; ++i) {
        uint64_t w;
        std::memcpy(&w, reinterpret_cast<const unsigned char*>(keys) + i * 8, 8);
        words_[i].store(w, std::memory_order_release);
    }
    for (size_t i = n * words_per_key; i < words_.size(); ++i)
        words_[i].store(0, std::memory_order_release);
    count_.store(n, std::memory_order_release);
    sequence_.store(s + 2, std::memory_order_release);
    changes_.store(changes_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

bool ticket_keys::encrypting(key& out) const noexcept {
    for (int attempt = 0; attempt < read_attempts; ++attempt) {
        const uint64_t s = sequence_.load(std::memory_order_acquire);
        if (s & 1) continue;
        const size_t n = count_.load(std::memory_order_acquire);
        for (size_t i = 0; i < words_per_key; ++i) {
            const uint64_t w = words_[i].load(std::memory_order_acquire);
            std::memcpy(reinterpret_cast<unsigned char*>(&out) + i * 8, &w, 8);
        }
        if (sequence_.load(std::memory_order_relaxed) == s) return n > 0;
    }
    return false;
}

int ticket_keys::find(const unsigned char (&name)[16], key& out) const noexcept {
    uint64_t want[2];
    std::memcpy(want, name, sizeof want);
    for (int attempt = 0; attempt < read_attempts; ++attempt) {
        const uint64_t s = sequence_.load(std::memory_order_acquire);
        if (s & 1) continue;
        const size_t n = count_.load(std::memory_order_acquire);
        int found = -1;
        for (size_t k = 0; k < n && k < max_keys && found < 0; ++k) {
            const size_t base = k * words_per_key;
            if (words_[base].load(std::memory_order_acquire) != want[0] ||
                words_[base + 1].load(std::memory_order_acquire) != want[1])
                continue;
            for (size_t i = 0; i < words_per_key; ++i) {
                const uint64_t w = words_[base + i].load(std::memory_order_acquire);
                std::memcpy(reinterpret_cast<unsigned char*>(&out) + i * 8, &w, 8);
            }
            found = int(k);
        }
        if (sequence_.load(std::memory_order_relaxed) == s) return found;
    }
    return -1;
}

bool ticket_keys::attach(ssl_ctx_st* ctx) const {
    SSL_CTX_set_timeout(ctx, long(lifetime_s_));
    return SSL_CTX_set_ex_data(ctx, keys_index(), const_cast<ticket_keys*>(this)) == 1 &&
           SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_callback) == 1;
}

} // namespace pixelring
