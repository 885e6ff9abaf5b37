// Configuration loading. Every key is described once, in the table of
// core/config/config_keys.cc: its dotted name, where it lives in `config`, what it accepts and a
// one-line meaning. The TOML reader, the environment, --set, to_toml and every error message
// work from that table, so a new key is one line there. Runs once at start-up on the main
// thread; nothing here is shared.
//
// Values from the environment and --set are TOML values ("x = VALUE" is parsed); text that is
// not a TOML value is a bare string. Where a string is expected, text that parses as another
// scalar (a number, a date, true) is taken as typed: PIXELRING_ADMIN_PASSWORD=123456 is the
// string "123456". One string where a list is expected is a list of one, in every source.
// Keys ending in _bytes also take a size string: "64KiB", "16MiB", "10GiB", "1TiB", "1PiB".

#include "core/config/config.hh"

#include "core/base/ascii.hh"

#include <fcntl.h>
#include <limits.h>
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
#include <simdjson.h>
#include <toml++/toml.h>

#include "core/config/config_keys.hh"

namespace pixelring {
namespace {

using detail::accepted;
using detail::env_name;
using detail::env_prefix;
using detail::env_properties_prefix;
using detail::find_key;
using detail::is_section;
using detail::key_descriptor;
using detail::keys;
using detail::parse_size;
using detail::properties_key;
using detail::redacted;
using detail::spell_key;
using detail::suggestion;

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
    std::string assign(const key_descriptor& k, std::vector<tls_certificate_config>& out,
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

// [[tls.certificates]]: tables of cert, key (non-empty strings) and names (a string or an
// array of strings, optional); an element that is not such a table is named by its position.
std::string config_loader::assign(const key_descriptor& k, std::vector<tls_certificate_config>& out,
                                  const toml::node& v, const origin& o) {
    const auto* array = v.as_array();
    if (!array) return refuse(k, v, o);
    std::vector<tls_certificate_config> list;
    for (size_t i = 0; i < array->size(); ++i) {
        const auto* table = (*array)[i].as_table();
        const auto bad = [&](std::string_view what) {
            return fmt::format("{}: certificate {}: {}; expected {}", where(o, k.name, v), i + 1,
                               what, accepted(k));
        };
        if (!table) return bad("not a table");
        tls_certificate_config c;
        for (auto&& [key, value] : *table) {
            const std::string_view name = key.str();
            if (name == "cert" || name == "key") {
                const auto* s = value.as_string();
                if (!s || s->get().empty()) return bad(fmt::format("{} is not a file name", name));
                (name == "cert" ? c.cert : c.key) = s->get();
            } else if (name == "names") {
                if (const auto* one = value.as_string()) {
                    c.names.push_back(one->get());
                } else if (const auto* names = value.as_array()) {
                    for (const auto& n : *names) {
                        const auto* s = n.as_string();
                        if (!s || s->get().empty()) return bad("names holds a non-name");
                        c.names.push_back(s->get());
                    }
                } else {
                    return bad("names is not a string or an array of strings");
                }
            } else {
                return bad(fmt::format("unknown key \"{}\"", name));
            }
        }
        if (c.cert.empty() || c.key.empty()) return bad("cert and key are both required");
        list.push_back(std::move(c));
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
    return ascii_equals_lower(v, "true") || v == "1" || ascii_equals_lower(v, "yes");
}

bool is_no(std::string_view v) {
    return ascii_equals_lower(v, "false") || v == "0" || ascii_equals_lower(v, "no") || v.empty();
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
        if (!simdjson::validate_utf8(it->second.data(), it->second.size()))
            return fmt::format("{}: the value is not valid UTF-8", var);
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
                key += ch == '_' ? '.' : ascii_lower(ch);
        }
        if (!simdjson::validate_utf8(value.data(), value.size()))
            return fmt::format("{}: the value is not valid UTF-8 (configuration text is UTF-8, "
                               "as a TOML file is)",
                               var);
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
    if (!simdjson::validate_utf8(value.data(), value.size()))
        return fmt::format("--set {}: the value is not valid UTF-8 (configuration text is UTF-8, "
                           "as a TOML file is)",
                           key);
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
    if (cfg.tls.cert.empty() != cfg.tls.key.empty())
        return fmt::format("{}: tls.cert and tls.key go together (the certificate chain and its "
                           "key); {} is not set",
                           given_by_.find(cfg.tls.cert.empty() ? "tls.key" : "tls.cert")->second,
                           cfg.tls.cert.empty() ? "tls.cert" : "tls.key");
    if (!cfg.server.tls_listen.empty() && cfg.tls.cert.empty() && cfg.tls.certificates.empty())
        return fmt::format("server.tls_listen is set ({}), so tls.cert and tls.key must name the "
                           "PEM files of the certificate chain and its key (or "
                           "[[tls.certificates]] give them)",
                           given_by_.find("server.tls_listen")->second);
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

namespace {

// Keys whose default is worked out at start (config_loader::resolve) when no source gives
// them: the default file leaves them out, with an example, so that they stay resolved.
struct resolved_example {
    std::string_view key;
    std::string_view example;
};
constexpr resolved_example resolved_examples[] = {
    {"server.workers", "8"},
    {"sink.type", "\"kafka\""},
    {"collector.name", "\"collector-1\""},
    // Not resolved but empty by default, and best written as [[tls.certificates]] tables,
    // which an uncommented "certificates = []" above would clash with.
    {"tls.certificates", "[{ cert = \"/etc/pixelring/tls/b.example/fullchain.pem\", key = "
                         "\"/etc/pixelring/tls/b.example/privkey.pem\" }]"},
};

// to_toml and default_config_toml: every key, grouped by section, after a comment line with
// its meaning. defaults_file: secrets as they are (empty), resolved keys commented out.
std::string toml_document(const config& cfg, std::string out, bool defaults_file) {
    config copy = cfg; // the field accessors take a mutable config
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
        if (defaults_file) {
            auto resolved = std::find_if(std::begin(resolved_examples), std::end(resolved_examples),
                                         [&](const resolved_example& r) { return r.key == name; });
            if (resolved != std::end(resolved_examples)) {
                out += fmt::format("# {} = {}\n", leaf, resolved->example);
                continue;
            }
        }
        auto print = [&](const auto& value) {
            using value_type = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<value_type, bool>) {
                out += fmt::format("{} = {}\n", leaf, value);
            } else if constexpr (std::is_integral_v<value_type>) {
                out += fmt::format("{} = {}\n", leaf, value);
            } else if constexpr (std::is_same_v<value_type, std::string>) {
                bool hide = k.secret && !value.empty() && !defaults_file;
                out += fmt::format("{} = {}\n", leaf, quote(hide ? redacted : value));
            } else if constexpr (std::is_same_v<value_type, std::vector<std::string>>) {
                std::vector<std::string> quoted;
                for (const auto& element : value)
                    quoted.push_back(quote(element));
                out += fmt::format("{} = [{}]\n", leaf, fmt::join(quoted, ", "));
            } else if constexpr (std::is_same_v<value_type, std::vector<tls_certificate_config>>) {
                std::vector<std::string> tables;
                for (const auto& c : value) {
                    std::vector<std::string> names;
                    for (const auto& n : c.names)
                        names.push_back(quote(n));
                    tables.push_back(fmt::format(
                        "{{ cert = {}, key = {}{} }}", quote(c.cert), quote(c.key),
                        names.empty() ? std::string()
                                      : fmt::format(", names = [{}]", fmt::join(names, ", "))));
                }
                out += fmt::format("{} = [{}]\n", leaf, fmt::join(tables, ", "));
            } else {
                for (const auto& [property, text] : value)
                    out += fmt::format("{} = {}\n", quote(property), quote(text));
            }
        };
        std::visit([&](auto target) { print(target(copy)); }, k.target);
    }
    return out;
}

} // namespace

std::string to_toml(const config& cfg) {
    return toml_document(
        cfg,
        "# pixelring configuration: the effective values (pixelring --print-config).\n"
        "# admin.password, privacy.visitor_secret and redirect.secret are printed as\n"
        "# \"<redacted>\" when set: this output restores every other key, not the secrets.\n",
        false);
}

std::string default_config_toml() {
    return toml_document(
        config{},
        "# pixelring configuration (pixelring --write-default-config): every key with its\n"
        "# default value, after a line saying what it means. A commented-out key is worked out\n"
        "# at start when left out (its comment says how); the line shows an example.\n"
        "# Secrets are empty: set them here (keep the file unreadable to others) or in the\n"
        "# environment (PIXELRING_REDIRECT_SECRET, ...). Relative paths are relative to the\n"
        "# working directory: /var/lib/pixelring under systemd. Under systemd the listeners\n"
        "# come from pixelring.socket and pixelring-admin.socket, and server.listen and\n"
        "# admin.listen are used only where no socket is passed.\n"
        "# Precedence: --set, then PIXELRING_* variables, then this file, then the defaults.\n",
        true);
}

} // namespace pixelring
