#pragma once
// End-to-end test support: starts the real pixelring binary on loopback and talks to it over
// real sockets. Test code only.

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace pixelring::test {

// A pixelring process started with --set arguments (listen and admin on port 0, workers 2,
// file sink and spool in a fresh temporary directory unless overridden). env holds NAME=value
// variables; "RLIMIT_NOFILE=N" instead sets the process's descriptor limit.
class collector_process {
public:
    // launcher: a program that starts the binary, given before its path and arguments (e.g.
    // systemd-socket-activate and its options); the constructor does not wait for the start
    // line then: call wait_ready() when the binary should be running.
    explicit collector_process(std::vector<std::string> extra_sets = {},
                               std::vector<std::string> env = {},
                               std::vector<std::string> launcher = {});
    // Waits (up to 10 s) for the start line and reads the ports from it; false when the
    // process ended first.
    bool wait_ready();
    ~collector_process();

    bool started() const { return port_ != 0; }
    int port() const { return port_; }
    int admin_port() const { return admin_port_; }
    const std::string& dir() const { return dir_; }
    std::string events_path() const { return dir_ + "/events.ndjson"; }
    std::string stderr_text() const;
    pid_t pid() const { return pid_; }

    // Sends sig; stop() sends SIGTERM and returns the exit status (or -1 on timeout).
    void signal(int sig);
    int stop(int timeout_ms = 30000);

private:
    pid_t pid_ = -1;
    int port_ = 0;
    int admin_port_ = 0;
    std::string dir_;
    std::string stderr_path_;
};

struct run_result {
    int exit_code = -1;
    std::string out;
    std::string err;
};
// Runs the binary to completion with args (for --check-config, --print-config, errors).
run_result run_binary(const std::vector<std::string>& args,
                      const std::vector<std::string>& env = {});

// A blocking loopback TCP connection with a receive timeout.
class connection {
public:
    explicit connection(int port, bool ipv6 = false);
    ~connection();
    bool ok() const { return fd_ >= 0; }
    void send_all(const std::string& data);
    // Reads until n complete responses were parsed (framed by Content-Length; HEAD answers
    // have no body when head is set) or the peer closed or timeout. Responses are raw bytes.
    std::vector<std::string> read_responses(size_t n, bool head = false, int timeout_ms = 10000);
    // True when the peer closes the connection within timeout_ms (recv returns 0 or reset).
    bool wait_closed(int timeout_ms = 3000);
    int fd() const { return fd_; }

private:
    int fd_ = -1;
    std::string buffered_;
};

struct http_response {
    int status = 0;
    std::map<std::string, std::string> headers; // lower-case names
    std::string body;
};
http_response parse_response(const std::string& raw);

// GET on the admin port, Connection: close; returns the raw response.
std::string admin_get(int port, const std::string& path);

std::vector<std::string> read_lines(const std::string& path);

} // namespace pixelring::test
