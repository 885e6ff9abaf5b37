#pragma once
// GeoIP enrichment (DESIGN.md §3 country, region, city, asn): a client address looked up in
// MaxMind-format databases (geoip.city_db, geoip.asn_db) with libmaxminddb. The databases are
// opened once at start-up on the main thread and memory-mapped; afterwards they are
// read-only, so every worker thread may call lookup on the same object at the same time
// (libmaxminddb keeps no mutable state in an MMDB_s after MMDB_open). lookup allocates
// nothing and never blocks except on a page fault into the mapped file.
//
// Call lookup with the address as received, before privacy truncation cuts it to /24 or /48:
// a truncated address can fall into a different network of the database.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.hh"
#include "core/event.hh"

struct MMDB_s; // <maxminddb.h>, declared at global scope as there

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

// The two optional databases. An object with neither open answers every lookup with empty
// fields, so the request path needs no branch on whether GeoIP is configured.
class geoip_databases {
public:
    geoip_databases() noexcept;
    ~geoip_databases();
    geoip_databases(geoip_databases&&) noexcept;
    geoip_databases& operator=(geoip_databases&&) noexcept;
    geoip_databases(const geoip_databases&) = delete;
    geoip_databases& operator=(const geoip_databases&) = delete;

    // Opens cfg.city_db and cfg.asn_db (an empty path leaves that database off) with
    // MMDB_MODE_MMAP. Returns an empty string on success, else one message that names the
    // key, the path and libmaxminddb's reason (plus errno's text when the file could not be
    // read), e.g. `geoip.city_db="/x.mmdb": Error opening the specified MaxMind DB file (No
    // such file or directory); expected a MaxMind DB file (.mmdb) such as GeoLite2-City.mmdb`.
    // Also refused: an ASN-only database as city_db, or a City/Country database without ASN
    // data as asn_db (by the metadata's database_type), which would yield no fields at all.
    // On error this object is unchanged. Start-up only: reads files, allocates.
    std::string open(const geoip_config& cfg);

    bool has_city() const noexcept { return city_ != nullptr; }
    bool has_asn() const noexcept { return asn_ != nullptr; }

    // The fields for client (family 4 or 6, network byte order). An IPv4-mapped IPv6 address
    // (::ffff:a.b.c.d) is looked up as the IPv4 address. Unknown family, an address in no
    // network, an IPv6 address in an IPv4-only database: empty fields; a damaged record: the
    // fields read before the damage (never a read outside the data section).
    // Thread-safe, no allocation, no system call: MMDB_lookup_sockaddr walks the search tree
    // and a reader of our own takes the fields from the record in one pass (core/geoip.cc
    // says why not MMDB_aget_value; MMDB_get_value would calloc on every call and
    // MMDB_get_entry_data_list allocates a list). About 60 to 450 ns on the test databases
    // with both open (tests/geoip_test.cc prints it); a large production database adds
    // cache misses in the tree walk.
    geo_fields lookup(const ip_address& client) const noexcept;

private:
    struct mmdb_closer {
        void operator()(MMDB_s* db) const noexcept;
    };
    using mmdb_ptr = std::unique_ptr<MMDB_s, mmdb_closer>;

    mmdb_ptr city_;
    mmdb_ptr asn_;
};

} // namespace pixelring
