#pragma once
// Small helpers of the end-to-end tests that drive command-line tools and read files: run a
// shell command for its output and exit code, whether a tool is installed, a file's bytes,
// and waiting for a line in the collector's log. Test code only.

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>

#include "tests/support/e2e_client.hh"

namespace pixelring::test {

// Runs a shell command; returns its stdout (stderr too when the command merges it) and sets
// status to its exit code.
inline std::string shell(const std::string& cmd, int& status) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) {
        status = -1;
        return out;
    }
    std::array<char, 4096> b;
    size_t n;
    while ((n = fread(b.data(), 1, b.size(), p)) > 0)
        out.append(b.data(), n);
    const int rc = pclose(p);
    status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

inline bool have(const char* tool) {
    int status;
    shell(std::string("command -v ") + tool + " >/dev/null 2>&1", status);
    return status == 0;
}

// The whole file; empty when it cannot be read.
inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Waits up to 10 s for text in the collector's log.
inline bool wait_log(const collector_process& p, const std::string& text) {
    for (int i = 0; i < 200; ++i) {
        if (p.stderr_text().find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

} // namespace pixelring::test
