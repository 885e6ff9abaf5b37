// page_server and browser: see tests/browser_support.hh.

#include "tests/browser_support.hh"

#include <arpa/inet.h>
#include <cerrno>
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

browser::browser(const std::string& url, const std::vector<std::string>& extra_args)
    : dir_(make_dir()) {
    std::vector<std::string> args = {chromium_path(),
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
                                     "--user-data-dir=" + dir_ + "/profile"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    args.push_back(url);
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string home = "HOME=" + dir_;
    std::string log = dir_ + "/chromium.log";
    char path_env[] = "PATH=/usr/bin:/bin";
    char* envp[] = {path_env, home.data(), nullptr};
    pid_ = fork();
    if (pid_ == 0) {
        setpgid(0, 0);
        int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(out, 1);
        dup2(out, 2);
        execve(argv[0], argv.data(), envp);
        _exit(127);
    }
    if (pid_ > 0) setpgid(pid_, pid_); // also here, so the group exists before any kill
}

browser::~browser() {
    if (pid_ > 0) {
        kill(-pid_, SIGTERM);
        bool gone = false;
        for (int i = 0; i < 300 && !gone; ++i) { // 3 s for a clean exit
            gone = waitpid(pid_, nullptr, WNOHANG) == pid_;
            if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        kill(-pid_, SIGKILL); // whatever is left of the group
        if (!gone) waitpid(pid_, nullptr, 0);
    }
    remove_dir(dir_);
}

std::string browser::log() const {
    std::ifstream in(dir_ + "/chromium.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace pixelring::test
