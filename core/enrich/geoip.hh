#pragma once
// GeoIP enrichment (the event's country, region, city, asn, as_org): a client address looked up in
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
#include <vector>

#include "core/config/config.hh"
// ip_address; geo_fields, the event members a lookup fills.
#include "core/base/address.hh"
#include "core/event/enrichment_fields.hh"

struct MMDB_s; // <maxminddb.h>, declared at global scope as there

namespace pixelring {

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
    // On error this object is unchanged. Start-up only: reads files, allocates
    // (besides libmaxminddb's own: two 256 KiB tables per database, see search_tree).
    std::string open(const geoip_config& cfg);

    bool has_city() const noexcept { return city_ != nullptr; }
    bool has_asn() const noexcept { return asn_ != nullptr; }

    // The fields for client (family 4 or 6, network byte order). An IPv4-mapped IPv6 address
    // (::ffff:a.b.c.d) is looked up as the IPv4 address. Unknown family, an address in no
    // network, an IPv6 address in an IPv4-only database: empty fields; a damaged record: the
    // fields read before the damage (never a read outside the data section).
    // Thread-safe, no allocation, no system call: a walk of our own over the search tree
    // (IPv4 from the node where the IPv4 subtree starts, found once at open) and a reader of
    // our own that takes the fields from the record in one pass (core/enrich/geoip.cc says why not
    // MMDB_lookup_sockaddr and MMDB_aget_value; MMDB_get_value would calloc on every call
    // and MMDB_get_entry_data_list allocates a list). About 40 to 140 ns on the test
    // databases with both open (bench/bench_enrichment.cc); a large production database
    // adds cache misses in the tree walk.
    geo_fields lookup(const ip_address& client) const noexcept;

private:
    struct mmdb_closer {
        void operator()(MMDB_s* db) const noexcept;
    };
    using mmdb_ptr = std::unique_ptr<MMDB_s, mmdb_closer>;

    // What the tree walk needs of one open database, copied out of its MMDB_s at open; the
    // pointers are into the database's mapping, which the MMDB_s (on the heap) owns.
    struct search_tree {
        const uint8_t* nodes = nullptr; // node i at nodes + i * node_bytes
        uint32_t node_count = 0;
        uint32_t ipv4_start = 0;  // the node reached by 96 zero bits (IPv6 databases), or 0
        uint16_t ipv4_depth = 0;  // bits walked to reach ipv4_start: 96, or fewer if it is a leaf
        uint16_t record_bits = 0; // 24, 28 or 32
        uint16_t ip_version = 0;  // 4 or 6
        const uint8_t* data = nullptr; // data section (after the 16-byte separator)
        uint32_t data_size = 0;
        // The record reached by the first prefix_bits bits of an IPv4 address (index: those
        // bits) and of an IPv6 address: the walk starts there, prefix_bits levels down. Built
        // at open; empty when the tree was refused.
        std::vector<uint32_t> ipv4_prefix, ipv6_prefix;
    };
    // The data section offset of the record for address (4 bytes when ipv4, else 16) in t;
    // false when there is none.
    static bool find_record(const search_tree& t, const uint8_t* address, bool ipv4,
                            uint32_t& offset) noexcept;
    static search_tree tree_of(const MMDB_s& db) noexcept;

    mmdb_ptr city_;
    mmdb_ptr asn_;
    search_tree city_tree_;
    search_tree asn_tree_;
};

} // namespace pixelring
