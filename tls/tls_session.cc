// tls_session: OpenSSL on a BIO of our own whose read side serves the bytes fed and whose
// write side appends to the attached output buffer, so that ciphertext is copied once each
// way and OpenSSL allocates nothing per record beyond its own record buffers. The thread's
// OpenSSL error queue is emptied after each failure rather than before each call (emptying
// it costs a thread-local lookup, a few percent of a keep-alive request): SSL_get_error
// needs it empty before the call, and only a failure fills it.

#include "tls/tls_session.hh"

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace pixelring {

struct tls_bio {
    static tls_session& of(BIO* b) noexcept { return *static_cast<tls_session*>(BIO_get_data(b)); }

    static int write(BIO* b, const char* data, int len) noexcept {
        tls_session& s = of(b);
        BIO_clear_retry_flags(b);
        const size_t room = s.out_ ? s.out_cap_ - s.out_len_ : 0;
        if (room == 0) {
            BIO_set_retry_write(b);
            return -1;
        }
        const size_t n = std::min(room, size_t(len));
        std::memcpy(s.out_ + s.out_len_, data, n);
        s.out_len_ += n;
        return int(n);
    }

    static int read(BIO* b, char* data, int len) noexcept {
        tls_session& s = of(b);
        BIO_clear_retry_flags(b);
        if (s.in_len_ == 0) {
            BIO_set_retry_read(b);
            return -1;
        }
        const size_t n = std::min(s.in_len_, size_t(len));
        std::memcpy(data, s.in_, n);
        s.in_ += n;
        s.in_len_ -= n;
        return int(n);
    }

    static long ctrl(BIO*, int cmd, long, void*) noexcept {
        return cmd == BIO_CTRL_FLUSH ? 1 : 0; // nothing is buffered here
    }

    static int create(BIO* b) noexcept {
        BIO_set_init(b, 1);
        return 1;
    }

    static BIO_METHOD* method() {
        static BIO_METHOD* const m = [] {
            BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                            "pixelring worker buffers");
            if (!made || !BIO_meth_set_write(made, write) || !BIO_meth_set_read(made, read) ||
                !BIO_meth_set_ctrl(made, ctrl) || !BIO_meth_set_create(made, create))
                throw std::bad_alloc();
            return made;
        }();
        return m;
    }
};

tls_session::tls_session(ssl_ctx_st* ctx) {
    ssl_ = SSL_new(ctx);
    BIO* bio = BIO_new(tls_bio::method());
    if (!ssl_ || !bio) {
        BIO_free(bio);
        SSL_free(ssl_);
        ERR_clear_error();
        throw std::bad_alloc();
    }
    BIO_set_data(bio, this);
    SSL_set_bio(ssl_, bio, bio); // the same BIO both ways: SSL takes its one reference
    SSL_set_accept_state(ssl_);
}

tls_session::~tls_session() {
    SSL_free(ssl_);
}

void tls_session::feed(const char* data, size_t len) noexcept {
    in_ = data;
    in_len_ = len;
}

void tls_session::set_output(char* buf, size_t cap) noexcept {
    out_ = buf;
    out_cap_ = buf ? cap : 0;
    out_len_ = 0;
}

tls_result tls_session::read(char* buf, size_t cap, size_t& n) noexcept {
    n = 0;
    const int r = SSL_read(ssl_, buf, int(std::min<size_t>(cap, INT_MAX)));
    if (r > 0) {
        n = size_t(r);
        return tls_result::ok;
    }
    return failed(r);
}

tls_result tls_session::write(const char* data, size_t len) noexcept {
    if (len == 0) return tls_result::ok;
    const int r = SSL_write(ssl_, data, int(std::min<size_t>(len, INT_MAX)));
    if (r > 0 && size_t(r) == len) return tls_result::ok;
    if (r > 0) return write(data + r, len - size_t(r));
    return failed(r);
}

tls_result tls_session::failed(int ret) noexcept {
    switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
        return tls_result::want_more;
    case SSL_ERROR_WANT_WRITE:
        return tls_result::want_output;
    case SSL_ERROR_ZERO_RETURN:
        return tls_result::closed;
    default:
        break;
    }
    const unsigned long e = ERR_peek_last_error();
    const char* reason = e ? ERR_reason_error_string(e) : nullptr;
    switch (e && ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_VERSION_TOO_LOW:
        failure_ = tls_failure::version;
        break;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SUITABLE_KEY_SHARE:
    case SSL_R_NO_SHARED_GROUPS:
        failure_ = tls_failure::cipher;
        break;
    case SSL_R_NO_APPLICATION_PROTOCOL:
        failure_ = tls_failure::alpn;
        break;
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
        failure_ = tls_failure::plain_http;
        break;
    default:
        failure_ = tls_failure::other;
    }
    try {
        error_ = reason ? reason : (e ? "TLS error" : "connection ended without close_notify");
    } catch (...) {
    }
    ERR_clear_error(); // the queue stays empty between calls: SSL_get_error reads it
    return tls_result::error;
}

void tls_session::shutdown() noexcept {
    if (!handshake_done() || (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) return;
    ERR_clear_error();
    SSL_shutdown(ssl_); // 0: sent, the peer's close_notify is not waited for
    ERR_clear_error();
}

bool tls_session::handshake_done() const noexcept {
    return SSL_is_init_finished(ssl_) == 1;
}
const char* tls_session::version() const noexcept {
    return SSL_get_version(ssl_);
}
const char* tls_session::cipher() const noexcept {
    return SSL_get_cipher_name(ssl_);
}
bool tls_session::resumed() const noexcept {
    return SSL_session_reused(ssl_) == 1;
}
const char* tls_session::server_name() const noexcept {
    const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    return name ? name : "";
}

} // namespace pixelring
