#pragma once
// One TLS connection's record layer over buffers the worker owns: OpenSSL never touches the
// socket. Ciphertext the worker received (io_uring recv) goes in with feed(), plaintext comes
// out of read(); plaintext answers go in with write(), and the ciphertext to send (handshake
// flights, alerts, encrypted answers) is appended to the output buffer the caller attached.
// No I/O, no threads, never blocks: owned and used by one worker thread. The server side of
// a tls_context (tls/tls_context.hh), which must outlive it.

#include <cstddef>
#include <cstdint>
#include <string>

struct ssl_st;
struct ssl_ctx_st;

namespace pixelring {

enum class tls_result : uint8_t {
    ok,          // read: n bytes of plaintext; write: all of it encrypted into the output
    want_more,   // read: nothing more until more ciphertext is fed (all of it was taken)
    want_output, // the output buffer is full or absent: send it, clear_output(), call again
    closed,      // the peer sent close_notify
    error,       // a protocol failure (error_text() says which); an alert may be in the output
};

// Why a handshake failed, as far as the metrics tell them apart.
enum class tls_failure : uint8_t {
    version,    // no TLS version in common (an SSLv3/TLS 1.0/1.1 client)
    cipher,     // no cipher or group in common
    alpn,       // the client offered application protocols, none of them http/1.1
    plain_http, // an HTTP request instead of a ClientHello
    other,      // a malformed or unexpected record, a bad MAC, a client that gave up
};

class tls_session {
public:
    // The server side of one connection, from ctx (an SSL_CTX*). Throws std::bad_alloc when
    // OpenSSL cannot allocate.
    explicit tls_session(ssl_ctx_st* ctx);
    ~tls_session();
    tls_session(const tls_session&) = delete;
    tls_session& operator=(const tls_session&) = delete;

    // Ciphertext as received. The bytes are read from [data, data + len) while read() runs:
    // they must stay valid until read() has returned want_more (which means every byte was
    // taken; OpenSSL keeps a partial record itself), closed or error.
    void feed(const char* data, size_t len) noexcept;
    // Decrypts into [buf, buf + cap): n bytes on ok. Drives the handshake first; what it has
    // to send goes to the output.
    tls_result read(char* buf, size_t cap, size_t& n) noexcept;
    // Encrypts [data, data + len) into the output: ok when all of it is there. On
    // want_output, part may be: call again with the same bytes once the output was sent.
    tls_result write(const char* data, size_t len) noexcept;

    // Where ciphertext to send is appended: [buf, buf + cap). Attach before read() or write();
    // nullptr detaches (then whatever must be sent makes them answer want_output).
    void set_output(char* buf, size_t cap) noexcept;
    size_t output_size() const noexcept { return out_len_; }
    const char* output() const noexcept { return out_; }
    // The output was sent: later ciphertext starts at the buffer's start again.
    void clear_output() noexcept { out_len_ = 0; }

    // After the last answer: close_notify into the output, once (nothing before the
    // handshake is done).
    void shutdown() noexcept;

    bool handshake_done() const noexcept;
    // After the handshake: "TLSv1.3", the cipher's name, whether the session was resumed.
    const char* version() const noexcept;
    const char* cipher() const noexcept;
    bool resumed() const noexcept;
    // The SNI name the client sent, or "".
    const char* server_name() const noexcept;
    // Why the last call answered error (OpenSSL's reason, e.g. "unsupported protocol").
    const std::string& error_text() const noexcept { return error_; }
    // The same, sorted for the metrics.
    tls_failure failure() const noexcept { return failure_; }

    ssl_st* native() noexcept { return ssl_; }

private:
    friend struct tls_bio;
    tls_result failed(int ret) noexcept;

    ssl_st* ssl_ = nullptr;
    const char* in_ = nullptr;
    size_t in_len_ = 0;
    char* out_ = nullptr;
    size_t out_len_ = 0;
    size_t out_cap_ = 0;
    std::string error_;
    tls_failure failure_ = tls_failure::other;
};

} // namespace pixelring
