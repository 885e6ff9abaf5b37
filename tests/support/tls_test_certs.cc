// test_ca: a private CA with OpenSSL's X509 API (no openssl command line needed).

#include "tests/support/tls_test_certs.hh"

#include <cstdio>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace pixelring::test {

namespace {

EVP_PKEY* new_key() {
    EVP_PKEY* k = EVP_EC_gen("P-256");
    if (!k) throw std::runtime_error("EVP_EC_gen failed");
    return k;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext) throw std::runtime_error("extension " + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

X509* new_cert(EVP_PKEY* key, const std::string& cn, long from_s, long to_s, long serial) {
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), from_s);
    X509_gmtime_adj(X509_getm_notAfter(cert), to_s);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    return cert;
}

void write_pem(const std::string& path, X509* cert, X509* also = nullptr) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + path);
    PEM_write_X509(f, cert);
    if (also) PEM_write_X509(f, also);
    std::fclose(f);
}

void write_key(const std::string& path, EVP_PKEY* key) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + path);
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
}

} // namespace

std::string spki_sha256_base64(const std::string& pem_file) {
    FILE* f = std::fopen(pem_file.c_str(), "r");
    if (!f) return "";
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    unsigned char* der = nullptr;
    const int len = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1;
    X509_free(cert);
    if (len <= 0) return "";
    unsigned char digest[32];
    unsigned int digest_len = 0;
    const bool hashed = EVP_Digest(der, size_t(len), digest, &digest_len, EVP_sha256(), nullptr);
    OPENSSL_free(der);
    if (!hashed) return "";
    unsigned char b64[64]; // 4 * ceil(32 / 3) + NUL
    const int n = EVP_EncodeBlock(b64, digest, int(digest_len));
    return std::string(reinterpret_cast<const char*>(b64), size_t(n));
}

test_ca::test_ca(const std::string& dir) : dir_(dir), cert_path_(dir + "/ca.pem") {
    EVP_PKEY* key = new_key();
    X509* cert = new_cert(key, "pixelring test CA " + dir, -3600, 30L * 86400, 1);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_sign(cert, key, EVP_sha256());
    write_pem(cert_path_, cert);
    key_ = key;
    cert_ = cert;
}

test_ca::~test_ca() {
    X509_free(static_cast<X509*>(cert_));
    EVP_PKEY_free(static_cast<EVP_PKEY*>(key_));
}

issued_certificate test_ca::issue(const std::string& file, const std::vector<std::string>& names,
                                  long from_s, long to_s, bool with_ca) const {
    static long serial = 2;
    auto* ca_key = static_cast<EVP_PKEY*>(key_);
    auto* ca_cert = static_cast<X509*>(cert_);
    EVP_PKEY* key = new_key();
    X509* cert = new_cert(key, names.empty() ? file : names.front(), from_s, to_s, serial++);
    X509_set_issuer_name(cert, X509_get_subject_name(ca_cert));
    std::string alt;
    for (const std::string& n : names)
        alt += (alt.empty() ? "DNS:" : ",DNS:") + n;
    if (!alt.empty()) add_ext(cert, ca_cert, NID_subject_alt_name, alt);
    add_ext(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert, ca_cert, NID_ext_key_usage, "serverAuth");
    X509_sign(cert, ca_key, EVP_sha256());
    issued_certificate out{dir_ + "/" + file + ".pem", dir_ + "/" + file + ".key"};
    write_pem(out.chain, cert, with_ca ? ca_cert : nullptr);
    write_key(out.key, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    return out;
}

} // namespace pixelring::test
