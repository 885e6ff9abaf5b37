#pragma once
// The enrichment members of an event, as the encoder writes them: what a GeoIP lookup
// (core/enrich/geoip.hh) and the agent classification (core/enrich/user_agent.hh) found. The
// types live here, with the event, so that the encoder formats them without depending on the
// lookups; core/enrich fills them. Plain structs and constant strings.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pixelring {

// What the databases know about one address. Every view points into a mapped database and
// stays valid while the geoip_databases that returned it is open (not moved from, not
// destroyed, not reopened). A field the database lacks for the address, or a database that
// is not configured, leaves it empty (asn 0), and the encoder omits it.
struct geo_fields {
    std::string_view country; // country.iso_code: ISO 3166-1 alpha-2, "GB"
    // subdivisions[0].iso_code: the ISO 3166-2 subdivision code without its country prefix,
    // of the largest subdivision ("ENG" for England, "WA" for Washington, "22" for Jilin).
    // The code and not a name: it is short, the same in every language, and what Druid or
    // ClickHouse joins on; "GB"+"ENG" is the full ISO 3166-2 code GB-ENG.
    std::string_view region;
    std::string_view city;   // city.names.en, "London"; UTF-8 as stored ("Linköping")
    uint32_t asn = 0;        // autonomous_system_number; 0 is reserved (RFC 7607), so 0 = unknown
    std::string_view as_org; // autonomous_system_organization, "Telstra Pty Ltd"
};

enum class agent_label : uint8_t { browser, bot, mail_proxy, prefetch, scanner };
enum class device_kind : uint8_t { desktop, mobile, tablet, bot, unknown };

struct agent_info {
    agent_label label = agent_label::browser;
    // Static strings ("Chrome", "Firefox", "Safari", "Edge", "Opera", "Samsung Internet",
    // "Outlook", "Apple Mail", ...; for a mail_proxy the mail service, "Gmail", "Yahoo Mail";
    // for a scanner its vendor), empty when unknown and for bots.
    std::string_view browser;
    // Static strings ("Windows", "macOS", "iOS", "iPadOS", "Android", "Linux", "ChromeOS",
    // "Windows Phone"), empty when unknown, for bots, scanners and server-side mail proxies.
    std::string_view os;
    device_kind device = device_kind::unknown;
};

// "browser", "bot", "mail_proxy", "prefetch", "scanner" — the event's agent values. Inline:
// the encoder sizes and writes them per event.
constexpr std::string_view to_string(agent_label label) noexcept {
    switch (label) {
    case agent_label::browser:
        return "browser";
    case agent_label::bot:
        return "bot";
    case agent_label::mail_proxy:
        return "mail_proxy";
    case agent_label::prefetch:
        return "prefetch";
    case agent_label::scanner:
        return "scanner";
    }
    return "browser";
}

// "desktop", "mobile", "tablet", "bot", "unknown" — the event's device values.
constexpr std::string_view to_string(device_kind device) noexcept {
    switch (device) {
    case device_kind::desktop:
        return "desktop";
    case device_kind::mobile:
        return "mobile";
    case device_kind::tablet:
        return "tablet";
    case device_kind::bot:
        return "bot";
    case device_kind::unknown:
        return "unknown";
    }
    return "unknown";
}

// The enrichment fields of an event (docs/event.md, docs/enrichment.md). The caller (the
// worker) does the lookups — GeoIP, agent classification, the visitor hash, the DNT test —
// and the encoder only formats what it is given; the one thing it works out itself is the
// utm object, a pure scan of the Referer. Views and pointees belong to the caller and must
// stay valid for the max_pixel_event_size and encode_pixel_event calls.
struct pixel_enrichment {
    // The visitor id (visitor_hasher::visitor_id, visitor_id_size hex digits); empty: absent.
    std::string_view visitor;
    // country, region, city, asn, as_org; nullptr, an empty string or asn 0 leaves that member
    // out. Strings are escaped (they are UTF-8 from an external file) and each is cut to
    // max_geo_text_size bytes.
    const geo_fields* geo = nullptr;
    // agent and device always, browser and os when not empty; nullptr leaves all four out.
    const agent_info* agent = nullptr;
    // Tracking was refused (tracking_refused) and privacy.honor_dnt is on: "dnt":true and no
    // visitor, ip or ua whatever the rest of this struct and encode_options say.
    bool dnt = false;
    // The utm object from the Referer's query (extract_utm); false leaves it out.
    bool utm = true;
};

// Longer country, region, city and as_org strings are cut to this many bytes (at a UTF-8
// character boundary), so that the event's size bound does not depend on the database file.
// Real names are far shorter: the longest English name in the MaxMind City test database is
// 27 bytes, the longest AS organization in the ASN test database 57.
inline constexpr size_t max_geo_text_size = 128;

} // namespace pixelring
