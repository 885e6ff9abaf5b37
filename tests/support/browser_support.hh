#pragma once
// Browser end-to-end support: headless Chromium (Debian's chromium) and a small page server
// on loopback that plays the web site embedding the pixel and the tracker script, over plain
// HTTP or over TLS with a certificate the test made. Test code only.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "tests/support/json_reader.hh"

namespace pixelring::test {

// The Chromium binary, or nullptr when it is not installed.
const char* chromium_path();

// A static page server on 127.0.0.1, port chosen by the kernel: answers GET <path> with the
// page registered for it, anything else with 204, and remembers every request target (the
// pages report progress by fetching marker paths). One request per connection, each
// connection on its own thread and bounded to a few seconds. With cert and key (PEM files)
// it speaks TLS only.
class page_server {
public:
    explicit page_server(std::vector<std::pair<std::string, std::string>> pages,
                         const std::string& cert = "", const std::string& key = "");
    ~page_server();
    page_server(const page_server&) = delete;
    page_server& operator=(const page_server&) = delete;

    int port() const { return port_; }
    std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
    bool requested(const std::string& target);

private:
    void serve();
    void answer(int c);

    std::vector<std::pair<std::string, std::string>> pages_;
    void* tls_ = nullptr; // SSL_CTX*, null for plain HTTP
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mu_; // guards targets_ and answering_
    std::vector<std::string> targets_;
    std::vector<std::thread> answering_;
};

// Headless Chromium showing one URL until destroyed, with extra command-line switches. Runs
// in its own process group, which is killed as a whole (the browser's renderer and utility
// processes stay in it).
class browser {
public:
    explicit browser(const std::string& url, const std::vector<std::string>& extra_args = {});
    ~browser();
    browser(const browser&) = delete;
    browser& operator=(const browser&) = delete;
    bool started() const { return pid_ > 0; }
    // What Chromium wrote to stdout and stderr so far (for failure messages).
    std::string log() const;

private:
    std::string dir_;
    pid_t pid_ = -1;
};

// Headless Chromium driven over the DevTools protocol through a pipe (--remote-debugging-pipe:
// the browser reads commands on its fd 3 and writes answers and events on fd 4, each message a
// JSON text ended by NUL), attached to the page it opened (about:blank). Commands wait for
// their answer; events that arrive meanwhile, or during pump(), go to on_event, which may
// send() commands of its own (their answers are dropped).
class devtools_browser {
public:
    explicit devtools_browser(const std::vector<std::string>& extra_args = {});
    ~devtools_browser();
    devtools_browser(const devtools_browser&) = delete;
    devtools_browser& operator=(const devtools_browser&) = delete;
    bool started() const { return pid_ > 0 && !session_.empty(); }

    // A command to the page's session: its result (null on error or timeout; last_error()).
    json_value call(const std::string& method, const std::string& params = "{}",
                    int timeout_ms = 10000);
    // A command whose answer is not awaited; returns its id.
    int send(const std::string& method, const std::string& params);
    // Hands events to on_event for ms milliseconds.
    void pump(int ms);
    std::function<void(const json_value& event)> on_event;
    const std::string& last_error() const { return last_error_; }
    std::string log() const;

private:
    int send_to(const std::string& method, const std::string& params, const std::string& session);
    json_value command(const std::string& method, const std::string& params,
                       const std::string& session, int timeout_ms = 10000);
    bool next_message(json_value& msg, std::chrono::steady_clock::time_point deadline);

    std::string dir_;
    pid_t pid_ = -1;
    int to_ = -1, from_ = -1;
    int next_id_ = 1;
    std::string session_;
    std::string buffer_;
    std::string last_error_;
};

// Polls every 50 ms, for at most timeout_ms, until done() holds.
template <typename F> bool wait_for(F done, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
}

} // namespace pixelring::test
