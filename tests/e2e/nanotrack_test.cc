// NanoTrack's documented tracking URLs, each with the Referer a browser or
// mail client would send, against the real collector: every one is answered with the pixel
// and becomes the event its users expect.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/e2e_client.hh"
#include "tests/support/json_reader.hh"

using namespace pixelring::test;

namespace {

constexpr char firefox[] = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
// Gmail fetches images through its proxy; the Referer is usually absent.
constexpr char gmail_proxy[] = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via "
                               "ggpht.com GoogleImageProxy)";

struct hit {
    std::string target, referer, user_agent;
};

json_value send(const collector_process& p, const hit& h) {
    connection c(p.port());
    std::string request = "GET " + h.target +
                          " HTTP/1.1\r\nHost: px.example.com\r\nUser-Agent: " + h.user_agent +
                          "\r\n";
    if (!h.referer.empty()) request += "Referer: " + h.referer + "\r\n";
    c.send_all(request + "\r\n");
    auto answers = c.read_responses(1);
    EXPECT_EQ(answers.size(), 1u);
    if (!answers.empty()) {
        http_response r = parse_response(answers[0]);
        EXPECT_EQ(r.status, 200) << h.target;
        EXPECT_EQ(r.headers["content-type"], "image/gif") << h.target;
    }
    static size_t seen = 0;
    std::vector<std::string> lines;
    for (int waited = 0; waited < 5000 && lines.size() <= seen; waited += 10) {
        lines = read_lines(p.events_path());
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    json_value v;
    std::string error;
    if (lines.size() <= seen) return v;
    EXPECT_TRUE(json_reader::parse(lines[seen], v, error)) << error;
    seen = lines.size();
    return v;
}

} // namespace

TEST(nanotrack, documented_urls_work_as_its_users_expect) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();

    json_value pageview = send(p, {"/track/pageview.gif?campaignID=dillonbaird.io",
                                   "https://dillonbaird.io/blog/hello-world", firefox});
    EXPECT_EQ(pageview.str("action"), "pageview");
    EXPECT_EQ(pageview.str("campaign"), "dillonbaird.io");
    EXPECT_EQ(pageview.str("url"), "https://dillonbaird.io/blog/hello-world");
    EXPECT_EQ(pageview.str("path"), "/blog/hello-world"); // the page comes from the Referer
    EXPECT_EQ(pageview.str("page_host"), "dillonbaird.io");
    EXPECT_EQ(pageview.str("agent"), "browser");

    json_value open =
        send(p, {"/track/email-open:dillon@dillonbaird.io.gif?campaignID=email-offerletter", "",
                 gmail_proxy});
    EXPECT_EQ(open.str("action"), "email-open:dillon@dillonbaird.io");
    EXPECT_EQ(open.str("campaign"), "email-offerletter");
    EXPECT_EQ(open.str("url"), "<null>");
    EXPECT_EQ(open.str("agent"), "mail_proxy");

    json_value signup = send(p, {"/track/user-registration.gif?campaignID=my-awesome-app",
                                 "https://my-awesome-app.example/signup?step=2", firefox});
    EXPECT_EQ(signup.str("action"), "user-registration");
    EXPECT_EQ(signup.str("campaign"), "my-awesome-app");
    EXPECT_EQ(signup.str("path"), "/signup");

    // A raw '%' followed by '&' is a literal percent sign, not a bad request.
    json_value scroll =
        send(p, {"/track/pageview.gif?campaignID=dillonbaird.io&scroll-depth=70%&dark-mode=true",
                 "https://dillonbaird.io/", firefox});
    EXPECT_EQ(scroll.str("action"), "pageview");
    ASSERT_TRUE(scroll.has("params"));
    EXPECT_EQ(scroll.get("params")->str("scroll-depth"), "70%");
    EXPECT_EQ(scroll.get("params")->str("dark-mode"), "true");
    EXPECT_EQ(scroll.str("page_host"), "dillonbaird.io");
}

// TRACKING_IMAGE (tracking.image): a real 1x1 red PNG is answered instead of the pixel, with
// the Content-Type of its signature, for .gif and .png URLs alike, and GET and HEAD.
TEST(nanotrack, tracking_image_is_served_instead_of_the_pixel) {
    const std::string png("\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00"
                          "\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00"
                          "\x00\x00\x0d\x49\x44\x41\x54\x78\xda\x63\x64\x60\xf8\x5f\x0f\x00\x02"
                          "\x87\x01\x80\xeb\x47\xba\x92\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42"
                          "\x60\x82",
                          70);
    const std::string path = "/tmp/pixelring-nanotrack-image.png";
    std::ofstream(path, std::ios::binary) << png;
    collector_process p({}, {"TRACKING_IMAGE=" + path});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    EXPECT_EQ(p.stderr_text().find("tracking.image is set but not implemented"), std::string::npos);
    connection c(p.port());
    c.send_all("GET /track/open.gif?campaignID=x HTTP/1.1\r\nHost: a\r\n\r\n"
               "GET /track/open.png HTTP/1.1\r\nHost: a\r\n\r\n");
    auto answers = c.read_responses(2);
    ASSERT_EQ(answers.size(), 2u);
    for (const auto& raw : answers) {
        http_response r = parse_response(raw);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.headers["content-type"], "image/png");
        EXPECT_EQ(r.body, png);
    }
    std::remove(path.c_str());
}

TEST(nanotrack, a_tracking_image_that_is_not_an_image_is_refused_at_start) {
    const std::string path = "/tmp/pixelring-nanotrack-not-an-image.txt";
    std::ofstream(path) << "hello\n";
    auto r = run_binary({"--set", "tracking.image=" + path});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("tracking.image = \"" + path + "\": not a GIF, PNG or WebP image"),
              std::string::npos)
        << r.err;
    std::ofstream(path, std::ios::binary) << std::string("GIF89a") + std::string(70000, 'x');
    r = run_binary({"--set", "tracking.image=" + path, "--check-config"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("larger than 64 KiB"), std::string::npos) << r.err;
    std::remove(path.c_str());
}
