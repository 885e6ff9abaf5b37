#pragma once
// A TLS client and pixelring's server session talking in memory, for tests of tls/: a real
// OpenSSL client on memory BIOs that trusts a test CA, the server's tls_session with a 64 KiB
// output buffer, and pump() to carry bytes between them. Test code only.

#include <openssl/ssl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "tls/tls_context.hh"
#include "tls/tls_session.hh"

namespace pixelring::test {

// An OpenSSL client on memory BIOs that trusts the test CA.
struct client {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = nullptr;
    BIO* from_server = BIO_new(BIO_s_mem());
    BIO* to_server = BIO_new(BIO_s_mem());

    client(const std::string& ca, const std::string& sni, int max_version = 0,
           const std::string& alpn = std::string("\x08http/1.1", 9),
           SSL_SESSION* resume = nullptr) {
        SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        if (max_version) {
            SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
            SSL_CTX_set_security_level(ctx, 0); // let the client offer TLS 1.1 when told to
            SSL_CTX_set_max_proto_version(ctx, max_version);
        }
        ssl = SSL_new(ctx);
        SSL_set_bio(ssl, from_server, to_server);
        SSL_set_connect_state(ssl);
        if (!sni.empty()) {
            SSL_set_tlsext_host_name(ssl, sni.c_str());
            SSL_set1_host(ssl, sni.c_str());
        }
        if (!alpn.empty())
            SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn.data()),
                                unsigned(alpn.size()));
        if (resume) SSL_set_session(ssl, resume);
    }
    ~client() {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    }
    std::string take_output() {
        std::string out;
        char b[4096];
        int n;
        while ((n = BIO_read(to_server, b, sizeof b)) > 0)
            out.append(b, size_t(n));
        return out;
    }
};

// The server's session with a 64 KiB output buffer; pumps bytes both ways.
struct server {
    tls_session session;
    std::vector<char> out = std::vector<char>(65536);
    std::string plaintext;
    tls_result last = tls_result::want_more;

    explicit server(const tls_context& ctx) : session(ctx.native()) {
        session.set_output(out.data(), out.size());
    }
    // Feeds bytes in pieces of at most piece bytes, reading plaintext after each.
    void feed(const std::string& bytes, size_t piece = SIZE_MAX) {
        for (size_t at = 0; at < bytes.size(); at += piece) {
            const size_t n = std::min(piece, bytes.size() - at);
            session.feed(bytes.data() + at, n);
            char buf[1000];
            size_t got;
            while ((last = session.read(buf, sizeof buf, got)) == tls_result::ok)
                plaintext.append(buf, got);
            if (last != tls_result::want_more) return;
        }
    }
    std::string take_output() {
        std::string s(session.output(), session.output_size());
        session.clear_output();
        return s;
    }
};

// Runs the handshake (and whatever the client has queued) until neither side has more to
// say. Returns whether the client finished its handshake.
inline bool pump(client& c, server& s, size_t piece = SIZE_MAX) {
    for (int round = 0; round < 20; ++round) {
        if (!SSL_is_init_finished(c.ssl)) SSL_do_handshake(c.ssl);
        std::string to_server = c.take_output();
        if (!to_server.empty()) s.feed(to_server, piece);
        std::string to_client = s.take_output();
        if (!to_client.empty()) BIO_write(c.from_server, to_client.data(), int(to_client.size()));
        if (to_server.empty() && to_client.empty()) break;
        if (s.last == tls_result::error) break;
    }
    return SSL_is_init_finished(c.ssl) == 1;
}

inline std::string client_read(client& c) {
    std::string out;
    char b[4096];
    int n;
    while ((n = SSL_read(c.ssl, b, sizeof b)) > 0)
        out.append(b, size_t(n));
    return out;
}

inline std::string peer_cn(client& c) {
    X509* peer = SSL_get0_peer_certificate(c.ssl);
    char cn[256] = {};
    if (peer) X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    return cn;
}

} // namespace pixelring::test
