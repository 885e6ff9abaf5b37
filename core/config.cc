// Configuration loading (DESIGN.md §7). Every key is described once, in `keys` below: its
// dotted name, where it lives in `config`, what it accepts and a one-line meaning. The TOML
// reader, the environment, --set, to_toml and every error message work from that table, so a
// new key is one line there. Runs once at start-up on the main thread; nothing here is shared.
//
// Values from the environment and --set are TOML values ("x = VALUE" is parsed); text that is
// not a TOML value is a bare string. Where a string is expected, text that parses as another
// scalar (a number, a date, true) is taken as typed: PIXELRING_ADMIN_PASSWORD=123456 is the
// string "123456". One string where a list is expected is a list of one, in every source.
// Keys ending in _bytes also take a size string: "64KiB", "16MiB", "10GiB", "1TiB", "1PiB".

#include "core/config.hh"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>
#include <string_view>
#include <tuple>
#include <variant>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace pixelring {
namespace {

constexpr uint64_t kib = 1024;
constexpr uint64_t mib = kib << 10;
constexpr uint64_t gib = mib << 10;
constexpr uint64_t tib = gib << 10;
constexpr uint64_t pib = tib << 10;

// Secrets are printed as this by to_toml; load_config refuses it as the final value so that
// --print-config output fed back in never turns the placeholder into a password.
constexpr std::string_view redacted = "<redacted>";

// A field of `config` reached through a chain of pointers to members:
// field<&config::server, &server_config::workers>() returns `uint32_t& (*)(config&)`.
template <auto... members> constexpr auto field() {
    return +[](config & c) -> auto& {
        return (c.*....*members);
    };
}

using field_ref = std::variant<bool& (*)(config&), uint32_t& (*)(config&), uint64_t& (*)(config&),
                               std::string& (*)(config&), std::vector<std::string>& (*)(config&),
                               std::map<std::string, std::string>& (*)(config&)>;

bool is_listen_address(const std::string& text);
bool is_cidr(const std::string& text);
bool is_non_empty(const std::string& text) {
    return !text.empty();
}

// One configuration key. Integers use min/max (and size, power_of_two); strings use choices
// ("a, b, c", also the text of the error message) or check/check_text; lists apply
// check/check_text to every element.
struct key_descriptor {
    std::string_view name;
    field_ref target;
    std::string_view help;
    uint64_t min = 0;
    uint64_t max = 0;
    bool size = false;         // also accepts "64KiB"-style strings
    bool power_of_two = false; //
    std::string_view choices = {};
    bool (*check)(const std::string&) = nullptr;
    std::string_view check_text = {}; // what check accepts, for messages
    bool non_empty_list = false;
    bool secret = false; // printed as <redacted> by to_toml
};

constexpr std::string_view address_text =
    "an address such as 0.0.0.0:8080, [::]:8080 or localhost:8080 (port 0 to 65535)";
constexpr std::string_view addresses_text =
    "addresses such as 0.0.0.0:8080, [::]:8080 or localhost:8080 (port 0 to 65535)";
constexpr std::string_view cidr_text = "IPv4 or IPv6 CIDRs such as 10.0.0.0/8 or 2001:db8::/32";
constexpr std::string_view non_empty_text = "a non-empty string";
constexpr uint64_t max_timeout_ms = 3'600'000;

// The one list of keys, in the order and grouping that to_toml prints.
constexpr key_descriptor keys[] = {
    {.name = "server.listen",
     .target = field<&config::server, &server_config::listen>(),
     .help = "listen addresses (\"[::]:8080\" for IPv6); port 0 picks one and logs it",
     .check = is_listen_address,
     .check_text = addresses_text,
     .non_empty_list = true},
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
     .help = "time a client has to send a request's headers (slow clients)",
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
    {.name = "admin.listen",
     .target = field<&config::admin, &admin_config::listen>(),
     .help = "health, metrics and dashboard listener; never make it public",
     .check = is_listen_address,
     .check_text = address_text},
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
    {.name = "tracking.image",
     .target = field<&config::tracking, &tracking_config::image>(),
     .help = "image file answered instead of the 1x1 pixel"},
    {.name = "tracking.allowed_events",
     .target = field<&config::tracking, &tracking_config::allowed_events>(),
     .help = "allowed action names, [] = any"},
    {.name = "tracking.cors_origins",
     .target = field<&config::tracking, &tracking_config::cors_origins>(),
     .help = "allowed beacon origins, [] = echo any"},
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

constexpr std::string_view properties_key = "sink.kafka.properties";
constexpr std::string_view env_prefix = "PIXELRING_";
constexpr std::string_view env_properties_prefix = "PIXELRING_SINK_KAFKA_PROPERTIES_";

const key_descriptor* find_key(std::string_view name) {
    for (const auto& k : keys)
        if (k.name == name) return &k;
    return nullptr;
}

// "server" and "sink.kafka" are sections: a key name starts with them and a dot.
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

// " (did you mean X?)" for the closest key, spelled by `spell`, or a pointer to the key list.
template <typename Spell> std::string suggestion(std::string_view unknown, Spell spell) {
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

std::string spell_key(std::string_view name) {
    return std::string(name);
}

std::string human_size(uint64_t n) {
    static constexpr std::pair<uint64_t, std::string_view> units[] = {
        {pib, "PiB"}, {tib, "TiB"}, {gib, "GiB"}, {mib, "MiB"}, {kib, "KiB"}};
    for (auto [unit, suffix] : units)
        if (n != 0 && n % unit == 0) return fmt::format("{}{}", n / unit, suffix);
    return std::to_string(n);
}

// "64KiB" and the like; a plain number in a string is not a size (it would be a quoted integer).
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
            } else {
                return "a table of librdkafka properties such as \"linger.ms\" = \"5\"";
            }
        },
        k.target);
}

std::string toml_text(const toml::node& v) {
    std::ostringstream os;
    os << toml::toml_formatter{v, toml::format_flags::none};
    return os.str();
}

// Where a value came from, for messages.
struct origin {
    std::string label;    // "config.toml", "--set server.workers=abc", "PIXELRING_X=abc"
    bool textual = false; // the label already shows the value as typed (env, --set)
    std::string raw;      // textual only: the value as typed
};

std::string where(const origin& o, std::string_view key, const toml::node& v) {
    if (o.textual) return o.label;
    return fmt::format("{}: {} = {}", o.label, key, toml_text(v));
}

// A string, or for text from the environment or --set any other scalar as typed.
std::optional<std::string> text_of(const toml::node& v, const origin& o) {
    if (const auto* s = v.as_string()) return s->get();
    if (o.textual && !v.is_table() && !v.is_array()) return o.raw;
    return std::nullopt;
}

class config_loader {
public:
    // Applies one value to the key `name` (a key of the table or a sink.kafka.properties.*
    // name). Returns false when the name is not a key. error is set when the value is refused.
    bool apply(std::string_view name, const toml::node& v, const origin& o, std::string& error);
    std::string apply_table(const toml::table& table, const std::string& section, const origin& o);
    std::string apply_environment(const char* const* env);
    std::string apply_set(const std::string& argument);
    std::string resolve();

    config cfg;

private:
    std::string assign(const key_descriptor& k, bool& out, const toml::node& v, const origin& o);
    template <typename Integer>
    std::string assign(const key_descriptor& k, Integer& out, const toml::node& v, const origin& o);
    std::string assign(const key_descriptor& k, std::string& out, const toml::node& v,
                       const origin& o);
    std::string assign(const key_descriptor& k, std::vector<std::string>& out, const toml::node& v,
                       const origin& o);
    std::string assign(const key_descriptor& k, std::map<std::string, std::string>& out,
                       const toml::node& v, const origin& o);
    std::string assign_properties(const toml::table& table, const std::string& prefix,
                                  const origin& o);
    std::string assign_property(const std::string& name, const toml::node& v, const origin& o);
    std::string refuse(const key_descriptor& k, const toml::node& v, const origin& o) {
        return fmt::format("{}: expected {}", where(o, k.name, v), accepted(k));
    }

    std::map<std::string, std::string, std::less<>> given_by_; // key → where it was last set
};

std::string config_loader::assign(const key_descriptor& k, bool& out, const toml::node& v,
                                  const origin& o) {
    const auto* b = v.as_boolean();
    if (!b) return refuse(k, v, o);
    out = b->get();
    return {};
}

template <typename Integer>
std::string config_loader::assign(const key_descriptor& k, Integer& out, const toml::node& v,
                                  const origin& o) {
    std::optional<uint64_t> n;
    if (const auto* i = v.as_integer(); i && i->get() >= 0) n = static_cast<uint64_t>(i->get());
    if (const auto* s = v.as_string(); s && k.size) n = parse_size(s->get());
    if (!n || *n < k.min || *n > k.max || (k.power_of_two && (*n & (*n - 1)) != 0))
        return refuse(k, v, o);
    out = static_cast<Integer>(*n);
    return {};
}

std::string config_loader::assign(const key_descriptor& k, std::string& out, const toml::node& v,
                                  const origin& o) {
    auto text = text_of(v, o);
    if (!text) return refuse(k, v, o);
    if (!k.choices.empty()) {
        bool listed = false;
        for (size_t at = 0; at < k.choices.size();) {
            size_t end = std::min(k.choices.find(", ", at), k.choices.size());
            listed = listed || k.choices.substr(at, end - at) == *text;
            at = end + 2;
        }
        if (!listed) return refuse(k, v, o);
    }
    if (k.check && !k.check(*text)) return refuse(k, v, o);
    out = std::move(*text);
    return {};
}

std::string config_loader::assign(const key_descriptor& k, std::vector<std::string>& out,
                                  const toml::node& v, const origin& o) {
    std::vector<std::string> list;
    if (const auto* array = v.as_array()) {
        for (const auto& element : *array) {
            const auto* s = element.as_string();
            if (!s) return refuse(k, v, o);
            list.push_back(s->get());
        }
    } else if (auto text = text_of(v, o)) {
        list.push_back(std::move(*text)); // one string where a list is expected
    } else {
        return refuse(k, v, o);
    }
    if (k.non_empty_list && list.empty()) return refuse(k, v, o);
    for (const auto& element : list)
        if (k.check && !k.check(element)) {
            if (list.size() == 1) return refuse(k, v, o);
            return fmt::format("{}: bad element \"{}\"; expected {}", where(o, k.name, v), element,
                               accepted(k));
        }
    out = std::move(list);
    return {};
}

// A [sink.kafka.properties] table. Unquoted dotted keys (linger.ms = "5") arrive as nested
// tables and are joined back with dots.
std::string config_loader::assign(const key_descriptor& k, std::map<std::string, std::string>&,
                                  const toml::node& v, const origin& o) {
    const auto* table = v.as_table();
    if (!table) return refuse(k, v, o);
    return assign_properties(*table, "", o);
}

std::string config_loader::assign_properties(const toml::table& table, const std::string& prefix,
                                             const origin& o) {
    for (auto&& [key, value] : table) {
        std::string name =
            prefix.empty() ? std::string(key.str()) : fmt::format("{}.{}", prefix, key.str());
        std::string error = value.is_table() ? assign_properties(*value.as_table(), name, o)
                                             : assign_property(name, value, o);
        if (!error.empty()) return error;
    }
    return {};
}

// Property values are strings for librdkafka; a TOML number or boolean is taken as its text.
std::string config_loader::assign_property(const std::string& name, const toml::node& v,
                                           const origin& o) {
    std::string key = fmt::format("{}.{}", properties_key, name);
    auto text = text_of(v, o);
    if (!text && (v.is_integer() || v.is_floating_point() || v.is_boolean())) text = toml_text(v);
    if (!text || name.empty())
        return fmt::format("{}: expected a librdkafka property name and a string value",
                           where(o, key, v));
    cfg.sink.kafka.properties[name] = std::move(*text);
    return {};
}

bool config_loader::apply(std::string_view name, const toml::node& v, const origin& o,
                          std::string& error) {
    if (const auto* k = find_key(name)) {
        error = std::visit([&](auto target) { return assign(*k, target(cfg), v, o); }, k->target);
        if (error.empty()) given_by_[std::string(name)] = where(o, name, v);
        return true;
    }
    if (name.size() > properties_key.size() + 1 && name.starts_with(properties_key) &&
        name[properties_key.size()] == '.') {
        error = assign_property(std::string(name.substr(properties_key.size() + 1)), v, o);
        return true;
    }
    return false;
}

std::string config_loader::apply_table(const toml::table& table, const std::string& section,
                                       const origin& o) {
    for (auto&& [key, value] : table) {
        std::string name =
            section.empty() ? std::string(key.str()) : fmt::format("{}.{}", section, key.str());
        std::string error;
        if (apply(name, value, o, error)) {
            if (!error.empty()) return error;
        } else if (is_section(name)) {
            if (!value.is_table())
                return fmt::format("{}: expected a table [{}]", where(o, name, value), name);
            if (error = apply_table(*value.as_table(), name, o); !error.empty()) return error;
        } else {
            // Name the first leaf of an unknown table: [sever] listen = … is "sever.listen".
            for (const toml::node* n = &value; n->is_table() && !n->as_table()->empty();) {
                auto first = n->as_table()->begin();
                name += fmt::format(".{}", first->first.str());
                n = &first->second;
            }
            return fmt::format("unknown key \"{}\" in {}{}", name, o.label,
                               suggestion(name, spell_key));
        }
    }
    return {};
}

// "x = VALUE" parsed as TOML; text that is not a TOML value is a bare string.
toml::table parse_text_value(const std::string& text) {
    try {
        toml::table parsed = toml::parse("x = " + text);
        if (parsed.size() == 1 && parsed.contains("x")) return parsed;
    } catch (const toml::parse_error&) {
    }
    return toml::table{{"x", text}};
}

bool is_yes(std::string_view v) {
    std::string lower(v);
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    return lower == "true" || lower == "1" || lower == "yes";
}

bool is_no(std::string_view v) {
    std::string lower(v);
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    return lower == "false" || lower == "0" || lower == "no" || lower.empty();
}

// The environment: NanoTrack's variables first (plain text, not TOML), then PIXELRING_* over
// them. Any other PIXELRING_* variable is an error, so a typo is not silently ignored.
std::string config_loader::apply_environment(const char* const* env) {
    std::map<std::string, std::string, std::less<>> vars; // first definition wins, as getenv
    for (; env && *env; ++env) {
        std::string_view entry(*env);
        size_t eq = entry.find('=');
        if (eq != std::string_view::npos)
            vars.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    // Applies a NanoTrack alias: the message names the variable as the operator typed it.
    auto alias = [&](std::string_view var, std::string_view key, const toml::node& value) {
        const std::string& typed = vars.find(var)->second;
        std::string error;
        apply(key, value, {fmt::format("{}={}", var, typed), true, typed}, error);
        return error;
    };
    std::string error;
    if (auto it = vars.find("DB_TYPE"); it != vars.end()) {
        if (it->second != "flatfile")
            return fmt::format("DB_TYPE={}: only DB_TYPE=flatfile (sink.type = \"file\") is "
                               "supported; set sink.type for the other sinks",
                               it->second);
        if (error = alias("DB_TYPE", "sink.type", toml::value<std::string>("file")); !error.empty())
            return error;
    }
    // true/1/yes switches the feature off; false/0/no or empty leaves it as it is.
    static constexpr std::tuple<std::string_view, std::string_view, std::string_view> switches[] = {
        {"DISABLE_IP_TRACKING", "privacy.ip", "\"none\""},
        {"DISABLE_USER_AGENT_TRACKING", "privacy.user_agent", "false"}};
    for (auto [var, key, off_value] : switches) {
        auto it = vars.find(var);
        if (it == vars.end() || is_no(it->second)) continue;
        if (!is_yes(it->second))
            return fmt::format("{}={}: expected true, 1 or yes (or false, 0, no)", var, it->second);
        toml::table parsed = parse_text_value(std::string(off_value));
        if (error = alias(var, key, *parsed.get("x")); !error.empty()) return error;
    }
    static constexpr std::pair<std::string_view, std::string_view> renames[] = {
        {"DASHBOARD_USER", "admin.user"},
        {"DASHBOARD_PASSWORD", "admin.password"},
        {"TRACKING_IMAGE", "tracking.image"}};
    for (auto [var, key] : renames) {
        auto it = vars.find(var);
        if (it == vars.end()) continue;
        if (error = alias(var, key, toml::value<std::string>(it->second)); !error.empty())
            return error;
    }

    for (const auto& [var, value] : vars) {
        if (!var.starts_with(env_prefix)) continue;
        std::string key;
        for (const auto& k : keys)
            if (env_name(k.name) == var) key = k.name;
        if (key.empty() && var.starts_with(env_properties_prefix)) {
            // PIXELRING_SINK_KAFKA_PROPERTIES_LINGER_MS → sink.kafka.properties.linger.ms
            key = fmt::format("{}.", properties_key);
            for (char ch : std::string_view(var).substr(env_properties_prefix.size()))
                key += ch == '_' ? '.' : static_cast<char>(std::tolower((unsigned char)ch));
        }
        toml::table parsed = parse_text_value(value);
        if (!apply(key, *parsed.get("x"), {fmt::format("{}={}", var, value), true, value}, error))
            return fmt::format("unknown environment variable {}{}", var, suggestion(var, env_name));
        if (!error.empty()) return error;
    }
    return {};
}

std::string config_loader::apply_set(const std::string& argument) {
    size_t eq = argument.find('=');
    if (eq == std::string::npos)
        return fmt::format("--set {}: expected KEY=VALUE, e.g. --set server.workers=4", argument);
    std::string key = argument.substr(0, eq);
    std::string value = argument.substr(eq + 1);
    origin o{fmt::format("--set {}", argument), true, value};
    toml::table parsed = parse_text_value(value);
    std::string error;
    if (!apply(key, *parsed.get("x"), o, error))
        return fmt::format("unknown key \"{}\" in {}{}", key, o.label, suggestion(key, spell_key));
    return error;
}

// Defaults that depend on other keys or on the machine, and checks across keys.
std::string config_loader::resolve() {
    if (cfg.server.workers == 0) { // not given: the 1..1024 range refuses 0
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.server.workers = static_cast<uint32_t>(std::clamp<long>(cpus, 1, 1024));
    }
    if (cfg.collector.name.empty()) {
        char host[HOST_NAME_MAX + 1] = {};
        if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
            std::strcpy(host, "localhost");
        cfg.collector.name = host;
    }
    for (const auto& k : keys) { // a --print-config file may be used with secrets from env
        const auto* secret = std::get_if<std::string& (*)(config&)>(&k.target);
        if (k.secret && secret && (*secret)(cfg) == redacted)
            return fmt::format("{}: this is the placeholder --print-config prints for a secret; "
                               "give the secret itself",
                               given_by_.find(k.name)->second);
    }
    auto type_given = given_by_.find("sink.type");
    if (type_given == given_by_.end())
        cfg.sink.type = cfg.sink.kafka.brokers.empty() ? "file" : "kafka";
    else if (cfg.sink.type == "kafka" && cfg.sink.kafka.brokers.empty())
        return fmt::format("{}: sink.kafka.brokers is empty; the kafka sink needs at least one "
                           "broker (e.g. --set sink.kafka.brokers=localhost:9092)",
                           type_given->second);
    return {};
}

std::string read_file(const std::string& path, std::string& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fmt::format("--config {}: {}", path, std::strerror(errno));
    char buffer[65536];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
        out.append(buffer, static_cast<size_t>(n));
    int read_errno = errno;
    ::close(fd);
    if (n < 0) return fmt::format("--config {}: {}", path, std::strerror(read_errno));
    return {};
}

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        switch (ch) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\r':
            out += "\\r";
            break;
        default:
            if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
                out += fmt::format("\\u{:04X}", static_cast<unsigned char>(ch));
            else
                out += ch;
        }
    }
    return out + "\"";
}

bool parse_port(std::string_view text, uint16_t& port) {
    if (text.empty() || text.size() > 5) return false;
    unsigned value = 0;
    for (char ch : text) {
        if (ch < '0' || ch > '9') return false;
        value = value * 10 + static_cast<unsigned>(ch - '0');
    }
    if (value > 65535) return false;
    port = static_cast<uint16_t>(value);
    return true;
}

bool is_listen_address(const std::string& text) {
    sockaddr_storage address;
    unsigned len;
    return parse_listen_address(text, address, len);
}

bool is_cidr(const std::string& text) {
    size_t slash = text.find('/');
    std::string address = text.substr(0, slash);
    unsigned char bytes[sizeof(in6_addr)];
    unsigned max_prefix = 32;
    if (inet_pton(AF_INET, address.c_str(), bytes) != 1) {
        if (inet_pton(AF_INET6, address.c_str(), bytes) != 1) return false;
        max_prefix = 128;
    }
    if (slash == std::string::npos) return true; // one host
    std::string_view prefix = std::string_view(text).substr(slash + 1);
    uint16_t bits;
    return prefix.size() <= 3 && parse_port(prefix, bits) && bits <= max_prefix;
}

} // namespace

std::string load_config(const config_sources& sources, config& out) {
    config_loader loader;
    if (!sources.file.empty()) {
        std::string text;
        if (auto error = read_file(sources.file, text); !error.empty()) return error;
        toml::table table;
        try {
            table = toml::parse(text, std::string_view(sources.file));
        } catch (const toml::parse_error& e) {
            return fmt::format("{}:{}:{}: {}", sources.file, e.source().begin.line,
                               e.source().begin.column, e.description());
        }
        if (auto error = loader.apply_table(table, "", {sources.file, false, ""}); !error.empty())
            return error;
    }
    if (auto error = loader.apply_environment(sources.env); !error.empty()) return error;
    for (const auto& argument : sources.sets)
        if (auto error = loader.apply_set(argument); !error.empty()) return error;
    if (auto error = loader.resolve(); !error.empty()) return error;
    out = std::move(loader.cfg);
    return {};
}

std::string to_toml(const config& cfg) {
    config copy = cfg; // the field accessors take a mutable config
    std::string out =
        "# pixelring configuration: the effective values (pixelring --print-config).\n"
        "# admin.password, privacy.visitor_secret and redirect.secret are printed as\n"
        "# \"<redacted>\" when set: this output restores every other key, not the secrets.\n";
    std::string_view section;
    for (const auto& k : keys) {
        std::string_view name = k.name;
        bool is_table = name == properties_key;
        std::string_view key_section = is_table ? name : name.substr(0, name.rfind('.'));
        if (key_section != section) {
            section = key_section;
            out += fmt::format("\n[{}]\n", section);
        }
        out += fmt::format("# {}\n", k.help);
        std::string leaf(name.substr(name.rfind('.') + 1));
        auto print = [&](const auto& value) {
            using value_type = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<value_type, bool>) {
                out += fmt::format("{} = {}\n", leaf, value);
            } else if constexpr (std::is_integral_v<value_type>) {
                out += fmt::format("{} = {}\n", leaf, value);
            } else if constexpr (std::is_same_v<value_type, std::string>) {
                bool hide = k.secret && !value.empty();
                out += fmt::format("{} = {}\n", leaf, quote(hide ? redacted : value));
            } else if constexpr (std::is_same_v<value_type, std::vector<std::string>>) {
                std::vector<std::string> quoted;
                for (const auto& element : value)
                    quoted.push_back(quote(element));
                out += fmt::format("{} = [{}]\n", leaf, fmt::join(quoted, ", "));
            } else {
                for (const auto& [property, text] : value)
                    out += fmt::format("{} = {}\n", quote(property), quote(text));
            }
        };
        std::visit([&](auto target) { print(target(copy)); }, k.target);
    }
    return out;
}

bool parse_listen_address(const std::string& text, sockaddr_storage& out, unsigned& len) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    std::string host = text.substr(0, colon);
    uint16_t port;
    if (!parse_port(std::string_view(text).substr(colon + 1), port)) return false;
    std::memset(&out, 0, sizeof out);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
        if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6->sin6_addr) != 1)
            return false;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof(sockaddr_in6);
        return true;
    }
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    std::string lower = host;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == "localhost") {
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK); // no resolver: localhost is 127.0.0.1
    } else if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) {
        return false;
    }
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
}

} // namespace pixelring
