#pragma once
// The server's TLS configuration made into OpenSSL contexts: one SSL_CTX per certificate
// (chain and key from PEM files), the first the default and the others chosen by the name
// the client asks for (SNI); TLS 1.2 or 1.3 at least; Mozilla's "intermediate" ciphers and
// groups unless told otherwise; ALPN http/1.1 only (a client offering only h2 is refused with
// an alert); no renegotiation; OpenSSL's buffers released while a connection is idle.
// Built at start and on each reload by the main thread, then only read by the workers'
// sessions (tls/tls_session.hh). A session holds the default context, and through it all
// that SNI may switch it to, by OpenSSL's reference counts: a tls_context may be destroyed
// while sessions made from it still run (tls/tls_store.hh replaces it on reload).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config/config.hh"
#include "tls/ticket_keys.hh"

struct ssl_ctx_st;

namespace pixelring {

struct tls_certificate_files {
    std::string chain;              // PEM: the certificate, then its intermediates
    std::string key;                // PEM: its private key
    std::vector<std::string> names; // SNI names it answers; empty: its subjectAltName names
};

// Mozilla's "intermediate" profile (version 5.7): TLS 1.2 ciphers, TLS 1.3 suites, groups.
inline constexpr const char* tls_intermediate_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* tls_intermediate_suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
inline constexpr const char* tls_intermediate_groups = "X25519:prime256v1:secp384r1";

struct tls_settings {
    std::vector<tls_certificate_files> certificates; // at least one; the first is the default
    bool tls13_only = false;                         // else TLS 1.2 and 1.3
    std::string ciphers = tls_intermediate_ciphers;  // TLS 1.2 (OpenSSL cipher list)
    std::string suites = tls_intermediate_suites;    // TLS 1.3
    std::string groups = tls_intermediate_groups;
    uint32_t session_cache = 20480;       // sessions kept for resumption by ID; 0: none
    const ticket_keys* tickets = nullptr; // session tickets; nullptr: OpenSSL's own keys
};

// The settings the configuration's tls.* keys give, with tickets sealed by `tickets` (which
// must outlive every context made from them).
tls_settings tls_settings_from(const tls_config& cfg, const ticket_keys* tickets);

// What a loaded certificate says, for logs, metrics and --check-config.
struct tls_certificate_info {
    std::string file;               // the chain's path
    std::string subject;            // e.g. "CN=px.example.com"
    std::vector<std::string> names; // DNS names of subjectAltName (else the CN)
    std::vector<std::string> sni;   // what SNI matches: the configured names, else names
    int64_t not_before = 0;         // seconds since the epoch
    int64_t not_after = 0;
    size_t chain_length = 0; // certificates in the file, the leaf included
};

// One line per certificate for the start-up log: its file, subject, names and expiry.
std::string describe_certificate(const tls_certificate_info& info);

class tls_context {
public:
    // Loads every certificate and key. nullptr, with error naming the file and what is wrong
    // (unreadable, not PEM, key does not match the certificate, a cipher list OpenSSL
    // refuses), when the configuration cannot serve.
    static std::unique_ptr<tls_context> create(const tls_settings& settings, std::string& error);
    ~tls_context();
    tls_context(const tls_context&) = delete;
    tls_context& operator=(const tls_context&) = delete;

    // The default context, for new sessions (SNI may switch a session to another one).
    ssl_ctx_st* native() const noexcept { return contexts_.front(); }
    // The context of certificates()[i].
    ssl_ctx_st* native(size_t i) const noexcept { return contexts_[i]; }
    const std::vector<tls_certificate_info>& certificates() const noexcept { return info_; }
    // What would trouble clients although the server can start: a certificate expired or not
    // yet valid at now (seconds since the epoch), or whose chain does not reach a root this
    // machine trusts (a missing intermediate). One sentence each, naming the file.
    std::vector<std::string> problems(int64_t now) const;

    // The index of the first certificate whose SNI names hold server_name (exact, or one
    // label under a "*." name), else 0: the default.
    size_t certificate_for(const char* server_name) const noexcept;

private:
    tls_context() = default;
    std::vector<ssl_ctx_st*> contexts_;
    std::vector<tls_certificate_info> info_;
    std::vector<std::string> chain_problems_;
    const void* sni_ = nullptr; // owned by contexts_.front() (tls_context.cc: sni_table)
};

} // namespace pixelring
