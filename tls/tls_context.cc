// tls_context: OpenSSL contexts from the configuration, and what their certificates say.

#include "tls/tls_context.hh"

#include "core/base/ascii.hh"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace pixelring {

namespace {

std::string openssl_reason() {
    const unsigned long e = ERR_peek_last_error();
    const char* reason = e ? ERR_reason_error_string(e) : nullptr;
    ERR_clear_error();
    return reason ? reason : "unknown OpenSSL error";
}

// ALPN: http/1.1 when offered; a client that offers protocols but not http/1.1 (h2 only) gets
// the no_application_protocol alert; one that offers none is served HTTP/1.1 anyway.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                unsigned int in_len, void*) {
    static const unsigned char http11[] = "\x08http/1.1";
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, out_len, http11, sizeof http11 - 1, in, in_len) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

// Whether a certificate name (exact, or "*." and one label) matches a host name, in any case.
bool name_matches(const std::string& name, const char* host) noexcept {
    const std::string_view h(host);
    if (ascii_iequals(name, h)) return true;
    // "*.example.com" covers exactly one more label: "a.example.com".
    if (name.size() > 2 && name[0] == '*' && name[1] == '.') {
        const size_t dot = h.find('.');
        return dot != std::string_view::npos && dot != 0 &&
               ascii_iequals(h.substr(dot), std::string_view(name).substr(1));
    }
    return false;
}

// What SNI chooses from: the names of each certificate and, but for the default, its
// context (one reference each). It belongs to the default context (ex_data, freed with it),
// and every session holds that context until it ends, so a session mid-handshake can still
// choose after a reload has replaced its tls_context.
struct sni_table {
    std::vector<std::vector<std::string>> names; // per certificate, lower case
    std::vector<SSL_CTX*> others;                // contexts of certificates 1..n-1
    ~sni_table() {
        for (SSL_CTX* ctx : others)
            SSL_CTX_free(ctx);
    }

    // The index of the certificate for server_name, else 0.
    size_t find(const char* server_name) const noexcept {
        for (size_t i = 0; i < names.size(); ++i)
            for (const std::string& name : names[i])
                if (name_matches(name, server_name)) return i;
        return 0;
    }
};

void free_sni_table(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<sni_table*>(ptr);
}

int sni_table_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_sni_table);
    return index;
}

int select_certificate(SSL* ssl, int*, void* arg) {
    const auto* table = static_cast<const sni_table*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_NOACK;
    const size_t i = table->find(name);
    if (i != 0) SSL_set_SSL_CTX(ssl, table->others[i - 1]);
    return SSL_TLSEXT_ERR_OK;
}

int64_t epoch_of(const ASN1_TIME* t) {
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return int64_t(timegm(&tm));
}

std::string name_text(const X509_NAME* name) {
    BIO* b = BIO_new(BIO_s_mem());
    if (!b) return {};
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    std::string out(data, size_t(n > 0 ? n : 0));
    BIO_free(b);
    return out;
}

std::string lower(std::string s) {
    for (char& c : s)
        c = ascii_lower(c);
    return s;
}

std::vector<std::string> dns_names(X509* cert) {
    std::vector<std::string> names;
    auto* alt =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; alt && i < sk_GENERAL_NAME_num(alt); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(alt, i);
        if (g->type != GEN_DNS) continue;
        const ASN1_IA5STRING* s = g->d.dNSName;
        names.push_back(
            lower(std::string(reinterpret_cast<const char*>(s->data), size_t(s->length))));
    }
    GENERAL_NAMES_free(alt);
    if (names.empty()) {
        char cn[256] = {};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) >
            0)
            names.push_back(lower(cn));
    }
    return names;
}

std::string date_text(int64_t t) {
    const time_t tt = time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char b[32];
    std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return b;
}

// Whether the chain in the file reaches a root this machine trusts (times not checked here).
std::string chain_problem(SSL_CTX* ctx, const tls_certificate_info& info) {
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    STACK_OF(X509)* chain = nullptr;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    X509_STORE* store = X509_STORE_new();
    X509_STORE_CTX* verify = X509_STORE_CTX_new();
    std::string problem;
    if (store && verify && X509_STORE_set_default_paths(store) == 1 &&
        X509_STORE_CTX_init(verify, store, leaf, chain) == 1) {
        X509_STORE_CTX_set_flags(verify, X509_V_FLAG_NO_CHECK_TIME);
        if (X509_verify_cert(verify) != 1) {
            const int e = X509_STORE_CTX_get_error(verify);
            X509* last = chain && sk_X509_num(chain) > 0
                             ? sk_X509_value(chain, sk_X509_num(chain) - 1)
                             : leaf;
            const std::string issuer = name_text(X509_get_issuer_name(last));
            if (e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
                problem = fmt::format(
                    "{}: the chain ends at a certificate issued by \"{}\", which is neither in "
                    "the file nor a root this machine trusts (is an intermediate certificate "
                    "missing?)",
                    info.file, issuer);
            else
                problem = fmt::format("{}: the chain does not verify against this machine's "
                                      "roots: {}",
                                      info.file, X509_verify_cert_error_string(e));
        }
    }
    X509_STORE_CTX_free(verify);
    X509_STORE_free(store);
    ERR_clear_error();
    return problem;
}

} // namespace

tls_settings tls_settings_from(const tls_config& cfg, const ticket_keys* tickets) {
    tls_settings s;
    s.session_cache = cfg.session_cache;
    s.tickets = tickets;
    if (!cfg.cert.empty()) s.certificates.push_back({cfg.cert, cfg.key, {}});
    for (const tls_certificate_config& c : cfg.certificates)
        s.certificates.push_back({c.cert, c.key, c.names});
    s.tls13_only = cfg.min_version == "1.3";
    return s;
}

std::string describe_certificate(const tls_certificate_info& info) {
    std::string text = fmt::format("{}: {} for {}, valid until {}", info.file, info.subject,
                                   fmt::join(info.names, ", "), date_text(info.not_after));
    if (info.sni != info.names) text += fmt::format("; answers {}", fmt::join(info.sni, ", "));
    return text;
}

std::unique_ptr<tls_context> tls_context::create(const tls_settings& settings, std::string& error) {
    if (settings.certificates.empty()) {
        error = "no certificate: give a PEM chain and its key";
        return nullptr;
    }
    std::unique_ptr<tls_context> self(new tls_context());
    ERR_clear_error();
    for (const tls_certificate_files& files : settings.certificates) {
        SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx) {
            error = "OpenSSL could not make a context: " + openssl_reason();
            return nullptr;
        }
        self->contexts_.push_back(ctx);
        SSL_CTX_set_min_proto_version(ctx, settings.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
        // The server's order (AES-GCM first: fast where the CPU has AES instructions),
        // but ChaCha20 for a client that puts it first (one without them).
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (SSL_CTX_set_cipher_list(ctx, settings.ciphers.c_str()) != 1) {
            error = fmt::format("ciphers \"{}\": {}", settings.ciphers, openssl_reason());
            return nullptr;
        }
        if (SSL_CTX_set_ciphersuites(ctx, settings.suites.c_str()) != 1) {
            error = fmt::format("TLS 1.3 suites \"{}\": {}", settings.suites, openssl_reason());
            return nullptr;
        }
        if (SSL_CTX_set1_groups_list(ctx, settings.groups.c_str()) != 1) {
            error = fmt::format("groups \"{}\": {}", settings.groups, openssl_reason());
            return nullptr;
        }
        if (SSL_CTX_use_certificate_chain_file(ctx, files.chain.c_str()) != 1) {
            error = fmt::format("{}: not a readable PEM certificate chain: {}", files.chain,
                                openssl_reason());
            return nullptr;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
            const std::string why = openssl_reason();
            error = why.find("mismatch") != std::string::npos
                        ? fmt::format("{}: this key does not match the certificate in {}",
                                      files.key, files.chain)
                        : fmt::format("{}: not a readable PEM private key: {}", files.key, why);
            return nullptr;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            ERR_clear_error();
            error = fmt::format("{}: this key does not match the certificate in {}", files.key,
                                files.chain);
            return nullptr;
        }
        SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
        if (settings.session_cache == 0)
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        else
            SSL_CTX_sess_set_cache_size(ctx, long(settings.session_cache));
        if (settings.tickets && !settings.tickets->attach(ctx)) {
            error = "OpenSSL refused the session ticket keys: " + openssl_reason();
            return nullptr;
        }
        static const unsigned char id[] = "pixelring";
        SSL_CTX_set_session_id_context(ctx, id, sizeof id - 1);

        X509* leaf = SSL_CTX_get0_certificate(ctx);
        STACK_OF(X509)* chain = nullptr;
        SSL_CTX_get0_chain_certs(ctx, &chain);
        tls_certificate_info info;
        info.file = files.chain;
        info.subject = name_text(X509_get_subject_name(leaf));
        info.names = dns_names(leaf);
        for (const std::string& name : files.names)
            info.sni.push_back(lower(name));
        if (info.sni.empty()) info.sni = info.names;
        info.not_before = epoch_of(X509_get0_notBefore(leaf));
        info.not_after = epoch_of(X509_get0_notAfter(leaf));
        info.chain_length = 1 + size_t(chain ? sk_X509_num(chain) : 0);
        std::string problem = chain_problem(ctx, info);
        if (!problem.empty()) self->chain_problems_.push_back(std::move(problem));
        self->info_.push_back(std::move(info));
    }
    auto table = std::make_unique<sni_table>();
    for (size_t i = 0; i < self->contexts_.size(); ++i) {
        table->names.push_back(self->info_[i].sni);
        if (i > 0) {
            SSL_CTX_up_ref(self->contexts_[i]);
            table->others.push_back(self->contexts_[i]);
        }
    }
    SSL_CTX* front = self->contexts_.front();
    if (SSL_CTX_set_ex_data(front, sni_table_index(), table.get()) != 1) {
        error = "OpenSSL could not keep the SNI table: " + openssl_reason();
        return nullptr;
    }
    SSL_CTX_set_tlsext_servername_callback(front, select_certificate);
    SSL_CTX_set_tlsext_servername_arg(front, table.get());
    self->sni_ = table.release();
    return self;
}

tls_context::~tls_context() {
    for (SSL_CTX* ctx : contexts_)
        SSL_CTX_free(ctx);
}

size_t tls_context::certificate_for(const char* server_name) const noexcept {
    return static_cast<const sni_table*>(sni_)->find(server_name);
}

std::vector<std::string> tls_context::problems(int64_t now) const {
    std::vector<std::string> out;
    for (const tls_certificate_info& info : info_) {
        if (now > info.not_after)
            out.push_back(fmt::format("{}: the certificate for {} expired on {}", info.file,
                                      info.subject, date_text(info.not_after)));
        else if (now < info.not_before)
            out.push_back(fmt::format("{}: the certificate for {} is not valid before {}",
                                      info.file, info.subject, date_text(info.not_before)));
    }
    for (const tls_certificate_info& info : info_)
        for (const std::string& name : info.sni) {
            const bool covered =
                std::any_of(info.names.begin(), info.names.end(), [&](const std::string& own) {
                    return name_matches(own, name.c_str());
                });
            if (!covered)
                out.push_back(fmt::format("{}: names: \"{}\" is not a name of the certificate "
                                          "({}); clients asking for it will refuse it",
                                          info.file, name, fmt::join(info.names, ", ")));
        }
    out.insert(out.end(), chain_problems_.begin(), chain_problems_.end());
    return out;
}

} // namespace pixelring
