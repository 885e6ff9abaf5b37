#pragma once
// Certificates for TLS tests, made in the test with OpenSSL: a private CA and leaf
// certificates it issues (ECDSA P-256, SHA-256), written as PEM files into a directory the
// test owns. Test code only.

#include <string>
#include <vector>

namespace pixelring::test {

struct issued_certificate {
    std::string chain; // the leaf's PEM file (with the CA after it when asked)
    std::string key;   // its key's PEM file
};

// The base64 of the SHA-256 of the subjectPublicKeyInfo of the first certificate in a PEM
// file (what Chromium's --ignore-certificate-errors-spki-list takes); empty when unreadable.
std::string spki_sha256_base64(const std::string& pem_file);

class test_ca {
public:
    // A CA named "pixelring test CA <dir>", written to dir/ca.pem.
    explicit test_ca(const std::string& dir);
    ~test_ca();
    test_ca(const test_ca&) = delete;
    test_ca& operator=(const test_ca&) = delete;

    const std::string& cert_path() const { return cert_path_; }
    // A leaf for names (subjectAltName DNS entries), valid from now + from_s to now + to_s
    // seconds, written as dir/<file>.pem and dir/<file>.key.
    issued_certificate issue(const std::string& file, const std::vector<std::string>& names,
                             long from_s = -3600, long to_s = 86400, bool with_ca = false) const;

private:
    std::string dir_;
    std::string cert_path_;
    void* key_ = nullptr;  // EVP_PKEY*
    void* cert_ = nullptr; // X509*
};

} // namespace pixelring::test
