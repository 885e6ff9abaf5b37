// The configuration keys, described once in `key_table` below, and what is
// derived from the table alone: lookups, environment names, "did you mean" suggestions, sizes
// and the text of what a key accepts.

#include "core/config/config_keys.hh"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "core/base/address.hh"

namespace pixelring::detail {
namespace {

constexpr uint64_t kib = 1024;
constexpr uint64_t mib = kib << 10;
constexpr uint64_t gib = mib << 10;
constexpr uint64_t tib = gib << 10;
constexpr uint64_t pib = tib << 10;

// A field of `config` reached through a chain of pointers to members:
// field<&config::server, &server_config::workers>() returns `uint32_t& (*)(config&)`.
template <auto... members> constexpr auto field() {
    return +[](config & c) -> auto& {
        return (c.*....*members);
    };
}

bool is_listen_address(const std::string& text) {
    sockaddr_storage address;
    unsigned len;
    return parse_listen_address(text, address, len);
}

// One server.trusted_proxies element, by the parser that builds the set at start-up, so that
// what load_config admits is exactly what starts.
bool is_cidr(const std::string& text) {
    cidr range;
    std::string expected;
    return parse_cidr(text, range, expected);
}

bool is_non_empty(const std::string& text) {
    return !text.empty();
}

bool is_absolute_path(const std::string& text) {
    return text.empty() || text.front() == '/';
}

constexpr std::string_view address_text =
    "an address such as 0.0.0.0:8080, [::]:8080 or localhost:8080 (port 0 to 65535)";
constexpr std::string_view addresses_text =
    "addresses such as 0.0.0.0:8080, [::]:8080 or localhost:8080 (port 0 to 65535)";
constexpr std::string_view cidr_text = "IPv4 or IPv6 CIDRs such as 10.0.0.0/8 or 2001:db8::/32";
constexpr std::string_view non_empty_text = "a non-empty string";
constexpr std::string_view absolute_path_text = "an absolute path such as /var/www/acme, or empty";
constexpr uint64_t max_timeout_ms = 3'600'000;

// The one list of keys, in the order and grouping that to_toml prints.
constexpr key_descriptor key_table[] = {
    {.name = "server.listen",
     .target = field<&config::server, &server_config::listen>(),
     .help = "listen addresses (\"[::]:8080\" for IPv6); port 0 picks one and logs it",
     .check = is_listen_address,
     .check_text = addresses_text,
     .non_empty_list = true},
    {.name = "server.tls_listen",
     .target = field<&config::server, &server_config::tls_listen>(),
     .help = "HTTPS listen addresses (needs tls.cert and tls.key); empty: no HTTPS",
     .check = is_listen_address,
     .check_text = addresses_text},
    {.name = "server.workers",
     .target = field<&config::server, &server_config::workers>(),
     .help = "worker threads, one io_uring each (default: online CPUs)",
     .min = 1,
     .max = 1024},
    {.name = "server.max_connections",
     .target = field<&config::server, &server_config::max_connections>(),
     .help = "open client connections, across workers",
     .min = 1,
     .max = 10'000'000},
    {.name = "server.max_requests_per_connection",
     .target = field<&config::server, &server_config::max_requests_per_connection>(),
     .help = "requests per keep-alive connection; the last answer says Connection: close",
     .min = 1,
     .max = 10'000'000},
    {.name = "server.header_timeout_ms",
     .target = field<&config::server, &server_config::header_timeout_ms>(),
     .help = "time a client has to send each request from its first byte (a beacon: head and body)",
     .min = 100,
     .max = max_timeout_ms},
    {.name = "server.idle_timeout_ms",
     .target = field<&config::server, &server_config::idle_timeout_ms>(),
     .help = "keep-alive connections idle this long are closed",
     .min = 100,
     .max = max_timeout_ms},
    {.name = "server.max_header_bytes",
     .target = field<&config::server, &server_config::max_header_bytes>(),
     .help = "longest request line and headers; longer is answered 431",
     .min = kib,
     .max = mib,
     .size = true},
    {.name = "server.max_body_bytes",
     .target = field<&config::server, &server_config::max_body_bytes>(),
     .help = "longest request body (beacons); longer is answered 413",
     .min = 0,
     .max = 64 * mib,
     .size = true},
    {.name = "server.ring_bytes",
     .target = field<&config::server, &server_config::ring_bytes>(),
     .help = "per-worker ring between the worker and the sink thread",
     .min = 64 * kib,
     .max = gib,
     .size = true,
     .power_of_two = true},
    {.name = "server.trusted_proxies",
     .target = field<&config::server, &server_config::trusted_proxies>(),
     .help = "CIDRs whose forwarding headers (X-Forwarded-For, Forwarded, ...) are believed",
     .check = is_cidr,
     .check_text = cidr_text},
    {.name = "server.proxy_protocol",
     .target = field<&config::server, &server_config::proxy_protocol>(),
     .help = "expect the PROXY protocol v1/v2 on the listeners"},
    {.name = "server.rate_limit",
     .target = field<&config::server, &server_config::rate_limit>(),
     .help = "events/s per client address per worker, 0 = off",
     .min = 0,
     .max = 10'000'000},
    {.name = "tls.cert",
     .target = field<&config::tls, &tls_config::cert>(),
     .help = "PEM file: the certificate for server.tls_listen, then its intermediates"},
    {.name = "tls.key",
     .target = field<&config::tls, &tls_config::key>(),
     .help = "PEM file: the certificate's private key"},
    {.name = "tls.certificates",
     .target = field<&config::tls, &tls_config::certificates>(),
     .help = "more certificates, chosen by the name a client asks for (SNI); tls.cert is the "
             "default. [[tls.certificates]] tables: cert, key, and names (default: the "
             "certificate's own)"},
    {.name = "tls.min_version",
     .target = field<&config::tls, &tls_config::min_version>(),
     .help = "oldest TLS version served",
     .choices = "1.2, 1.3"},
    {.name = "tls.acme_webroot",
     .target = field<&config::tls, &tls_config::acme_webroot>(),
     .help = "certbot's --webroot directory: /.well-known/acme-challenge/<token> is answered "
             "from it on every listener; empty: 404",
     .check = is_absolute_path,
     .check_text = absolute_path_text},
    {.name = "tls.session_cache",
     .target = field<&config::tls, &tls_config::session_cache>(),
     .help = "sessions kept for resumption by session ID (TLS 1.2 clients without tickets), "
             "per certificate; 0 = none",
     .min = 0,
     .max = 10'000'000},
    {.name = "tls.session_timeout_s",
     .target = field<&config::tls, &tls_config::session_timeout_s>(),
     .help = "how long a client may resume its session (ticket or ID); the ticket keys made "
             "here are replaced this often, and the one before still accepted",
     .min = 60,
     .max = 604'800},
    {.name = "tls.ticket_key_file",
     .target = field<&config::tls, &tls_config::ticket_key_file>(),
     .help = "session ticket keys shared by a fleet: 1 to 8 keys of 80 random bytes (openssl "
             "rand 80); the first seals new tickets, all open them; read again on reload. "
             "Empty: keys made here and rotated",
     .check = is_absolute_path,
     .check_text = absolute_path_text},
    {.name = "admin.listen",
     .target = field<&config::admin, &admin_config::listen>(),
     .help = "health, metrics and dashboard listener; never make it public",
     .check = is_listen_address,
     .check_text = address_text},
    {.name = "admin.dashboard",
     .target = field<&config::admin, &admin_config::dashboard>(),
     .help = "serve /dashboard and /stats.json, and count every event for them on the sink "
             "thread; false: neither (both answer 403)"},
    {.name = "admin.user",
     .target = field<&config::admin, &admin_config::user>(),
     .help = "basic-auth user for the dashboard"},
    {.name = "admin.password",
     .target = field<&config::admin, &admin_config::password>(),
     .help = "basic-auth password for the dashboard",
     .secret = true},
    {.name = "sink.type",
     .target = field<&config::sink, &sink_config::type>(),
     .help = "where events go (default: kafka when sink.kafka.brokers is set, else file)",
     .choices = "file, kafka, stdout"},
    {.name = "sink.file.path",
     .target = field<&config::sink, &sink_config::file, &file_sink_config::path>(),
     .help = "newline-delimited JSON output of the file sink",
     .check = is_non_empty,
     .check_text = non_empty_text},
    {.name = "sink.file.rotate_bytes",
     .target = field<&config::sink, &sink_config::file, &file_sink_config::rotate_bytes>(),
     .help = "start a new file at this size, 0 = never",
     .min = 0,
     .max = tib,
     .size = true},
    {.name = "sink.file.rotate_seconds",
     .target = field<&config::sink, &sink_config::file, &file_sink_config::rotate_seconds>(),
     .help = "start a new file at this age, 0 = never",
     .min = 0,
     .max = 366 * 86400},
    {.name = "sink.file.fsync",
     .target = field<&config::sink, &sink_config::file, &file_sink_config::fsync>(),
     .help = "when the file is fsync'd",
     .choices = "never, interval, always"},
    {.name = "sink.file.fsync_interval_ms",
     .target = field<&config::sink, &sink_config::file, &file_sink_config::fsync_interval_ms>(),
     .help = "fsync period when sink.file.fsync is \"interval\"",
     .min = 1,
     .max = max_timeout_ms},
    {.name = "sink.file.drop_cache",
     .target = field<&config::sink, &sink_config::file, &file_sink_config::drop_cache>(),
     .help = "drop the event file from the page cache behind the writer (16 MiB window)"},
    {.name = "sink.file.direct",
     .target = field<&config::sink, &sink_config::file, &file_sink_config::direct>(),
     .help = "write whole 4 KiB blocks with O_DIRECT, past the page cache; events wait "
             "up to about 15 ms"},
    {.name = "sink.kafka.brokers",
     .target = field<&config::sink, &sink_config::kafka, &kafka_sink_config::brokers>(),
     .help = "Kafka bootstrap brokers, host:port",
     .check = is_non_empty,
     .check_text = "host:port strings"},
    {.name = "sink.kafka.topic",
     .target = field<&config::sink, &sink_config::kafka, &kafka_sink_config::topic>(),
     .help = "Kafka topic of the events",
     .check = is_non_empty,
     .check_text = non_empty_text},
    {.name = "sink.kafka.stop_timeout_ms",
     .target = field<&config::sink, &sink_config::kafka, &kafka_sink_config::stop_timeout_ms>(),
     .help = "on SIGTERM, how long to wait for Kafka to acknowledge outstanding events",
     .min = 0,
     .max = max_timeout_ms},
    {.name = "sink.kafka.properties",
     .target = field<&config::sink, &sink_config::kafka, &kafka_sink_config::properties>(),
     .help = "librdkafka properties, passed through (\"linger.ms\" = \"5\")"},
    {.name = "spool.dir",
     .target = field<&config::spool, &spool_config::dir>(),
     .help = "disk spool for events Kafka did not take",
     .check = is_non_empty,
     .check_text = non_empty_text},
    {.name = "spool.max_bytes",
     .target = field<&config::spool, &spool_config::max_bytes>(),
     .help = "disk budget of the spool; when spent, beacons get 503",
     .min = mib,
     .max = pib,
     .size = true},
    {.name = "spool.fsync_ms",
     .target = field<&config::spool, &spool_config::fsync_ms>(),
     .help = "batched fsync period of the spool",
     .min = 1,
     .max = max_timeout_ms},
    {.name = "spool.max_memory_ms",
     .target = field<&config::spool, &spool_config::max_memory_ms>(),
     .help = "longest an event waits in memory for Kafka's acknowledgement before it and every "
             "new event go to the spool: what a crash can lose during a broker outage",
     .min = 100,
     .max = 600000},
    {.name = "privacy.ip",
     .target = field<&config::privacy, &privacy_config::ip>(),
     .help = "client address in events: truncate (/24, /48), full or none",
     .choices = "truncate, full, none"},
    {.name = "privacy.user_agent",
     .target = field<&config::privacy, &privacy_config::user_agent>(),
     .help = "keep the User-Agent string in events"},
    {.name = "privacy.visitor_secret",
     .target = field<&config::privacy, &privacy_config::visitor_secret>(),
     .help = "fleet-wide secret for the daily visitor salt",
     .secret = true},
    {.name = "privacy.honor_dnt",
     .target = field<&config::privacy, &privacy_config::honor_dnt>(),
     .help = "DNT: 1 and Sec-GPC: 1 drop visitor, ip and ua"},
    {.name = "geoip.city_db",
     .target = field<&config::geoip, &geoip_config::city_db>(),
     .help = "MaxMind-format city database (country, city)"},
    {.name = "geoip.asn_db",
     .target = field<&config::geoip, &geoip_config::asn_db>(),
     .help = "MaxMind-format ASN database"},
    {.name = "tracking.enrich",
     .target = field<&config::tracking, &tracking_config::enrich>(),
     .help = "add agent, device, browser, os, visitor, utm and dnt (and GeoIP fields when "
             "geoip.* is set) to events"},
    {.name = "tracking.image",
     .target = field<&config::tracking, &tracking_config::image>(),
     .help = "image file answered instead of the 1x1 pixel"},
    {.name = "tracking.allowed_events",
     .target = field<&config::tracking, &tracking_config::allowed_events>(),
     .help = "allowed action names, [] = any"},
    {.name = "tracking.cors_origins",
     .target = field<&config::tracking, &tracking_config::cors_origins>(),
     .help = "allowed beacon origins, [] = echo any"},
    {.name = "tracking.beacon_batch",
     .target = field<&config::tracking, &tracking_config::beacon_batch>(),
     .help = "most events in one POST /e array; more is answered 413",
     .min = 1,
     .max = 1000},
    {.name = "redirect.secret",
     .target = field<&config::redirect, &redirect_config::secret>(),
     .help = "key of signed /r/ links; with allow_hosts unset too, /r/ is off",
     .secret = true},
    {.name = "redirect.allow_hosts",
     .target = field<&config::redirect, &redirect_config::allow_hosts>(),
     .help = "hosts /r/ may redirect to without a signature (exact match)"},
    {.name = "collector.name",
     .target = field<&config::collector, &collector_config::name>(),
     .help = "collector field of every event (default: the host name)"},
};

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string human_size(uint64_t n) {
    static constexpr std::pair<uint64_t, std::string_view> units[] = {
        {pib, "PiB"}, {tib, "TiB"}, {gib, "GiB"}, {mib, "MiB"}, {kib, "KiB"}};
    for (auto [unit, suffix] : units)
        if (n != 0 && n % unit == 0) return fmt::format("{}{}", n / unit, suffix);
    return std::to_string(n);
}

} // namespace

// Constant-initialized, so it is ready before any other static initializer can read it.
constinit const std::span<const key_descriptor> keys{key_table};

const key_descriptor* find_key(std::string_view name) {
    for (const auto& k : keys)
        if (k.name == name) return &k;
    return nullptr;
}

bool is_section(std::string_view name) {
    return std::any_of(std::begin(keys), std::end(keys), [&](const key_descriptor& k) {
        return k.name.size() > name.size() && k.name.starts_with(name) &&
               k.name[name.size()] == '.';
    });
}

std::string env_name(std::string_view key) {
    std::string out(env_prefix);
    for (char ch : key)
        out += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return out;
}

std::string spell_key(std::string_view name) {
    return std::string(name);
}

std::string suggestion(std::string_view unknown, std::string (*spell)(std::string_view)) {
    std::string best;
    size_t best_distance = SIZE_MAX;
    for (const auto& k : keys) {
        std::string candidate = spell(k.name);
        size_t d = edit_distance(unknown, candidate);
        if (d < best_distance) best_distance = d, best = std::move(candidate);
    }
    if (best_distance <= std::max<size_t>(2, unknown.size() / 5))
        return fmt::format(" (did you mean {}?)", best);
    return " (pixelring --print-config lists every key)";
}

std::optional<uint64_t> parse_size(std::string_view text) {
    static constexpr std::pair<std::string_view, uint64_t> units[] = {
        {"KiB", kib}, {"MiB", mib}, {"GiB", gib}, {"TiB", tib}, {"PiB", pib}};
    size_t digits = 0;
    while (digits < text.size() && digits < 10 && text[digits] >= '0' && text[digits] <= '9')
        ++digits;
    if (digits == 0) return std::nullopt;
    uint64_t number = std::stoull(std::string(text.substr(0, digits)));
    for (auto [suffix, unit] : units)
        if (text.substr(digits) == suffix && number <= UINT64_MAX / unit) return number * unit;
    return std::nullopt;
}

// What a key accepts, for error messages and to_toml's comments.
std::string accepted(const key_descriptor& k) {
    return std::visit(
        [&](auto target) -> std::string {
            using value_type = std::remove_reference_t<decltype(target(std::declval<config&>()))>;
            if constexpr (std::is_same_v<value_type, bool>) {
                return "true or false";
            } else if constexpr (std::is_integral_v<value_type>) {
                if (!k.size) return fmt::format("an integer from {} to {}", k.min, k.max);
                config defaults;
                return fmt::format("{} from {} to {} bytes ({} to {}; an integer or a string such "
                                   "as \"{}\")",
                                   k.power_of_two ? "a power of two" : "a size", k.min, k.max,
                                   human_size(k.min), human_size(k.max),
                                   human_size(target(defaults)));
            } else if constexpr (std::is_same_v<value_type, std::string>) {
                if (!k.choices.empty()) return fmt::format("one of {}", k.choices);
                if (k.check) return std::string(k.check_text);
                return "a string";
            } else if constexpr (std::is_same_v<value_type, std::vector<std::string>>) {
                if (k.non_empty_list) return fmt::format("a non-empty list of {}", k.check_text);
                if (k.check) return fmt::format("a list of {}", k.check_text);
                return "a string or an array of strings";
            } else if constexpr (std::is_same_v<value_type, std::vector<tls_certificate_config>>) {
                return "an array of tables with cert and key (PEM files) and optionally names "
                       "(host names), such as [{ cert = \"/etc/pixelring/b.pem\", key = "
                       "\"/etc/pixelring/b.key\" }]";
            } else {
                return "a table of librdkafka properties such as \"linger.ms\" = \"5\"";
            }
        },
        k.target);
}

} // namespace pixelring::detail
