#pragma once
// Internal to core/: the table that describes every configuration key once (its dotted name,
// where it lives in `config`, what it accepts, a one-line meaning), and the lookups, spellings
// and messages derived from it. The loader and to_toml (core/config/config.cc) work from it, so a
// new key is one line in core/config/config_keys.cc. Not for other folders; the names live in
// pixelring::detail. Read-only data; the functions are pure.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config/config.hh"

namespace pixelring::detail {

// Secrets are printed as this by to_toml; load_config refuses it as the final value so that
// --print-config output fed back in never turns the placeholder into a password.
inline constexpr std::string_view redacted = "<redacted>";

// A field of `config`: a function that returns a reference to it.
using field_ref = std::variant<bool& (*)(config&), uint32_t& (*)(config&), uint64_t& (*)(config&),
                               std::string& (*)(config&), std::vector<std::string>& (*)(config&),
                               std::map<std::string, std::string>& (*)(config&),
                               std::vector<tls_certificate_config>& (*)(config&)>;

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

// The one list of keys, in the order and grouping that to_toml prints.
extern const std::span<const key_descriptor> keys;

constexpr std::string_view properties_key = "sink.kafka.properties";
constexpr std::string_view env_prefix = "PIXELRING_";
constexpr std::string_view env_properties_prefix = "PIXELRING_SINK_KAFKA_PROPERTIES_";

// The key with this dotted name, nullptr when there is none.
const key_descriptor* find_key(std::string_view name);

// "server" and "sink.kafka" are sections: a key name starts with them and a dot.
bool is_section(std::string_view name);

// PIXELRING_<KEY>: dots as underscores, upper case (PIXELRING_SERVER_LISTEN).
std::string env_name(std::string_view key);

// The dotted name as it is.
std::string spell_key(std::string_view name);

// " (did you mean X?)" for the closest key, spelled by `spell`, or a pointer to the key list.
std::string suggestion(std::string_view unknown, std::string (*spell)(std::string_view));

// "64KiB" and the like; a plain number in a string is not a size (it would be a quoted integer).
std::optional<uint64_t> parse_size(std::string_view text);

// What a key accepts, for error messages and to_toml's comments.
std::string accepted(const key_descriptor& k);

} // namespace pixelring::detail
