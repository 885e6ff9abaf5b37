// pixelring-pgo-train (the traffic scripts/build-pgo.sh trains the profile-guided build with)
// against the real collector: every request of its mix gets the answer it expects, and the
// events arrive; a collector that answers one path differently fails the training instead of
// training other code.

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "tests/support/e2e_client.hh"

using pixelring::test::collector_process;
using pixelring::test::read_lines;

namespace {

struct trainer_result {
    int exit_code = -1;
    std::string output; // stdout and stderr
};

trainer_result train(int port, int requests) {
    const std::string command = std::string(PIXELRING_PGO_TRAIN_BIN) +
                                " --connect 127.0.0.1:" + std::to_string(port) + " --requests " +
                                std::to_string(requests) + " --seconds 60 2>&1";
    trainer_result r;
    FILE* p = popen(command.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        r.output.append(buf, n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

} // namespace

TEST(pgo_train, every_request_of_the_mix_gets_its_answer) {
    collector_process c({"redirect.allow_hosts=[\"shop.example\"]"});
    ASSERT_TRUE(c.started()) << c.stderr_text();
    const trainer_result r = train(c.port(), 5000);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    for (const char* status :
         {" 200:", " 204:", " 302:", " 400:", " 404:", " 405:", " 411:", " 501:", " 505:"})
        EXPECT_NE(r.output.find(status), std::string::npos) << status << " in " << r.output;
    EXPECT_EQ(c.stop(), 0) << c.stderr_text();
    // Pixels, beacon items, REST hits and redirects: most answers carry events.
    EXPECT_GT(read_lines(c.events_path()).size(), 3000u);
}

TEST(pgo_train, an_answer_other_than_the_expected_one_fails_the_training) {
    collector_process c; // no redirect.allow_hosts: /r/ answers 404 instead of 302
    ASSERT_TRUE(c.started()) << c.stderr_text();
    const trainer_result r = train(c.port(), 500);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("unexpected status, the first 404 for GET /r/click"), std::string::npos)
        << r.output;
    EXPECT_EQ(c.stop(), 0) << c.stderr_text();
}

TEST(pgo_train, a_collector_that_is_not_there_is_named) {
    const trainer_result r = train(1, 10);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("cannot connect to 127.0.0.1:1"), std::string::npos) << r.output;
}
