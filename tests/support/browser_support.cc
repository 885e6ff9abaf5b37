// page_server and browser: see tests/support/browser_support.hh.

#include "tests/support/browser_support.hh"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <openssl/ssl.h>

namespace pixelring::test {

namespace {

std::string make_dir() {
    char tmpl[] = "/tmp/pixelring-browser-XXXXXX";
    char* d = mkdtemp(tmpl);
    return d ? d : "";
}

void remove_dir(const std::string& dir) {
    if (dir.rfind("/tmp/pixelring-browser-", 0) != 0) return;
    std::string cmd = "rm -rf '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) {
    }
}

} // namespace

const char* chromium_path() {
    for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
        if (access(p, X_OK) == 0) return p;
    return nullptr;
}

page_server::page_server(std::vector<std::pair<std::string, std::string>> pages,
                         const std::string& cert, const std::string& key)
    : pages_(std::move(pages)) {
    if (!cert.empty()) {
        SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
            SSL_CTX_free(ctx);
            return; // port() stays 0
        }
        tls_ = ctx;
        // OpenSSL writes to the socket with write(): a browser that closed a connection it
        // did not need (a preconnect) must not end the test with SIGPIPE.
        std::signal(SIGPIPE, SIG_IGN);
    }
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        return;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
}

page_server::~page_server() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& t : answering_) // no lock: serve() has ended
        t.join();
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(static_cast<SSL_CTX*>(tls_));
}

bool page_server::requested(const std::string& target) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& t : targets_)
        if (t == target) return true;
    return false;
}

void page_server::serve() {
    while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        // Its own thread: a browser may open a connection (a preconnect) and send nothing on
        // it while it asks on another.
        std::lock_guard<std::mutex> lock(mu_);
        answering_.emplace_back([this, c] {
            answer(c);
            close(c);
        });
    }
}

// Reads one request (5 s at most: each read waits 500 ms, 10 reads), answers, closes.
void page_server::answer(int c) {
    timeval tv{0, 500 * 1000};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    SSL* ssl = nullptr;
    if (tls_) {
        ssl = SSL_new(static_cast<SSL_CTX*>(tls_));
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) != 1) { // a handshake that stalls ends with the read timeout
            SSL_free(ssl);
            return;
        }
    }
    std::string req;
    char buf[4096];
    for (int i = 0; i < 10 && req.find("\r\n\r\n") == std::string::npos; ++i) {
        const int n = ssl ? SSL_read(ssl, buf, sizeof buf) : int(recv(c, buf, sizeof buf, 0));
        if (n == 0 || (n < 0 && !ssl && errno != EAGAIN)) break;
        if (n > 0) req.append(buf, size_t(n));
    }
    size_t sp1 = req.find(' ');
    size_t sp2 = sp1 == std::string::npos ? sp1 : req.find(' ', sp1 + 1);
    if (sp2 != std::string::npos) {
        std::string target = req.substr(sp1 + 1, sp2 - sp1 - 1);
        {
            std::lock_guard<std::mutex> lock(mu_);
            targets_.push_back(target);
        }
        std::string out = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        for (const auto& [path, body] : pages_)
            if (path == target)
                out = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                      "Cache-Control: no-store\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        for (size_t off = 0; off < out.size();) {
            const int left = int(out.size() - off);
            const int n = ssl ? SSL_write(ssl, out.data() + off, left)
                              : int(send(c, out.data() + off, size_t(left), MSG_NOSIGNAL));
            if (n <= 0) break;
            off += size_t(n);
        }
    }
    if (ssl) {
        SSL_shutdown(ssl); // close_notify, so the browser sees a clean end
        SSL_free(ssl);
    }
}

namespace {

std::vector<std::string> headless_args(const std::string& dir) {
    return {chromium_path(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--user-data-dir=" + dir + "/profile"};
}

// Starts Chromium with args in a process group of its own, output to dir/chromium.log.
// pipes: the DevTools pipe's two ends for the child (its fd 3 reads, fd 4 writes), or -1.
pid_t spawn(const std::string& dir, std::vector<std::string> args, int child_reads = -1,
            int child_writes = -1) {
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string home = "HOME=" + dir;
    std::string log = dir + "/chromium.log";
    char path_env[] = "PATH=/usr/bin:/bin";
    char* envp[] = {path_env, home.data(), nullptr};
    const pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (child_reads >= 0) {
            // Out of the way of 3 and 4 first, then into place.
            const int r = fcntl(child_reads, F_DUPFD, 10), w = fcntl(child_writes, F_DUPFD, 10);
            dup2(r, 3);
            dup2(w, 4);
        }
        dup2(null, 0);
        dup2(out, 1);
        dup2(out, 2);
        execve(argv[0], argv.data(), envp);
        _exit(127);
    }
    if (pid > 0) setpgid(pid, pid); // also here, so the group exists before any kill
    return pid;
}

void end_group(pid_t pid) {
    if (pid <= 0) return;
    kill(-pid, SIGTERM);
    bool gone = false;
    for (int i = 0; i < 300 && !gone; ++i) { // 3 s for a clean exit
        gone = waitpid(pid, nullptr, WNOHANG) == pid;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(-pid, SIGKILL); // whatever is left of the group
    if (!gone) waitpid(pid, nullptr, 0);
}

std::string read_log(const std::string& dir) {
    std::ifstream in(dir + "/chromium.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

browser::browser(const std::string& url, const std::vector<std::string>& extra_args)
    : dir_(make_dir()) {
    std::vector<std::string> args = headless_args(dir_);
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    args.push_back(url);
    pid_ = spawn(dir_, std::move(args));
}

browser::~browser() {
    end_group(pid_);
    remove_dir(dir_);
}

std::string browser::log() const {
    return read_log(dir_);
}

devtools_browser::devtools_browser(const std::vector<std::string>& extra_args) : dir_(make_dir()) {
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0) return;
    if (pipe2(from_child, O_CLOEXEC) != 0) {
        close(to_child[0]);
        close(to_child[1]);
        return;
    }
    std::vector<std::string> args = headless_args(dir_);
    args.push_back("--remote-debugging-pipe");
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    args.push_back("about:blank");
    pid_ = spawn(dir_, std::move(args), to_child[0], from_child[1]);
    close(to_child[0]);
    close(from_child[1]);
    to_ = to_child[1];
    from_ = from_child[0];
    if (pid_ <= 0) return;
    // The page Chromium opened, and a session on it whose events come flattened to us.
    const json_value targets = command("Target.getTargets", "{}", "");
    std::string target;
    if (const json_value* infos = targets.get("targetInfos"))
        for (const json_value& t : infos->items)
            if (t.str("type") == "page") target = t.str("targetId");
    if (target.empty()) return;
    const json_value attached =
        command("Target.attachToTarget", R"({"targetId":")" + target + R"(","flatten":true})", "");
    session_ = attached.str("sessionId");
    if (session_ == "<absent>") session_.clear();
}

devtools_browser::~devtools_browser() {
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
    end_group(pid_);
    remove_dir(dir_);
}

std::string devtools_browser::log() const {
    return read_log(dir_);
}

int devtools_browser::send(const std::string& method, const std::string& params) {
    return send_to(method, params, session_);
}

int devtools_browser::send_to(const std::string& method, const std::string& params,
                              const std::string& session) {
    const int id = next_id_++;
    std::string msg =
        R"({"id":)" + std::to_string(id) + R"(,"method":")" + method + R"(","params":)" + params;
    if (!session.empty()) msg += R"(,"sessionId":")" + session + "\"";
    msg += '}';
    msg += '\0';
    for (size_t off = 0; off < msg.size();) {
        const ssize_t n = write(to_, msg.data() + off, msg.size() - off);
        if (n <= 0) return -1;
        off += size_t(n);
    }
    return id;
}

json_value devtools_browser::command(const std::string& method, const std::string& params,
                                     const std::string& session, int timeout_ms) {
    const int id = send_to(method, params, session);
    json_value out;
    if (id < 0) return out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        json_value msg;
        if (!next_message(msg, deadline)) break;
        const json_value* mid = msg.get("id");
        if (mid && int(mid->number) == id) {
            if (const json_value* error = msg.get("error")) last_error_ = error->str("message");
            if (const json_value* result = msg.get("result")) out = *result;
            return out;
        }
        if (msg.has("method") && on_event) on_event(msg);
    }
    last_error_ = method + ": no answer within " + std::to_string(timeout_ms) + " ms";
    return out;
}

json_value devtools_browser::call(const std::string& method, const std::string& params,
                                  int timeout_ms) {
    return command(method, params, session_, timeout_ms);
}

void devtools_browser::pump(int ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    json_value msg;
    while (next_message(msg, deadline))
        if (msg.has("method") && on_event) on_event(msg);
}

bool devtools_browser::next_message(json_value& msg,
                                    std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        const size_t nul = buffer_.find('\0');
        if (nul != std::string::npos) {
            const std::string text = buffer_.substr(0, nul);
            buffer_.erase(0, nul + 1);
            std::string error;
            msg = json_value{};
            if (json_reader::parse(text, msg, error)) return true;
            continue;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0 || from_ < 0) return false;
        pollfd p{from_, POLLIN, 0};
        if (poll(&p, 1, int(left)) <= 0) return false;
        char buf[65536];
        const ssize_t n = read(from_, buf, sizeof buf);
        if (n <= 0) return false;
        buffer_.append(buf, size_t(n));
    }
}

} // namespace pixelring::test
