// Accepting when the process is out of file descriptors: the real binary with a low
// RLIMIT_NOFILE, more connections than it may hold.

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/e2e_events.hh"
#include "tests/support/metrics_scrape.hh"

using namespace pixelring::test;

namespace {

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::istringstream rest(text.substr(text.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

} // namespace

// Out of file descriptors, the kernel keeps the connection queued and an accept fails at once:
// the worker must wait for its next tick instead of asking again in a loop, count it, and
// take the queued connections once descriptors are free.
TEST(accept, out_of_descriptors_pauses_instead_of_spinning) {
    collector_process p({"server.workers=1"}, {"RLIMIT_NOFILE=128"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    EXPECT_NE(p.stderr_text().find("only 128 file descriptors"), std::string::npos)
        << p.stderr_text();
    std::vector<std::unique_ptr<connection>> conns;
    for (int i = 0; i < 200; ++i) {
        conns.push_back(std::make_unique<connection>(p.port()));
        ASSERT_TRUE(conns.back()->ok());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const double before = cpu_seconds(p.pid());
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const double used = cpu_seconds(p.pid()) - before;
    std::printf("server CPU over 2 s with accepts failing: %.3f s\n", used);
    EXPECT_LT(used, 0.4); // a busy loop uses the whole 2 s of a core

    // Free descriptors: the last connection (still queued) is taken and answered. Only then
    // can the admin listener accept too.
    conns.erase(conns.begin(), conns.begin() + 150);
    connection& last = *conns.back();
    last.send_all("GET /track/open.gif HTTP/1.1\r\nHost: a\r\n\r\n");
    auto raw = last.read_responses(1, false, 5000);
    ASSERT_EQ(raw.size(), 1u);
    EXPECT_EQ(parse_response(raw[0]).status, 200);
    EXPECT_GT(metric(p, "pixelring_accept_errors_total"), 0);
    EXPECT_EQ(metric(p, "pixelring_connections_open"), 50);
}
