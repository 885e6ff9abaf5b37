#include "tests/support/e2e_client.hh"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <regex>
#include <sstream>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#ifndef PIXELRING_BIN
#error "PIXELRING_BIN must name the pixelring binary"
#endif

namespace pixelring::test {

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& out_path, const std::string& err_path,
            const std::vector<std::string>& launcher = {}) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out, 1);
    dup2(err, 2);
    // The test's environment may carry PIXELRING_* variables of a developer's shell;
    // every test states its own.
    clearenv();
    setenv("PATH", "/usr/bin:/bin", 1);
    for (const std::string& e : env) {
        // Not a variable: RLIMIT_NOFILE=N sets the server's descriptor limit (soft and hard).
        if (e.rfind("RLIMIT_NOFILE=", 0) == 0) {
            rlim_t n = std::stoul(e.substr(14));
            rlimit lim{n, n};
            setrlimit(RLIMIT_NOFILE, &lim);
            continue;
        }
        putenv(const_cast<char*>(e.c_str()));
    }
    std::vector<char*> argv;
    for (const std::string& a : launcher)
        argv.push_back(const_cast<char*>(a.c_str()));
    std::string bin = PIXELRING_BIN;
    argv.push_back(bin.data());
    for (const std::string& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
}

int wait_exit(pid_t pid, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 5) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
}

std::string make_temp_dir() {
    char tmpl[] = "/tmp/pixelring-e2e-XXXXXX";
    char* d = mkdtemp(tmpl);
    return d ? d : "/tmp";
}

} // namespace

collector_process::collector_process(std::vector<std::string> extra_sets,
                                     std::vector<std::string> env,
                                     std::vector<std::string> launcher) {
    dir_ = make_temp_dir();
    stderr_path_ = dir_ + "/stderr.log";
    std::vector<std::string> args = {"--set", "server.listen=127.0.0.1:0",
                                     "--set", "admin.listen=127.0.0.1:0",
                                     "--set", "server.workers=2",
                                     "--set", "sink.file.path=" + events_path(),
                                     "--set", "spool.dir=" + dir_ + "/spool"};
    for (const std::string& s : extra_sets) {
        args.push_back("--set");
        args.push_back(s);
    }
    pid_ = spawn(args, env, dir_ + "/stdout.log", stderr_path_, launcher);
    if (launcher.empty()) wait_ready();
}

bool collector_process::wait_ready() {
    static const std::regex ready(
        R"(listening on \[?[0-9a-f.:]+\]?:(\d+).* admin [0-9.]+:(\d+) workers)");
    for (int i = 0; i < 1000; ++i) {
        std::string err = slurp(stderr_path_);
        std::smatch m;
        if (std::regex_search(err, m, ready)) {
            port_ = std::stoi(m[1]);
            admin_port_ = std::stoi(m[2]);
            return true;
        }
        int status;
        if (pid_ <= 0 || waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

collector_process::~collector_process() {
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (dir_.rfind("/tmp/pixelring-e2e-", 0) == 0 && std::system(cmd.c_str()) != 0) {
    }
}

std::string collector_process::stderr_text() const {
    return slurp(stderr_path_);
}

void collector_process::signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
}

int collector_process::stop(int timeout_ms) {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int code = wait_exit(pid_, timeout_ms);
    if (code != -1) pid_ = -1;
    return code;
}

run_result run_binary(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::string dir = make_temp_dir();
    pid_t pid = spawn(args, env, dir + "/out", dir + "/err");
    run_result r;
    r.exit_code = wait_exit(pid, 20000);
    r.out = slurp(dir + "/out");
    r.err = slurp(dir + "/err");
    std::string cmd = "rm -rf '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) {
    }
    return r;
}

connection::connection(int port, bool ipv6) {
    fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc;
    if (ipv6) {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(uint16_t(port));
        a.sin6_addr = in6addr_loopback;
        rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) {
        ::close(fd_);
        fd_ = -1;
        return;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

connection::~connection() {
    if (fd_ >= 0) ::close(fd_);
}

void connection::send_all(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += size_t(n);
    }
}

namespace {

// Length of one complete response at the start of buf, or 0 when incomplete.
size_t response_length(const std::string& buf, bool head) {
    size_t end = buf.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    size_t body = 0;
    std::string lower = buf.substr(0, end);
    for (char& c : lower)
        c = char(tolower(static_cast<unsigned char>(c)));
    size_t cl = lower.find("\r\ncontent-length:");
    if (cl != std::string::npos && !head) body = std::stoul(lower.substr(cl + 17));
    if (buf.size() < end + 4 + body) return 0;
    return end + 4 + body;
}

} // namespace

std::vector<std::string> connection::read_responses(size_t n, bool head, int timeout_ms) {
    std::vector<std::string> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[65536];
    for (;;) {
        while (out.size() < n) {
            size_t len = response_length(buffered_, head);
            if (len == 0) break;
            out.push_back(buffered_.substr(0, len));
            buffered_.erase(0, len);
        }
        if (out.size() >= n) return out;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) return out;
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, int(left)) <= 0) return out;
        ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
        if (r <= 0) return out;
        buffered_.append(buf, size_t(r));
    }
}

bool connection::wait_closed(int timeout_ms) {
    char buf[4096];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, int(left)) <= 0) return false;
        ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) return true;
        if (r > 0) buffered_.append(buf, size_t(r));
    }
}

http_response parse_response(const std::string& raw) {
    http_response r;
    size_t end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r;
    r.status = std::stoi(raw.substr(9, 3));
    size_t pos = raw.find("\r\n") + 2;
    while (pos < end) {
        size_t eol = raw.find("\r\n", pos);
        std::string line = raw.substr(pos, eol - pos);
        size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (char& c : name)
            c = char(tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ')
            value.erase(0, 1);
        r.headers[name] = value;
        pos = eol + 2;
    }
    r.body = raw.substr(end + 4);
    return r;
}

std::string admin_get(int port, const std::string& path) {
    connection c(port);
    if (!c.ok()) return {};
    c.send_all("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    auto r = c.read_responses(1);
    return r.empty() ? std::string() : r[0];
}

std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path, std::ios::binary);
    std::string line;
    while (std::getline(in, line))
        lines.push_back(line);
    return lines;
}

} // namespace pixelring::test
