// HTTPS end to end: the real binary with server.tls_listen on loopback, a certificate from a
// CA made in the test (tests/support/tls_test_certs.hh), and real clients: curl for pixels and
// beacons, openssl s_client for versions and resumption, raw sockets for the hostile cases.
// Skips (77) when curl or openssl is missing.

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <regex>
#include <string>
#include <thread>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tests/support/e2e_events.hh"
#include "tests/support/metrics_scrape.hh"
#include "tests/support/shell_tools.hh"
#include "tests/support/temp_dir.hh"
#include "tests/support/tls_test_certs.hh"

using namespace pixelring::test;

namespace {

// The collector with one HTTPS listener on a port the kernel picks, and its port.
struct https_collector {
    temp_dir certs{"pixelring-https"};
    test_ca ca{certs.str()};
    issued_certificate cert = ca.issue("px", {"px.example", "*.px.example"});
    issued_certificate shop = ca.issue("shop", {"shop.example"});
    collector_process p;
    int tls_port = 0;

    // shop_by_sni: shop's certificate too, in [[tls.certificates]].
    explicit https_collector(std::vector<std::string> sets = {}, bool shop_by_sni = false)
        : p([&] {
              sets.push_back("server.tls_listen=127.0.0.1:0");
              sets.push_back("tls.cert=" + cert.chain);
              sets.push_back("tls.key=" + cert.key);
              if (shop_by_sni) sets.push_back(shop_setting());
              return sets;
          }()) {
        std::smatch m;
        const std::string text = p.stderr_text();
        if (std::regex_search(text, m, std::regex(R"( https 127\.0\.0\.1:(\d+) admin )")))
            tls_port = std::stoi(m[1]);
    }
    std::string shop_setting() const {
        return "tls.certificates=[{cert=\"" + shop.chain + "\", key=\"" + shop.key + "\"}]";
    }
    std::string url(const std::string& target) const {
        return "https://px.example:" + std::to_string(tls_port) + target;
    }
    std::string curl(const std::string& args) const {
        return "curl -sS --max-time 10 --cacert " + ca.cert_path() +
               " --resolve px.example:" + std::to_string(tls_port) + ":127.0.0.1 " + args;
    }
    // With request, s_client sends it and reads until the server closes (-ign_eof), so that a
    // TLS 1.3 ticket, which comes after the handshake, is in its -sess_out file.
    std::string s_client(const std::string& args, const std::string& request = "") const {
        const std::string input =
            request.empty() ? "</dev/null" : "-ign_eof <<'EOF'\n" + request + "\nEOF\n";
        return "openssl s_client -connect 127.0.0.1:" + std::to_string(tls_port) +
               " -servername px.example -CAfile " + ca.cert_path() + " " + args + " 2>&1 " + input;
    }
    long long handshakes(const std::string& result) const {
        return static_cast<long long>(
            metric(p, "pixelring_tls_handshakes_total{result=\"" + result + "\"}").value_or(-1));
    }
    long long failures(const std::string& reason) const {
        return static_cast<long long>(
            metric(p, "pixelring_tls_handshake_failures_total{reason=\"" + reason + "\"}")
                .value_or(-1));
    }
};

// A keep-alive HTTPS connection of the test's own (OpenSSL over a blocking socket), so that
// one connection can span a reload: requests and the certificate the server showed.
class tls_client {
public:
    tls_client(int port, const std::string& ca_file, const std::string& host = "px.example")
        : tcp_(port) {
        ctx_ = SSL_CTX_new(TLS_client_method());
        SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        ssl_ = SSL_new(ctx_);
        SSL_set_tlsext_host_name(ssl_, host.c_str());
        SSL_set1_host(ssl_, host.c_str());
        SSL_set_fd(ssl_, tcp_.fd());
        ok_ = SSL_connect(ssl_) == 1;
    }
    ~tls_client() {
        SSL_free(ssl_);
        SSL_CTX_free(ctx_);
    }
    bool ok() const { return ok_; }
    // The server certificate's notAfter, seconds since the epoch.
    long long not_after() const {
        X509* cert = SSL_get1_peer_certificate(ssl_);
        std::tm tm{};
        const bool got = cert && ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1;
        X509_free(cert);
        return got ? (long long)timegm(&tm) : -1;
    }
    // The server certificate's common name.
    std::string common_name() const {
        X509* cert = SSL_get1_peer_certificate(ssl_);
        char cn[256] = {};
        if (cert)
            X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        X509_free(cert);
        return cn;
    }
    // Sends a GET and returns the status of its answer (framed by Content-Length), 0 on error.
    int get(const std::string& target) {
        const std::string req = "GET " + target + " HTTP/1.1\r\nHost: px.example\r\n\r\n";
        if (SSL_write(ssl_, req.data(), int(req.size())) != int(req.size())) return 0;
        std::string in;
        char b[4096];
        for (;;) {
            const size_t end = in.find("\r\n\r\n");
            if (end != std::string::npos) {
                const http_response r = parse_response(in);
                const auto cl = r.headers.find("content-length");
                const size_t body = cl == r.headers.end() ? 0 : std::stoul(cl->second);
                if (in.size() >= end + 4 + body) return r.status;
            }
            const int n = SSL_read(ssl_, b, sizeof b);
            if (n <= 0) return 0;
            in.append(b, size_t(n));
        }
    }

private:
    connection tcp_;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    bool ok_ = false;
};

// The headers of a response without Date, lower-case names.
std::map<std::string, std::string> headers_but_date(const std::string& raw) {
    http_response r = parse_response(raw);
    r.headers.erase("date");
    return r.headers;
}

} // namespace

class https : public ::testing::Test {
protected:
    void SetUp() override {
        if (!have("curl") || !have("openssl")) GTEST_SKIP() << "curl or openssl missing";
    }
};

TEST_F(https, pixels_beacons_and_redirects_answer_as_over_http) {
    https_collector h(
        {"redirect.secret=https-test-secret-0123456789", "redirect.allow_hosts=shop.example"});
    ASSERT_TRUE(h.p.started() && h.tls_port > 0) << h.p.stderr_text();
    int status;
    // The pixel: the same status, headers (but Date) and bytes as over plain HTTP.
    const std::string target = "/track/open.gif?campaignID=tls-mail";
    std::string over_tls = h.curl("-i '" + h.url(target) + "'");
    std::string tls_raw = shell(over_tls, status);
    ASSERT_EQ(status, 0) << tls_raw;
    connection plain(h.p.port());
    plain.send_all("GET " + target + " HTTP/1.1\r\nHost: px.example:" + std::to_string(h.tls_port) +
                   "\r\nUser-Agent: curl\r\nAccept: */*\r\n\r\n");
    auto plain_raw = plain.read_responses(1);
    ASSERT_EQ(plain_raw.size(), 1u);
    EXPECT_EQ(parse_response(tls_raw).status, 200);
    EXPECT_EQ(headers_but_date(tls_raw), headers_but_date(plain_raw[0]));
    EXPECT_EQ(parse_response(tls_raw).body, parse_response(plain_raw[0]).body);

    // A beacon and a redirect.
    std::string code = shell(h.curl("-o /dev/null -w '%{http_code}' -H 'Content-Type: "
                                    "text/plain' --data '{\"action\":\"signup\"}' '" +
                                    h.url("/e") + "'"),
                             status);
    EXPECT_EQ(code, "204");
    const std::string signed_link =
        shell(std::string(PIXELRING_BIN) +
                  " sign-url --set redirect.secret=https-test-secret-0123456789 --action click "
                  "--campaign tls-mail https://shop.example/sale",
              status);
    ASSERT_EQ(status, 0) << signed_link;
    std::string location = shell(h.curl("-o /dev/null -w '%{http_code} %{redirect_url}' '" +
                                        h.url(signed_link.substr(0, signed_link.find('\n'))) + "'"),
                                 status);
    EXPECT_EQ(location, "302 https://shop.example/sale") << signed_link;

    auto events = wait_events(h.p, 4);
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(events[0].str("campaign"), "tls-mail");
    EXPECT_EQ(events[0].str("host"), "px.example:" + std::to_string(h.tls_port));
    EXPECT_EQ(events[2].str("type"), "beacon");
    EXPECT_EQ(events[3].str("type"), "redirect");
    EXPECT_EQ(h.handshakes("full"), 3);
}

TEST_F(https, tls13_and_tls12_are_served_tls11_refused_and_sessions_resume) {
    https_collector h;
    ASSERT_TRUE(h.p.started() && h.tls_port > 0) << h.p.stderr_text();
    int status;
    EXPECT_EQ(shell(h.curl("-o /dev/null -w '%{http_code}' --tlsv1.3 '" +
                           h.url("/track/a.gif?campaignID=13") + "'"),
                    status),
              "200");
    EXPECT_EQ(shell(h.curl("-o /dev/null -w '%{http_code}' --tlsv1.2 --tls-max 1.2 '" +
                           h.url("/track/a.gif?campaignID=12") + "'"),
                    status),
              "200");
    std::string old = shell(h.s_client("-tls1_1"), status);
    EXPECT_NE(status, 0) << old;
    EXPECT_NE(old.find("alert protocol version"), std::string::npos) << old;

    // Resumption, TLS 1.3 (a ticket) and 1.2.
    for (const std::string version : {"-tls1_3", "-tls1_2"}) {
        const std::string session = h.certs.file("session" + version);
        const std::string request =
            "GET /track/r.gif?campaignID=resume HTTP/1.1\nHost: px.example\nConnection: close\n";
        std::string first =
            shell(h.s_client(version + " -crlf -sess_out " + session, request), status);
        EXPECT_NE(first.find("New, TLSv1."), std::string::npos) << first;
        EXPECT_NE(first.find("HTTP/1.1 200 OK"), std::string::npos) << first;
        EXPECT_EQ(first.find("unexpected eof"), std::string::npos) << first; // close_notify
        std::string again =
            shell(h.s_client(version + " -crlf -sess_in " + session, request), status);
        EXPECT_NE(again.find("Reused, TLSv1."), std::string::npos) << again;
    }
    EXPECT_EQ(h.handshakes("resumed"), 2);
    EXPECT_EQ(h.handshakes("failed"), 1);
    EXPECT_EQ(h.failures("version"), 1);
    EXPECT_EQ(h.handshakes("full"), 4);

    // Every completed handshake by version and cipher: 3 of TLS 1.3, 3 of TLS 1.2.
    const std::string m = admin_get(h.p.admin_port(), "/metrics");
    long long tls13 = 0, tls12 = 0;
    std::smatch row;
    for (auto at = m.cbegin(); std::regex_search(
             at, m.cend(), row,
             std::regex(R"re(\npixelring_tls_ciphers_total\{version="(TLSv1\.[23])",)re"
                        R"re(cipher="[A-Z0-9_-]+"\} (\d+))re"));
         at = row.suffix().first)
        (row[1] == "TLSv1.3" ? tls13 : tls12) += std::stoll(row[2]);
    EXPECT_EQ(tls13, 3) << m;
    EXPECT_EQ(tls12, 3) << m;
    // This kernel's kernel TLS, as probed at start: off either way.
    EXPECT_NE(h.p.stderr_text().find("pixelring: tls: kernel TLS off: "), std::string::npos)
        << h.p.stderr_text();
    EXPECT_NE(m.find("\npixelring_tls_kernel_tls{kernel=\""), std::string::npos) << m;
}

TEST_F(https, wrong_protocols_and_silent_clients_are_closed_and_counted) {
    https_collector h({"server.header_timeout_ms=1000"});
    ASSERT_TRUE(h.p.started() && h.tls_port > 0) << h.p.stderr_text();
    // Plain HTTP to the HTTPS port: closed without an HTTP answer.
    {
        connection plain_to_tls(h.tls_port);
        plain_to_tls.send_all("GET /track/a.gif?campaignID=x HTTP/1.1\r\nHost: px.example\r\n\r\n");
        EXPECT_TRUE(plain_to_tls.wait_closed());
    }
    // TLS to the plain port: 400.
    int status;
    std::string tls_to_plain = shell(
        "openssl s_client -connect 127.0.0.1:" + std::to_string(h.p.port()) + " </dev/null 2>&1",
        status);
    EXPECT_NE(status, 0);
    EXPECT_EQ(requests(h.p, "invalid", 400), 1) << tls_to_plain;
    // A client that connects and never says hello: closed after server.header_timeout_ms.
    connection silent(h.tls_port);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(silent.wait_closed(5000));
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(700));
    // A client offering only h2: the no_application_protocol alert.
    std::string h2 = shell(h.s_client("-alpn h2"), status);
    EXPECT_NE(h2.find("no application protocol"), std::string::npos) << h2;

    EXPECT_EQ(h.handshakes("plain_http"), 1);
    EXPECT_EQ(h.handshakes("timeout"), 1);
    EXPECT_EQ(h.handshakes("failed"), 1);
    EXPECT_EQ(h.handshakes("full"), 0);
    EXPECT_EQ(h.failures("alpn"), 1);
    long long open = static_cast<long long>(metric(h.p, "pixelring_connections_open").value_or(-1));
    for (int waited = 0; open != 0 && waited < 3000; waited += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        open = static_cast<long long>(metric(h.p, "pixelring_connections_open").value_or(-1));
    }
    EXPECT_EQ(open, 0);
}

// The start of a ClientHello announcing `announced` bytes, with body bytes of it (a record
// header, a handshake header, then a TLS 1.2 legacy version and zeros).
std::string client_hello(size_t announced, size_t body) {
    const size_t record = 4 + body;
    std::string r = {'\x16',
                     '\x03',
                     '\x01',
                     char(record >> 8),
                     char(record & 0xff),
                     '\x01',
                     char(announced >> 16),
                     char((announced >> 8) & 0xff),
                     char(announced & 0xff)};
    std::string b(body, '\0');
    if (body >= 2) b[0] = '\x03', b[1] = '\x03';
    return r + b;
}

// What a client sends before its handshake is done holds no more than its slot: a ClientHello
// announcing more than 16 KiB is refused before OpenSSL makes room for it, even when its
// first bytes come one at a time; one of 16,000 bytes is read (and this one, all zeros, refused
// by OpenSSL); a client that trickles its hello is closed at server.header_timeout_ms.
TEST_F(https, oversized_and_trickled_client_hellos_are_closed_and_counted) {
    https_collector h({"server.header_timeout_ms=2000"});
    ASSERT_TRUE(h.p.started() && h.tls_port > 0) << h.p.stderr_text();
    using std::chrono::milliseconds;
    {
        connection huge(h.tls_port);
        const std::string start = client_hello(64 * 1024, 16000);
        for (size_t i = 0; i < 9; ++i) {
            huge.send_all(start.substr(i, 1));
            std::this_thread::sleep_for(milliseconds(20));
        }
        const auto at = std::chrono::steady_clock::now();
        EXPECT_TRUE(huge.wait_closed(1500));
        EXPECT_LT(std::chrono::steady_clock::now() - at, milliseconds(1500));
    }
    EXPECT_EQ(h.failures("too_large"), 1);
    {
        connection big(h.tls_port);
        big.send_all(client_hello(16000, 16000));
        EXPECT_TRUE(big.wait_closed(1500));
    }
    EXPECT_EQ(h.failures("too_large"), 1);
    EXPECT_EQ(h.handshakes("failed"), 2);
    {
        connection trickle(h.tls_port);
        const std::string hello = client_hello(300, 300);
        const auto at = std::chrono::steady_clock::now();
        bool closed = false;
        for (size_t i = 0; i < hello.size() && !closed; ++i) {
            trickle.send_all(hello.substr(i, 1));
            closed = trickle.wait_closed(100);
        }
        EXPECT_TRUE(closed || trickle.wait_closed(3000));
        EXPECT_GE(std::chrono::steady_clock::now() - at, milliseconds(1500));
        EXPECT_LT(std::chrono::steady_clock::now() - at, milliseconds(4000));
    }
    EXPECT_EQ(h.handshakes("timeout"), 1);
    // The server still serves.
    int status;
    EXPECT_EQ(
        shell(h.curl("-o /dev/null -w '%{http_code}' '" + h.url("/track/a.gif") + "'"), status),
        "200");
}

TEST_F(https, check_config_loads_the_certificate_and_says_what_is_wrong) {
    temp_dir dir("pixelring-https");
    test_ca ca(dir.str());
    issued_certificate good = ca.issue("good", {"px.example"});
    issued_certificate other = ca.issue("other", {"other.example"});
    issued_certificate expired = ca.issue("expired", {"px.example"}, -7200, -3600);
    const std::string tls_listen = "server.tls_listen=127.0.0.1:0";

    run_result ok = run_binary({"--check-config", "--set", tls_listen, "--set",
                                "tls.cert=" + good.chain, "--set", "tls.key=" + good.key});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_NE(ok.out.find("tls: " + good.chain + ": CN=px.example for px.example, valid until "),
              std::string::npos)
        << ok.out;
    // The test CA is no root of this machine: said, but not an error.
    EXPECT_NE(ok.err.find("warning: tls: " + good.chain +
                          ": the chain ends at a certificate "
                          "issued by"),
              std::string::npos)
        << ok.err;

    run_result mismatch = run_binary({"--check-config", "--set", tls_listen, "--set",
                                      "tls.cert=" + good.chain, "--set", "tls.key=" + other.key});
    EXPECT_EQ(mismatch.exit_code, 2);
    EXPECT_NE(
        mismatch.err.find(other.key + ": this key does not match the certificate in " + good.chain),
        std::string::npos)
        << mismatch.err;

    run_result old = run_binary({"--check-config", "--set", tls_listen, "--set",
                                 "tls.cert=" + expired.chain, "--set", "tls.key=" + expired.key});
    EXPECT_EQ(old.exit_code, 0) << old.err;
    EXPECT_NE(old.err.find(expired.chain + ": the certificate for CN=px.example expired on "),
              std::string::npos)
        << old.err;

    run_result missing = run_binary({"--check-config", "--set", tls_listen});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("tls.cert and tls.key"), std::string::npos) << missing.err;

    run_result version = run_binary({"--check-config", "--set", "tls.min_version=1.1"});
    EXPECT_EQ(version.exit_code, 2);
    EXPECT_NE(version.err.find("1.2, 1.3"), std::string::npos) << version.err;
}

// SIGHUP reads the certificate files again: new connections get the new certificate, a
// connection opened before keeps working, the log and /metrics say what is served, and a
// reload whose files do not load keeps the certificate served before.
TEST_F(https, sighup_reloads_the_certificate_and_keeps_open_connections) {
    https_collector h;
    ASSERT_TRUE(h.p.started() && h.tls_port > 0) << h.p.stderr_text();
    tls_client before(h.tls_port, h.ca.cert_path());
    ASSERT_TRUE(before.ok());
    ASSERT_EQ(before.get("/track/open.gif"), 200);
    const long long first_expiry = before.not_after();
    const std::string series = "pixelring_tls_certificate_expiry_seconds{file=\"" + h.cert.chain +
                               "\",subject=\"CN=px.example\"}";
    EXPECT_EQ(metric(h.p, series), first_expiry) << admin_get(h.p.admin_port(), "/metrics");

    // certbot's way: new files under the same names, then a reload.
    const issued_certificate renewed = h.ca.issue("px", {"px.example"}, -60, 90 * 86400);
    ASSERT_EQ(renewed.chain, h.cert.chain);
    h.p.signal(SIGHUP);
    ASSERT_TRUE(wait_log(h.p, "tls: reloaded " + h.cert.chain + ": CN=px.example for px.example,"))
        << h.p.stderr_text();
    tls_client after(h.tls_port, h.ca.cert_path());
    ASSERT_TRUE(after.ok());
    const long long renewed_expiry = after.not_after();
    EXPECT_GT(renewed_expiry, first_expiry + 80 * 86400);
    EXPECT_EQ(after.get("/track/open.gif"), 200);
    EXPECT_EQ(before.get("/track/open.gif"), 200); // the old connection, its old session
    EXPECT_EQ(before.not_after(), first_expiry);
    EXPECT_EQ(metric(h.p, series), renewed_expiry);
    EXPECT_EQ(metric(h.p, "pixelring_tls_reloads_total{result=\"ok\"}"), 1);

    // A broken file: the reload fails, says why, and the renewed certificate is still served.
    {
        FILE* f = std::fopen(h.cert.chain.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs("not a certificate\n", f);
        std::fclose(f);
    }
    h.p.signal(SIGHUP);
    ASSERT_TRUE(wait_log(h.p, "tls: reload failed, still serving the certificates loaded before: " +
                                  h.cert.chain + ": not a readable PEM certificate chain"))
        << h.p.stderr_text();
    EXPECT_EQ(metric(h.p, "pixelring_tls_reloads_total{result=\"failed\"}"), 1);
    tls_client later(h.tls_port, h.ca.cert_path());
    ASSERT_TRUE(later.ok());
    EXPECT_EQ(later.not_after(), renewed_expiry);
    EXPECT_EQ(later.get("/track/open.gif"), 200);
    EXPECT_EQ(before.get("/track/open.gif"), 200);
    EXPECT_EQ(metric(h.p, series), renewed_expiry);
    EXPECT_EQ(h.p.stop(), 0) << h.p.stderr_text();
}

// [[tls.certificates]]: a second certificate for the clients that ask for its name (SNI); the
// others, and clients that name none, get tls.cert. --check-config and the log list both.
TEST_F(https, sni_picks_a_certificate_from_tls_certificates) {
    https_collector h({}, true);
    ASSERT_TRUE(h.p.started() && h.tls_port > 0) << h.p.stderr_text();
    EXPECT_NE(h.p.stderr_text().find("tls: " + h.shop.chain +
                                     ": CN=shop.example for "
                                     "shop.example, valid until"),
              std::string::npos)
        << h.p.stderr_text();
    tls_client shop(h.tls_port, h.ca.cert_path(), "shop.example");
    ASSERT_TRUE(shop.ok());
    EXPECT_EQ(shop.common_name(), "shop.example");
    EXPECT_EQ(shop.get("/track/open.gif"), 200);
    tls_client px(h.tls_port, h.ca.cert_path(), "px.example");
    ASSERT_TRUE(px.ok());
    EXPECT_EQ(px.common_name(), "px.example");
    tls_client other(h.tls_port, h.ca.cert_path(), "a.px.example"); // the default's wildcard
    ASSERT_TRUE(other.ok());
    EXPECT_EQ(other.common_name(), "px.example");

    run_result check = run_binary({"--check-config", "--set", "server.tls_listen=127.0.0.1:0",
                                   "--set", "tls.cert=" + h.cert.chain, "--set",
                                   "tls.key=" + h.cert.key, "--set", h.shop_setting()});
    EXPECT_EQ(check.exit_code, 0) << check.err;
    EXPECT_NE(check.out.find("tls: " + h.cert.chain + ": CN=px.example"), std::string::npos)
        << check.out;
    EXPECT_NE(check.out.find("tls: " + h.shop.chain + ": CN=shop.example"), std::string::npos)
        << check.out;
    // Only [[tls.certificates]], no tls.cert: the first of them is the default.
    run_result only = run_binary(
        {"--check-config", "--set", "server.tls_listen=127.0.0.1:0", "--set", h.shop_setting()});
    EXPECT_EQ(only.exit_code, 0) << only.err;
}

// tls.ticket_key_file: two collectors reading the same keys resume each other's sessions (a
// CDN's connections resume on any collector of a fleet); collectors with keys of their own do
// not. The log and --check-config say where the keys come from, /metrics how many there are.
TEST_F(https, collectors_sharing_a_ticket_key_file_resume_each_others_sessions) {
    temp_dir keys_dir("pixelring-tickets");
    const std::string keys = keys_dir.file("tickets.key");
    int status;
    shell("openssl rand 160 > " + keys, status);
    ASSERT_EQ(status, 0);
    const std::string set = "tls.ticket_key_file=" + keys;
    https_collector a(std::vector<std::string>{set}), b(std::vector<std::string>{set}), alone;
    ASSERT_TRUE(a.p.started() && a.tls_port > 0) << a.p.stderr_text();
    ASSERT_TRUE(b.p.started() && b.tls_port > 0) << b.p.stderr_text();
    ASSERT_TRUE(alone.p.started() && alone.tls_port > 0) << alone.p.stderr_text();
    EXPECT_NE(a.p.stderr_text().find("tls: session tickets: 2 keys from " + keys),
              std::string::npos)
        << a.p.stderr_text();
    EXPECT_NE(alone.p.stderr_text().find("tls: session tickets: keys made here, a new one every "
                                         "3600 s"),
              std::string::npos)
        << alone.p.stderr_text();
    EXPECT_EQ(metric(a.p, "pixelring_tls_ticket_keys{source=\"file\"}"), 2);
    EXPECT_EQ(metric(alone.p, "pixelring_tls_ticket_keys{source=\"generated\"}"), 1);

    const std::string request =
        "GET /track/r.gif?campaignID=fleet HTTP/1.1\nHost: px.example\nConnection: close\n";
    for (const std::string version : {"-tls1_3", "-tls1_2"}) {
        const std::string from_a = keys_dir.file("a" + version),
                          from_alone = keys_dir.file("alone" + version);
        std::string first =
            shell(a.s_client(version + " -crlf -sess_out " + from_a, request), status);
        EXPECT_NE(first.find("New, TLSv1."), std::string::npos) << first;
        std::string on_b =
            shell(b.s_client(version + " -crlf -sess_in " + from_a, request), status);
        EXPECT_NE(on_b.find("Reused, TLSv1."), std::string::npos) << version << on_b;
        EXPECT_NE(on_b.find("HTTP/1.1 200 OK"), std::string::npos) << on_b;

        shell(alone.s_client(version + " -crlf -sess_out " + from_alone, request), status);
        std::string elsewhere =
            shell(b.s_client(version + " -crlf -sess_in " + from_alone, request), status);
        EXPECT_NE(elsewhere.find("New, TLSv1."), std::string::npos) << version << elsewhere;
    }
    EXPECT_EQ(b.handshakes("resumed"), 2);

    run_result check =
        run_binary({"--check-config", "--set", "server.tls_listen=127.0.0.1:0", "--set",
                    "tls.cert=" + a.cert.chain, "--set", "tls.key=" + a.cert.key, "--set", set});
    EXPECT_EQ(check.exit_code, 0) << check.err;
    EXPECT_NE(check.out.find("tls: session tickets: 2 keys from " + keys), std::string::npos)
        << check.out;
    shell("head -c 100 /dev/urandom > " + keys, status);
    check =
        run_binary({"--check-config", "--set", "server.tls_listen=127.0.0.1:0", "--set",
                    "tls.cert=" + a.cert.chain, "--set", "tls.key=" + a.cert.key, "--set", set});
    EXPECT_EQ(check.exit_code, 2);
    EXPECT_NE(check.err.find("tls.ticket_key_file = " + keys +
                             ": 100 bytes; it must hold 1 to 8 keys of 80"),
              std::string::npos)
        << check.err;
}
