// The input is a configuration file (TOML text), optionally followed by NUL-separated --set
// arguments (KEY=VALUE): what `pixelring --config FILE --set ...` reads at start-up. The
// harness writes the text to a memfd and calls load_config (core/config/config.hh) with its
// /proc/self/fd path and the --set arguments, the environment ignored, as tools/pixelring.cc
// does; then check_feature_config (app/config_check.hh), with tracking.image and the GeoIP
// paths cleared so that no fuzzed path is opened. Checked: loading never throws or crashes,
// and an accepted configuration survives to_toml:
// with its secrets cleared (to_toml redacts them), the TOML text loads back to an equal
// config, as config.hh promises.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "app/config_check.hh"
#include "core/config/config.hh"
#include "fuzz/fuzz_support.hh"

namespace pixelring {
namespace {

using fuzz::escaped;

// One memfd for every run: the file load_config reads.
class config_file {
public:
    config_file() : fd_(memfd_create("pixelring-fuzz-config", MFD_CLOEXEC)) {
        FUZZ_CHECK(fd_ >= 0, "memfd_create failed");
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    const std::string& write(std::string_view text) {
        FUZZ_CHECK(ftruncate(fd_, 0) == 0, "ftruncate failed");
        size_t done = 0;
        while (done < text.size()) {
            const ssize_t n = pwrite(fd_, text.data() + done, text.size() - done, off_t(done));
            FUZZ_CHECK(n > 0, "pwrite failed");
            done += size_t(n);
        }
        return path_;
    }

private:
    int fd_;
    std::string path_;
};

std::string load(config_file& file, std::string_view text, const std::vector<std::string>& sets,
                 config& out) {
    config_sources sources;
    sources.file = file.write(text);
    sources.sets = sets;
    try {
        return load_config(sources, out);
    } catch (const std::exception& e) {
        FUZZ_CHECK(false, "load_config threw %s for %s", e.what(), escaped(text).c_str());
    }
    return {};
}

} // namespace
} // namespace pixelring

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace pixelring;
    static config_file file;
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    const size_t nul = rest.find('\0');
    const std::string_view text = rest.substr(0, nul);
    std::vector<std::string> sets;
    while (nul != std::string_view::npos && !rest.empty()) {
        rest.remove_prefix(rest.find('\0') + 1);
        const size_t next = rest.find('\0');
        sets.emplace_back(rest.substr(0, next));
        if (next == std::string_view::npos) break;
    }

    config cfg;
    const std::string error = load(file, text, sets, cfg);
    if (!error.empty()) return 0; // one message naming the key and value: nothing to check

    config checked = cfg;
    checked.tracking.image.clear();
    checked.geoip = {};
    check_feature_config(checked); // "" or a message: either is fine, a crash is not

    // The secrets are printed as "<redacted>", which load_config refuses: clear them first.
    cfg.admin.password.clear();
    cfg.privacy.visitor_secret.clear();
    cfg.redirect.secret.clear();
    const std::string toml = to_toml(cfg);
    config again;
    const std::string reload_error = load(file, toml, {}, again);
    FUZZ_CHECK(reload_error.empty(), "to_toml's output does not load: %s\n%s", reload_error.c_str(),
               toml.c_str());
    FUZZ_CHECK(again == cfg, "to_toml's output loads to another configuration:\n%s", toml.c_str());
    return 0;
}
