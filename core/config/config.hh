#pragma once
// The configuration contract: defaults, a TOML file, PIXELRING_* environment
// variables (and NanoTrack's aliases), and --set KEY=VALUE, in rising precedence. Loaded once
// at start-up on the main thread; read-only afterwards.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

// parse_listen_address, which load_config validates with and net/ binds with.
#include "core/base/address.hh"

namespace pixelring {

struct server_config {
    std::vector<std::string> listen{"0.0.0.0:8080"}; // "host:port", "[v6]:port"
    std::vector<std::string> tls_listen;             // HTTPS addresses; needs tls.cert, tls.key
    uint32_t workers = 0;                            // resolved: online CPUs when not set
    uint32_t max_connections = 100000;               // across workers
    uint32_t max_requests_per_connection = 10000;    // the last answer says Connection: close
    uint32_t header_timeout_ms = 10000;
    uint32_t idle_timeout_ms = 60000;
    uint32_t max_header_bytes = 16384;
    uint32_t max_body_bytes = 65536;
    // Per worker SPSC ring, power of two. 32 MiB absorbs ~100 ms of the sink falling behind
    // at 600k pipelined events/s on one CPU (bench/wrk/pixel_load.sh); 4 MiB dropped events.
    uint32_t ring_bytes = 32u << 20;
    std::vector<std::string> trusted_proxies; // CIDRs
    bool proxy_protocol = false;
    uint32_t rate_limit = 0;

    bool operator==(const server_config&) const = default;
};

struct admin_config {
    std::string listen = "127.0.0.1:9090";
    bool dashboard = true;
    std::string user;
    std::string password;

    bool operator==(const admin_config&) const = default;
};

struct file_sink_config {
    std::string path = "./events.ndjson";
    uint64_t rotate_bytes = 1ull << 30; // 0: never rotate by size
    uint32_t rotate_seconds = 0;        // 0: never rotate by age
    std::string fsync = "interval";     // never | interval | always
    uint32_t fsync_interval_ms = 1000;
    bool drop_cache =
        true;           // drop the file's page cache behind the writer (sinks/file/file_sink.cc)
    bool direct = true; // whole blocks with O_DIRECT (sinks/file/direct_writer.hh)

    bool operator==(const file_sink_config&) const = default;
};

struct kafka_sink_config {
    std::vector<std::string> brokers;
    std::string topic = "pixelring.events";
    uint32_t stop_timeout_ms = 10000; // on SIGTERM, how long to wait for outstanding deliveries
    std::map<std::string, std::string> properties; // passed through to librdkafka

    bool operator==(const kafka_sink_config&) const = default;
};

struct sink_config {
    std::string type = "file"; // file | kafka | stdout; resolved: kafka when brokers are set
    file_sink_config file;
    kafka_sink_config kafka;

    bool operator==(const sink_config&) const = default;
};

struct spool_config {
    std::string dir = "./spool";
    uint64_t max_bytes = 10ull << 30;
    uint32_t fsync_ms = 100;
    uint32_t max_memory_ms = 1000; // an unacknowledged event goes to the spool after this

    bool operator==(const spool_config&) const = default;
};

struct privacy_config {
    std::string ip = "truncate"; // truncate | full | none
    bool user_agent = true;
    std::string visitor_secret;
    bool honor_dnt = true;

    bool operator==(const privacy_config&) const = default;
};

struct geoip_config {
    std::string city_db;
    std::string asn_db;

    bool operator==(const geoip_config&) const = default;
};

struct tracking_config {
    bool enrich = true; // agent, device, browser, os, visitor, utm, dnt (and geo with DBs)
    std::string image;
    std::vector<std::string> allowed_events;
    std::vector<std::string> cors_origins;
    uint32_t beacon_batch = 50; // items in one POST /e array (core/event/beacon.hh)

    bool operator==(const tracking_config&) const = default;
};

struct redirect_config {
    std::string secret;
    std::vector<std::string> allow_hosts;

    bool operator==(const redirect_config&) const = default;
};

// One [[tls.certificates]] entry: a certificate served to the clients that ask for one of its
// names (SNI).
struct tls_certificate_config {
    std::string cert;               // PEM: the certificate, then its intermediates
    std::string key;                // PEM: its private key
    std::vector<std::string> names; // SNI names it answers; empty: its subjectAltName names

    bool operator==(const tls_certificate_config&) const = default;
};

struct tls_config {
    std::string cert; // PEM: the certificate, then its intermediates (default)
    std::string key;  // PEM: its private key
    std::vector<tls_certificate_config> certificates; // more, chosen by SNI
    std::string min_version = "1.2";                  // 1.2 | 1.3
    std::string acme_webroot;                         // certbot --webroot directory; empty: off
    uint32_t session_cache = 20480;    // TLS 1.2 sessions kept for resumption by ID; 0: none
    uint32_t session_timeout_s = 3600; // how long a session resumes; keys made here rotate so
    std::string ticket_key_file;       // ticket keys shared by a fleet; empty: made here

    bool operator==(const tls_config&) const = default;
};

struct collector_config {
    std::string name; // resolved: the host name when not set

    bool operator==(const collector_config&) const = default;
};

struct config {
    server_config server;
    tls_config tls;
    admin_config admin;
    sink_config sink;
    spool_config spool;
    privacy_config privacy;
    geoip_config geoip;
    tracking_config tracking;
    redirect_config redirect;
    collector_config collector;

    bool operator==(const config&) const = default;
};

struct config_sources {
    std::string file;                 // --config FILE; empty: none
    std::vector<std::string> sets;    // each --set KEY=VALUE, in command-line order
    const char* const* env = nullptr; // environ; nullptr: ignore the environment
};

// Fills out from defaults and the sources. Returns an empty string on success, else one
// message that names the source, the key, the value and what is accepted, e.g.
// "--set server.workers=abc: expected an integer from 1 to 1024"; out is unchanged then.
// Precedence, lowest first: defaults < sources.file < sources.env < sources.sets.
// * Every key has a dotted name (server.listen, sink.file.path, ...); to_toml lists them all.
//   An unknown key, in any source, is an error with a "did you mean" suggestion.
// * --set and environment values are TOML values; text that is not one is a bare string, and
//   where a string is expected any scalar is taken as typed. One string where a list is
//   expected is a list of one. *_bytes keys also take sizes: "64KiB", "16MiB", "10GiB".
// * Environment: PIXELRING_<KEY>, dots as underscores, upper case (PIXELRING_SERVER_LISTEN);
//   PIXELRING_SINK_KAFKA_PROPERTIES_<NAME> sets the librdkafka property <NAME> lower-cased,
//   '_' as '.' (..._LINGER_MS is linger.ms). Any other PIXELRING_* variable is an error.
//   NanoTrack's variables are aliases below PIXELRING_*: DB_TYPE=flatfile (sink.type=file;
//   no other value), DISABLE_IP_TRACKING (privacy.ip=none) and DISABLE_USER_AGENT_TRACKING
//   (privacy.user_agent=false) when true/1/yes, no change when false/0/no or empty,
//   DASHBOARD_USER, DASHBOARD_PASSWORD (admin.*) and TRACKING_IMAGE (tracking.image) as text.
// * Resolved last: server.workers (online CPUs), collector.name (host name) and sink.type
//   (kafka when sink.kafka.brokers is set, else file) when no source gave them.
// Calls sysconf and gethostname; reads sources.file. Not thread-safe; call once at start-up.
std::string load_config(const config_sources& sources, config& out);

// The effective configuration as a TOML document, grouped by section, a one-line comment
// per key, that load_config reads back to an equal config. Secrets (admin.password,
// privacy.visitor_secret, redirect.secret) are printed as "<redacted>" when set, and
// load_config refuses that placeholder, so the output restores everything except them.
std::string to_toml(const config& cfg);

// The default configuration file (pixelring --write-default-config, the packaged
// /etc/pixelring/pixelring.toml): to_toml's layout with every default, secrets empty, and the
// keys resolved at start (server.workers, sink.type, collector.name) commented out with an
// example, so that they stay resolved. The same on every machine.
std::string default_config_toml();

} // namespace pixelring
