// A certificate reload (SIGHUP) under load over TLS: wrk keeps 16 HTTPS connections busy on
// the real binary, some of them reconnecting all the time (each 8th request asks to close),
// while the certificate files are replaced and the collector told to read them again. Not
// one request may fail, new connections must get the new certificate, and every request
// wrk saw answered must be in the events file. Skips (77) when wrk or openssl is missing.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/e2e_events.hh"
#include "tests/support/metrics_scrape.hh"
#include "tests/support/shell_tools.hh"
#include "tests/support/temp_dir.hh"
#include "tests/support/tls_test_certs.hh"

using namespace pixelring::test;

namespace {

// The subject of the certificate a new connection to port gets (s_client's "subject=" line).
std::string served_subject(int port, const std::string& ca_file) {
    int status;
    const std::string out =
        shell("timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                  " -servername px.example -CAfile " + ca_file + " </dev/null 2>&1",
              status);
    std::smatch m;
    return std::regex_search(out, m, std::regex(R"(\nsubject=([^\n]*))")) ? std::string(m[1])
                                                                          : "none in: " + out;
}

// wrk in the background, its output in a file; waited for at most 30 s, then killed.
class wrk_run {
public:
    wrk_run(const std::vector<std::string>& args, const std::string& out_path)
        : out_path_(out_path) {
        std::vector<std::string> argv_s = {"wrk"};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_s)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_ = fork();
        if (pid_ == 0) {
            int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(out, 1);
            dup2(out, 2);
            execvp("wrk", argv.data());
            _exit(127);
        }
    }
    ~wrk_run() { wait(); }
    bool running() { return pid_ > 0 && waitpid(pid_, &status_, WNOHANG) == 0; }
    // wrk's exit code (-1 when killed); its output.
    int wait() {
        for (int i = 0; pid_ > 0 && i < 3000; ++i) {
            if (waitpid(pid_, &status_, WNOHANG) == pid_) {
                pid_ = 0;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, &status_, 0);
            pid_ = 0;
            return -1;
        }
        return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
    }
    std::string output() const { return slurp(out_path_); }

private:
    std::string out_path_;
    pid_t pid_ = -1;
    int status_ = 0;
};

// Each 8th request asks the server to close: that connection reconnects, so full handshakes
// go on while the certificate is swapped, next to keep-alive connections that span the swap.
constexpr char wrk_script[] = R"(local n = 0
request = function()
  n = n + 1
  if n % 8 == 0 then return wrk.format(nil, nil, {["Connection"] = "close"}) end
  return wrk.format()
end
)";

} // namespace

TEST(https_reload, sighup_under_wrk_fails_no_request_and_serves_the_new_certificate) {
    if (!have("wrk") || !have("openssl")) GTEST_SKIP() << "wrk or openssl missing";
    temp_dir dir("pixelring-https-reload");
    test_ca ca(dir.str());
    const issued_certificate a = ca.issue("px", {"px-a.example", "px.example"});
    collector_process p(
        {"server.tls_listen=127.0.0.1:0", "tls.cert=" + a.chain, "tls.key=" + a.key});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::smatch m;
    const std::string start = p.stderr_text();
    ASSERT_TRUE(std::regex_search(start, m, std::regex(R"( https 127\.0\.0\.1:(\d+) admin )")))
        << start;
    const int tls_port = std::stoi(m[1]);
    EXPECT_EQ(served_subject(tls_port, ca.cert_path()), "CN = px-a.example");

    std::ofstream(dir.file("close-some.lua")) << wrk_script;
    const auto t0 = std::chrono::steady_clock::now();
    wrk_run wrk({"-t1", "-c16", "-d4s", "-s", dir.file("close-some.lua"),
                 "https://127.0.0.1:" + std::to_string(tls_port) + "/track/open.gif?campaignID=x"},
                dir.file("wrk.txt"));

    // Cert B, under other file names, then moved over A's as certbot's hook would copy it.
    const issued_certificate b = ca.issue("px-b", {"px-b.example", "px.example"});
    // Once the load runs (200 events, 2 s at most), so that the reload, which drains the sink
    // first (it also reopens the events file), has most of wrk's 4 s ahead of it.
    for (int waited = 0; waited < 2000 && read_lines(p.events_path()).size() < 200; waited += 20)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(wrk.running()) << wrk.output();
    ASSERT_GE(read_lines(p.events_path()).size(), 200u) << "no load yet\n" << wrk.output();
    std::filesystem::rename(b.key, a.key);
    std::filesystem::rename(b.chain, a.chain);
    p.signal(SIGHUP);
    ASSERT_TRUE(wait_log(p, "tls: reloaded " + a.chain + ": CN=px-b.example for "))
        << p.stderr_text();
    const auto reloaded_after = std::chrono::steady_clock::now() - t0;
    const size_t events_at_reload = read_lines(p.events_path()).size();
    EXPECT_TRUE(wrk.running()) << "the reload must happen under load";
    // A new connection, still under load, gets B.
    EXPECT_EQ(served_subject(tls_port, ca.cert_path()), "CN = px-b.example");

    EXPECT_EQ(wrk.wait(), 0) << wrk.output();
    const std::string out = wrk.output();
    std::smatch n;
    ASSERT_TRUE(std::regex_search(out, n, std::regex(R"((\d+) requests in )"))) << out;
    const long long answered = std::stoll(n[1]);
    EXPECT_EQ(out.find("Socket errors"), std::string::npos) << out;  // connect/read/write/timeout
    EXPECT_EQ(out.find("Non-2xx or 3xx"), std::string::npos) << out; // every answer a 200
    EXPECT_GT(answered, 300) << out;
    EXPECT_EQ(served_subject(tls_port, ca.cert_path()), "CN = px-b.example");
    EXPECT_EQ(metric(p, "pixelring_tls_reloads_total{result=\"ok\"}"), 1);
    EXPECT_EQ(metric(p, "pixelring_tls_handshakes_total{result=\"failed\"}"), 0);
    // wrk's reconnections (about one in 8 requests) made handshakes all along: resumed with
    // the session of the connection before, full ones for the first of each connection and
    // wherever a session was not taken up.
    const long long full = static_cast<long long>(
        metric(p, "pixelring_tls_handshakes_total{result=\"full\"}").value_or(-1));
    const long long resumed = static_cast<long long>(
        metric(p, "pixelring_tls_handshakes_total{result=\"resumed\"}").value_or(-1));
    EXPECT_GT(full + resumed, answered / 16);
    std::this_thread::sleep_for(std::chrono::milliseconds(300)); // requests wrk left in flight
    const long long pixels = requests(p, "pixel", 200);

    // Every answer wrk read has its event. When its time is up, each of wrk's 16 connections
    // may have had one more request answered (and its event written) that wrk no longer read,
    // so the file may hold up to 16 more; the collector's own counts must match it exactly.
    ASSERT_EQ(p.stop(), 0) << p.stderr_text();
    const long long events = (long long)read_lines(p.events_path()).size();
    const std::string log = p.stderr_text();
    ASSERT_TRUE(std::regex_search(
        log, n, std::regex(R"(stopped: (\d+) events accepted, (\d+) written, (\d+) dropped)")))
        << log;
    EXPECT_EQ(std::stoll(n[1]), events);
    EXPECT_EQ(std::stoll(n[2]), events);
    EXPECT_EQ(std::stoll(n[3]), 0);
    EXPECT_EQ(pixels, events);
    EXPECT_GE(events, answered) << out;
    EXPECT_LE(events, answered + 16) << out;
    EXPECT_GT(size_t(events), events_at_reload + 100) << "too little load after the reload";
    std::printf(
        "wrk: %lld answered, %lld events, %lld full and %lld resumed handshakes; "
        "reloaded %lld ms after wrk started\n",
        answered, events, full, resumed,
        (long long)std::chrono::duration_cast<std::chrono::milliseconds>(reloaded_after).count());
}

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    const int rc = RUN_ALL_TESTS();
    if (rc == 0 && (!have("wrk") || !have("openssl"))) {
        std::fprintf(stderr, "wrk or openssl is missing: the test is skipped\n");
        return 77;
    }
    return rc;
}
