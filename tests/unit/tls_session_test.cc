// tls/: the server contexts and one session's record layer against a real OpenSSL client,
// both in memory: the client's bytes are fed to the session as the worker feeds what it
// received, and the session's output goes back to the client. Certificates come from a CA
// made in the test (tests/support/tls_test_certs.hh).

#include <gtest/gtest.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hh"
#include "tests/support/tls_pair.hh"
#include "tests/support/tls_test_certs.hh"
#include "tls/kernel_tls.hh"
#include "tls/tls_context.hh"
#include "tls/tls_session.hh"
#include "tls/tls_store.hh"

using namespace pixelring;
using namespace pixelring::test;

namespace {

struct fixture {
    temp_dir dir{"pixelring-tls"};
    test_ca ca{dir.str()};
    issued_certificate a = ca.issue("a", {"a.example", "*.a.example"});
    issued_certificate b = ca.issue("b", {"b.example"});
    std::unique_ptr<tls_context> ctx;

    explicit fixture(bool tls13_only = false) {
        tls_settings s;
        s.certificates = {{a.chain, a.key, {}}, {b.chain, b.key, {}}};
        s.tls13_only = tls13_only;
        std::string error;
        ctx = tls_context::create(s, error);
        EXPECT_TRUE(ctx) << error;
    }
};

} // namespace

TEST(tls_session, a_request_and_its_answer_over_tls13) {
    fixture f;
    ASSERT_TRUE(f.ctx);
    client c(f.ca.cert_path(), "a.example");
    server s(*f.ctx);
    ASSERT_TRUE(pump(c, s)) << s.session.error_text();
    EXPECT_TRUE(s.session.handshake_done());
    EXPECT_STREQ(s.session.version(), "TLSv1.3");
    EXPECT_STREQ(s.session.server_name(), "a.example");
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(c.ssl, &alpn, &alpn_len);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpn_len), "http/1.1");

    const std::string request =
        "GET /track/open.gif?campaignID=x HTTP/1.1\r\nHost: a.example\r\n\r\n";
    ASSERT_EQ(SSL_write(c.ssl, request.data(), int(request.size())), int(request.size()));
    s.feed(c.take_output());
    EXPECT_EQ(s.plaintext, request);
    EXPECT_EQ(s.last, tls_result::want_more);

    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    ASSERT_EQ(s.session.write(answer.data(), answer.size()), tls_result::ok);
    std::string cipher = s.take_output();
    EXPECT_EQ(cipher.find("200 OK"), std::string::npos); // encrypted
    BIO_write(c.from_server, cipher.data(), int(cipher.size()));
    EXPECT_EQ(client_read(c), answer);
}

TEST(tls_session, ciphertext_in_pieces_of_one_byte) {
    fixture f;
    client c(f.ca.cert_path(), "a.example");
    server s(*f.ctx);
    ASSERT_TRUE(pump(c, s, 1)) << s.session.error_text();
    const std::string request(5000, 'x');
    ASSERT_EQ(SSL_write(c.ssl, request.data(), int(request.size())), int(request.size()));
    s.feed(c.take_output(), 1);
    EXPECT_EQ(s.plaintext, request);
}

TEST(tls_session, tls12_is_served_and_tls11_refused) {
    fixture f;
    client c12(f.ca.cert_path(), "a.example", TLS1_2_VERSION);
    server s12(*f.ctx);
    ASSERT_TRUE(pump(c12, s12)) << s12.session.error_text();
    EXPECT_STREQ(s12.session.version(), "TLSv1.2");
    EXPECT_EQ(std::string(s12.session.cipher()).rfind("ECDHE-ECDSA-", 0), 0u)
        << s12.session.cipher(); // an ECDSA certificate, forward secrecy

    client c11(f.ca.cert_path(), "a.example", TLS1_1_VERSION);
    server s11(*f.ctx);
    EXPECT_FALSE(pump(c11, s11));
    EXPECT_EQ(s11.last, tls_result::error);
    EXPECT_EQ(s11.session.error_text(), "unsupported protocol");

    fixture only13(true);
    client c(f.ca.cert_path(), "a.example", TLS1_2_VERSION);
    server s(*only13.ctx);
    EXPECT_FALSE(pump(c, s));
    EXPECT_EQ(s.last, tls_result::error);
}

TEST(tls_session, sni_picks_the_certificate) {
    fixture f;
    for (const auto& [sni, cn] : std::vector<std::pair<std::string, std::string>>{
             {"a.example", "a.example"},
             {"b.example", "b.example"},
             {"x.a.example", "a.example"},   // the wildcard
             {"B.EXAMPLE", "b.example"},     // names are case-insensitive
             {"other.example", "a.example"}, // unknown: the default, the first
             {"", "a.example"}}) {           // no SNI: the default
        client c(f.ca.cert_path(), sni);
        if (sni.empty() || sni == "other.example") SSL_set_verify(c.ssl, SSL_VERIFY_NONE, nullptr);
        server s(*f.ctx);
        ASSERT_TRUE(pump(c, s)) << sni << ": " << s.session.error_text();
        EXPECT_EQ(peer_cn(c), cn) << sni;
    }
    EXPECT_EQ(f.ctx->certificate_for("y.x.a.example"), 0u); // one label only
    EXPECT_EQ(f.ctx->certificate_for("b.example"), 1u);
}

TEST(tls_session, alpn_offering_only_h2_is_refused_and_none_is_served) {
    fixture f;
    client h2(f.ca.cert_path(), "a.example", 0, std::string("\x02h2", 3));
    server s(*f.ctx);
    EXPECT_FALSE(pump(h2, s));
    EXPECT_EQ(s.last, tls_result::error);
    EXPECT_NE(s.session.error_text().find("application protocol"), std::string::npos)
        << s.session.error_text();

    client both(f.ca.cert_path(), "a.example", 0, std::string("\x02h2\x08http/1.1", 12));
    server s2(*f.ctx);
    EXPECT_TRUE(pump(both, s2)) << s2.session.error_text();

    client none(f.ca.cert_path(), "a.example", 0, "");
    server s3(*f.ctx);
    EXPECT_TRUE(pump(none, s3)) << s3.session.error_text();
}

TEST(tls_session, plain_http_on_the_tls_port_is_an_error) {
    fixture f;
    server s(*f.ctx);
    s.feed("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
    EXPECT_EQ(s.last, tls_result::error);
    EXPECT_FALSE(s.session.error_text().empty());
}

TEST(tls_session, a_full_output_buffer_asks_to_send_first) {
    fixture f;
    client c(f.ca.cert_path(), "a.example");
    tls_session session(f.ctx->native());
    char small[100];
    session.set_output(small, sizeof small);
    SSL_do_handshake(c.ssl);
    std::string hello = c.take_output();
    session.feed(hello.data(), hello.size());
    char buf[100];
    size_t n;
    std::string flight;
    tls_result r;
    // The server's first flight is far over 100 bytes: it comes out 100 at a time.
    while ((r = session.read(buf, sizeof buf, n)) == tls_result::want_output) {
        flight.append(session.output(), session.output_size());
        session.clear_output();
    }
    EXPECT_EQ(r, tls_result::want_more);
    flight.append(session.output(), session.output_size());
    EXPECT_GT(flight.size(), 500u);
    BIO_write(c.from_server, flight.data(), int(flight.size()));
    EXPECT_EQ(SSL_do_handshake(c.ssl), 1);
}

TEST(tls_session, resumption_with_a_ticket) {
    fixture f;
    for (const int version : {0, TLS1_2_VERSION}) {
        // The first client stays: freeing its SSL_CTX would mark its sessions not resumable.
        client first(f.ca.cert_path(), "a.example", version);
        server s1(*f.ctx);
        ASSERT_TRUE(pump(first, s1));
        EXPECT_FALSE(s1.session.resumed());
        client_read(first); // TLS 1.3 tickets come after the handshake
        SSL_SESSION* saved = SSL_get1_session(first.ssl);
        ASSERT_TRUE(saved);
        EXPECT_TRUE(SSL_SESSION_is_resumable(saved));
        client again(f.ca.cert_path(), "a.example", version, std::string("\x08http/1.1", 9), saved);
        server s2(*f.ctx);
        ASSERT_TRUE(pump(again, s2));
        EXPECT_TRUE(s2.session.resumed()) << version;
        EXPECT_TRUE(SSL_session_reused(again.ssl)) << version;
        SSL_SESSION_free(saved);
    }
}

TEST(tls_context, errors_name_the_file_and_the_fault) {
    temp_dir dir("pixelring-tls");
    test_ca ca(dir.str());
    issued_certificate a = ca.issue("a", {"a.example"});
    issued_certificate b = ca.issue("b", {"b.example"});
    std::string error;
    tls_settings s;
    EXPECT_FALSE(tls_context::create(s, error));
    EXPECT_NE(error.find("no certificate"), std::string::npos) << error;

    s.certificates = {{a.chain, b.key, {}}};
    EXPECT_FALSE(tls_context::create(s, error));
    EXPECT_NE(error.find(b.key + ": this key does not match the certificate in " + a.chain),
              std::string::npos)
        << error;

    s.certificates = {{dir.file("missing.pem"), a.key, {}}};
    EXPECT_FALSE(tls_context::create(s, error));
    EXPECT_NE(error.find("missing.pem: not a readable PEM certificate chain"), std::string::npos)
        << error;

    s.certificates = {{a.chain, a.key, {}}};
    s.ciphers = "NO-SUCH-CIPHER";
    EXPECT_FALSE(tls_context::create(s, error));
    EXPECT_NE(error.find("NO-SUCH-CIPHER"), std::string::npos) << error;
}

TEST(tls_context, problems_expiry_and_an_incomplete_chain) {
    temp_dir dir("pixelring-tls");
    test_ca ca(dir.str());
    issued_certificate old = ca.issue("old", {"old.example"}, -7200, -3600);
    issued_certificate whole = ca.issue("whole", {"whole.example"}, -3600, 86400, true);
    tls_settings s;
    s.certificates = {{old.chain, old.key, {}}, {whole.chain, whole.key, {}}};
    std::string error;
    auto ctx = tls_context::create(s, error);
    ASSERT_TRUE(ctx) << error; // it can serve, but says what is wrong
    ASSERT_EQ(ctx->certificates().size(), 2u);
    EXPECT_EQ(ctx->certificates()[0].names, std::vector<std::string>{"old.example"});
    EXPECT_EQ(ctx->certificates()[0].subject, "CN=old.example");
    EXPECT_EQ(ctx->certificates()[1].chain_length, 2u);
    auto problems = ctx->problems(int64_t(time(nullptr)));
    ASSERT_GE(problems.size(), 2u);
    EXPECT_NE(problems[0].find(old.chain + ": the certificate for CN=old.example expired on "),
              std::string::npos)
        << problems[0];
    // The test CA is no root of this machine: the leaf without it names its issuer, the chain
    // that carries it says the root is not trusted.
    bool missing = false;
    for (const auto& p : problems)
        missing |= p.find(old.chain + ": the chain ends at a certificate issued by") == 0 &&
                   p.find("intermediate certificate missing") != std::string::npos;
    EXPECT_TRUE(missing) << problems[1];
    // An hour and a half ago the old one was valid: only the chains are left to say.
    for (const auto& p : ctx->problems(int64_t(time(nullptr)) - 5400))
        EXPECT_EQ(p.find("expired"), std::string::npos) << p;
}

// A reload: workers take the new context up on their next turn, the old one is destroyed
// once none holds it, and a session made from it still finishes its handshake afterwards,
// SNI switching it to a certificate of the destroyed context (OpenSSL's references keep it).
TEST(tls_store, a_replaced_context_goes_when_no_worker_holds_it_and_its_sessions_live_on) {
    fixture old_certs;
    const tls_context* first = old_certs.ctx.get();
    tls_store store(std::move(old_certs.ctx), 2);
    uint64_t gen0 = 0, gen1 = 0;
    const tls_context* held0 = nullptr;
    const tls_context* held1 = nullptr;
    EXPECT_EQ(store.take(0, gen0, held0), first);
    EXPECT_EQ(store.take(1, gen1, held1), first);
    server early(*held0); // made before the reload, handshake not started

    fixture new_certs;
    const tls_context* second = new_certs.ctx.get();
    store.install(std::move(new_certs.ctx));
    EXPECT_EQ(&store.current(), second);
    EXPECT_EQ(store.collect(), 1u); // no worker has taken it up yet
    EXPECT_EQ(store.take(0, gen0, held0), second);
    EXPECT_EQ(store.take(0, gen0, held0), second); // unchanged: the cached pointer
    EXPECT_EQ(store.collect(), 1u);                // worker 1 still holds the first
    EXPECT_EQ(store.take(1, gen1, held1), second);
    EXPECT_EQ(store.collect(), 0u); // the first tls_context is destroyed

    client c(old_certs.ca.cert_path(), "b.example");
    ASSERT_TRUE(pump(c, early)) << early.session.error_text();
    EXPECT_EQ(peer_cn(c), "b.example");
    client fresh(new_certs.ca.cert_path(), "b.example");
    server s(*held1);
    ASSERT_TRUE(pump(fresh, s)) << s.session.error_text();
}

// Configured names replace the certificate's own for SNI; one the certificate does not cover is
// served as asked but named in problems().
TEST(tls_session, configured_names_choose_the_certificate) {
    temp_dir dir("pixelring-tls");
    test_ca ca(dir.str());
    issued_certificate a = ca.issue("a", {"a.example"});
    issued_certificate ab = ca.issue("ab", {"ab.example", "b.example"});
    tls_settings s;
    s.certificates = {{a.chain, a.key, {}}, {ab.chain, ab.key, {"b.example", "C.example"}}};
    std::string error;
    auto ctx = tls_context::create(s, error);
    ASSERT_TRUE(ctx) << error;
    EXPECT_EQ(ctx->certificate_for("a.example"), 0u);
    EXPECT_EQ(ctx->certificate_for("ab.example"), 0u); // not among the configured names
    EXPECT_EQ(ctx->certificate_for("b.example"), 1u);
    EXPECT_EQ(ctx->certificate_for("c.example"), 1u);
    EXPECT_EQ(ctx->certificates()[1].names, (std::vector<std::string>{"ab.example", "b.example"}));
    EXPECT_EQ(ctx->certificates()[1].sni, (std::vector<std::string>{"b.example", "c.example"}));
    EXPECT_NE(describe_certificate(ctx->certificates()[1]).find("; answers b.example, c.example"),
              std::string::npos);
    const auto problems = ctx->problems(int64_t(std::time(nullptr)));
    // c.example, then the two chains (the test CA is not a root this machine trusts).
    ASSERT_EQ(problems.size(), 3u);
    EXPECT_EQ(problems[0], ab.chain + ": names: \"c.example\" is not a name of the certificate "
                                      "(ab.example, b.example); clients asking for it will "
                                      "refuse it");
    client c(ca.cert_path(), "b.example");
    server srv(*ctx);
    ASSERT_TRUE(pump(c, srv)) << srv.session.error_text();
    EXPECT_EQ(peer_cn(c), "ab.example");
}

// The kernel TLS probe reads the kernel's list of TCP upper-layer protocols.
TEST(kernel_tls, the_probe_reads_the_upper_layer_protocols) {
    temp_dir dir("pixelring-ktls");
    const std::string ulp = dir.file("tcp_available_ulp");
    std::ofstream(ulp) << "mptcp\n";
    kernel_tls_probe absent = probe_kernel_tls(ulp.c_str());
    EXPECT_FALSE(absent.offered);
    EXPECT_NE(absent.log_line.find("kernel TLS off: the kernel offers no \"tls\" upper-layer "
                                   "protocol (" +
                                   ulp + ": \"mptcp\""),
              std::string::npos)
        << absent.log_line;
    std::ofstream(ulp) << "mptcp tls\n";
    kernel_tls_probe offered = probe_kernel_tls(ulp.c_str());
    EXPECT_TRUE(offered.offered);
    EXPECT_NE(offered.log_line.find("the kernel offers it, but pixelring encrypts records in user "
                                    "space"),
              std::string::npos);
    kernel_tls_probe missing = probe_kernel_tls(dir.file("none").c_str());
    EXPECT_FALSE(missing.offered);
    EXPECT_NE(missing.log_line.find("cannot be read"), std::string::npos) << missing.log_line;
}
