#pragma once
// The configuration contract of DESIGN.md §7: defaults, a TOML file, PIXELRING_* environment
// variables (and NanoTrack's aliases), and --set KEY=VALUE, in rising precedence. Loaded once
// at start-up on the main thread; read-only afterwards.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pixelring {

struct server_config {
    std::vector<std::string> listen{"0.0.0.0:8080"}; // "host:port", "[v6]:port"
    uint32_t workers = 0;                            // resolved: online CPUs when not set
    uint32_t max_connections = 100000;               // across workers
    uint32_t max_requests_per_connection = 10000;    // the last answer says Connection: close
    uint32_t header_timeout_ms = 10000;
    uint32_t idle_timeout_ms = 60000;
    uint32_t max_header_bytes = 16384;
    uint32_t max_body_bytes = 65536;
    uint32_t ring_bytes = 4u << 20; // per worker SPSC ring, power of two
    std::vector<std::string> trusted_proxies;         // CIDRs
    bool proxy_protocol = false;
    uint32_t rate_limit = 0;
};

struct admin_config {
    std::string listen = "127.0.0.1:9090";
    std::string user;
    std::string password;
};

struct file_sink_config {
    std::string path = "./events.ndjson";
    uint64_t rotate_bytes = 1ull << 30; // 0: never rotate by size
    uint32_t rotate_seconds = 0;        // 0: never rotate by age
    std::string fsync = "interval";     // never | interval | always
    uint32_t fsync_interval_ms = 1000;
};

struct kafka_sink_config {
    std::vector<std::string> brokers;
    std::string topic = "pixelring.events";
    std::map<std::string, std::string> properties; // passed through to librdkafka
};

struct sink_config {
    std::string type = "file"; // file | kafka | stdout; resolved: kafka when brokers are set
    file_sink_config file;
    kafka_sink_config kafka;
};

struct spool_config {
    std::string dir = "./spool";
    uint64_t max_bytes = 10ull << 30;
    uint32_t fsync_ms = 100;
};

struct privacy_config {
    std::string ip = "truncate"; // truncate | full | none
    bool user_agent = true;
    std::string visitor_secret;
    bool honor_dnt = true;
};

struct geoip_config {
    std::string city_db;
    std::string asn_db;
};

struct tracking_config {
    std::string image;
    std::vector<std::string> allowed_events;
    std::vector<std::string> cors_origins;
};

struct redirect_config {
    std::string secret;
    std::vector<std::string> allow_hosts;
};

struct collector_config {
    std::string name; // resolved: the host name when not set
};

struct config {
    server_config server;
    admin_config admin;
    sink_config sink;
    spool_config spool;
    privacy_config privacy;
    geoip_config geoip;
    tracking_config tracking;
    redirect_config redirect;
    collector_config collector;
};

struct config_sources {
    std::string file;               // --config FILE; empty: none
    std::vector<std::string> sets;  // each --set KEY=VALUE, in command-line order
    const char* const* env = nullptr; // environ; nullptr: ignore the environment
};

// Fills out from defaults and the sources. Returns an empty string on success, else one
// message that names the source, the key, the value and what is accepted, e.g.
// "--set server.workers=abc: expected an integer from 1 to 1024".
std::string load_config(const config_sources& sources, config& out);

// The effective configuration as a TOML document that load_config reads back unchanged.
std::string to_toml(const config& cfg);

// "127.0.0.1:8080", "[::1]:0", "0.0.0.0:80" into a socket address. Returns false for
// anything else. Used by load_config to validate, and by net/ to bind.
struct sockaddr_storage;
bool parse_listen_address(const std::string& text, sockaddr_storage& out, unsigned& len);

} // namespace pixelring
