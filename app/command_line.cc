#include "app/command_line.hh"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "app/allocator.hh"
#include "app/collector.hh"
#include "app/config_check.hh"
#include "app/tls_setup.hh"
#include "core/config/config.hh"
#include "core/policy/redirect.hh"
#include "sinks/write_all.hh"
#include "tls/tls_context.hh"

extern char** environ;

namespace pixelring {
namespace {

// --write-default-config FILE: 0 when written, 2 when FILE exists or cannot be written.
int write_default_config(const std::string& path) {
    const std::string text = default_config_toml();
    if (path == "-") {
        std::fputs(text.c_str(), stdout);
        return 0;
    }
    // O_EXCL: an operator's edited file is never overwritten.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        fmt::print(
            stderr, "pixelring: --write-default-config {}: {}{}\n", path, std::strerror(errno),
            errno == EEXIST ? " (not overwritten: remove it first, or give another FILE)" : "");
        return 2;
    }
    iovec part{const_cast<char*>(text.data()), text.size()};
    size_t done = 0;
    if (int err = write_all(fd, &part, 1, done); err != 0) {
        fmt::print(stderr, "pixelring: --write-default-config {}: {}\n", path, std::strerror(err));
        ::close(fd);
        return 2;
    }
    if (::close(fd) != 0) {
        fmt::print(stderr, "pixelring: --write-default-config {}: {}\n", path,
                   std::strerror(errno));
        return 2;
    }
    fmt::print(stderr, "pixelring: wrote the default configuration to {}\n", path);
    return 0;
}

} // namespace

int run_command_line(int argc, char** argv, const std::string& version, const char* build_profile) {
    CLI::App app{"pixelring: an io_uring edge collector for web and email analytics. Every hit "
                 "on /track/<action>.gif (pixels), POST /e (beacons), /tr/v1/<k>/<v>... (REST) "
                 "and /r/<action>?url= (click redirects) becomes one JSON event in the "
                 "configured sink; /t.js serves the tracker script."};
    app.set_version_flag("--version", fmt::format("pixelring {} (malloc: {}{})", version,
                                                  malloc_in_use(), build_profile));
    config_sources sources;
    bool print_config = false;
    bool check_config = false;
    app.add_option("-c,--config", sources.file, "TOML configuration file");
    app.add_option("-s,--set", sources.sets,
                   "KEY=VALUE, a TOML value (a bare word is a string); repeatable; wins over "
                   "the environment and the file. Example: --set server.listen=127.0.0.1:8080")
        ->type_name("KEY=VALUE");
    app.add_flag("--print-config", print_config,
                 "print the effective configuration, defaults included, as TOML and exit");
    app.add_flag("--check-config", check_config, "validate the configuration and exit");
    std::string default_config_path;
    app.add_option("--write-default-config", default_config_path,
                   "write a configuration file with every key, its default and a comment "
                   "saying what it means (secrets empty) to FILE (- for standard output) and "
                   "exit; an existing FILE is left alone")
        ->type_name("FILE");
    std::string sign_target, sign_action = "click", sign_base;
    CLI::App* sign = app.add_subcommand(
        "sign-url", "print a signed /r/ click link to URL, signed with redirect.secret (taken "
                    "from the configuration, like every key) and exit. The signature covers the "
                    "URL, the action and the campaign: a link edited in any of them is refused");
    sign->fallthrough(); // --set and --config may follow the subcommand too
    sign->add_option("URL", sign_target, "absolute http(s) URL the link redirects to")->required();
    sign->add_option("--action", sign_action, "the action in the link (/r/<action>)")
        ->capture_default_str();
    std::optional<std::string> sign_campaign;
    sign->add_option("--campaign", sign_campaign,
                     "the campaign the click event records (campaignID in the link, signed "
                     "with it); without it the event's campaign is null");
    sign->add_option("--base", sign_base,
                     "prefix such as https://px.example.com; without it only the path and query "
                     "are printed");
    app.footer(
        "Precedence: --set, then environment PIXELRING_<KEY> (dots as underscores, upper "
        "case: server.listen -> PIXELRING_SERVER_LISTEN), then --config FILE, then defaults.\n"
        "NanoTrack variables DB_TYPE=flatfile, DISABLE_IP_TRACKING, "
        "DISABLE_USER_AGENT_TRACKING, DASHBOARD_USER, DASHBOARD_PASSWORD and TRACKING_IMAGE "
        "are accepted too.\n"
        "Every key with its default and meaning: pixelring --print-config\n"
        "Signals: SIGTERM/SIGINT stop without losing accepted events; SIGHUP reopens the "
        "event file.\n"
        "Under systemd (systemd/pixelring.service): listening sockets passed by socket "
        "activation (FileDescriptorName=public, admin) replace server.listen and admin.listen; "
        "READY, STATUS, WATCHDOG and STOPPING are sent with sd_notify.");
    CLI11_PARSE(app, argc, argv);
    if (!default_config_path.empty()) return write_default_config(default_config_path);

    sources.env = environ;
    config cfg;
    std::string error = load_config(sources, cfg);
    if (!error.empty()) {
        fmt::print(stderr, "pixelring: configuration error: {}\n", error);
        return 2;
    }
    if (sign->parsed()) {
        if (cfg.redirect.secret.empty()) {
            fmt::print(stderr, "pixelring: sign-url needs redirect.secret: set it in the "
                               "configuration file, as PIXELRING_REDIRECT_SECRET, or with "
                               "--set redirect.secret=...\n");
            return 2;
        }
        signed_link link =
            sign_url(cfg.redirect.secret, sign_target, sign_action,
                     sign_campaign ? std::optional<std::string_view>(*sign_campaign) : std::nullopt,
                     sign_base);
        if (!link.error.empty()) {
            fmt::print(stderr, "pixelring: sign-url: {}\n", link.error);
            return 2;
        }
        fmt::print("{}\n", link.link);
        return 0;
    }
    error = check_feature_config(cfg);
    if (!error.empty()) {
        fmt::print(stderr, "pixelring: configuration error: {}\n", error);
        return 2;
    }
    if (print_config) {
        std::fputs(to_toml(cfg).c_str(), stdout);
        return 0;
    }
    if (check_config) {
        // The certificate and key are loaded as the server would, and what would trouble
        // clients is said (expired, not yet valid, an incomplete chain).
        if (!cfg.server.tls_listen.empty()) {
            loaded_tls tls;
            if (!load_tls(cfg.tls, 0, tls)) return 2;
            for (const auto& info : tls.context->certificates())
                fmt::print("tls: {}\n", describe_certificate(info));
            fmt::print("tls: {}\n", tls.tickets->describe());
            const auto problems = tls.context->problems(int64_t(std::time(nullptr)));
            for (const std::string& problem : problems)
                fmt::print(stderr, "pixelring: warning: tls: {}\n", problem);
        }
        fmt::print("configuration ok\n");
        return 0;
    }
    return run_collector(cfg, version);
}

} // namespace pixelring
