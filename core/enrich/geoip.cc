#include "core/enrich/geoip.hh"

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <maxminddb.h>

namespace pixelring {
namespace {

// ---- record reader -----------------------------------------------------------------------
//
// Reads the wanted fields out of a record in one pass. libmaxminddb's MMDB_aget_value walks
// the record from its start once per path and follows every pointer it passes over to skip
// the map or array behind it; on the test City database that took 170 ns for
// country.iso_code and 415 ns for subdivisions.0.iso_code (the last key), against a 300 ns
// budget for the whole lookup. (MMDB_get_value is worse: it callocs its path array on every
// call.) This reader visits each value once, follows a pointer only where it reads a key or
// looks inside a wanted value, steps over a pointer in O(1), skips unwanted containers with
// a flat loop, and stops once every wanted field was seen. Positions travel by value, not by
// reference, so that they stay in registers: passing them through memory cost more than the
// decoding itself. MaxMind DB format 2.0, "Output Data Section"; offsets are relative to
// MMDB_s::data_section, which libmaxminddb sets to the byte after the 16-byte separator.
//
// Hostile input: every read is checked against the data section's size, a pointer to a
// pointer is refused (the format forbids it), nesting is only as deep as the fixed readers
// below, and skipping never follows pointers, so the work is linear in the record's bytes.

enum value_type : uint8_t {
    k_corrupt = 0, // not a type of the format: reading failed
    k_pointer = 1,
    k_utf8_string = 2,
    k_uint16 = 5,
    k_uint32 = 6,
    k_map = 7,
    k_uint64 = 9,
    k_array = 11,
    k_boolean = 14,
};

// A position after corrupt data. The data section holds at most UINT32_MAX bytes, so only a
// value ending exactly at the end of a 4 GiB section would be taken for corrupt.
constexpr uint32_t k_bad = UINT32_MAX;

// One value, found through at most one pointer.
struct value_at {
    uint8_t type = k_corrupt;
    bool via_pointer = false;
    uint32_t size = 0;     // bytes of a scalar, pairs of a map, items of an array
    uint32_t payload = 0;  // the scalar's bytes; a container's first pair or item
    uint32_t next = k_bad; // past a scalar or a pointer; a container's first child otherwise
};

class record_reader {
public:
    explicit record_reader(const MMDB_s& db) noexcept
        : data_(db.data_section), size_(db.data_section_size) {}

    // The value at pos, through one pointer.
    [[gnu::always_inline]] value_at value(uint32_t pos) const noexcept {
        value_at v = header(pos);
        if (v.type != k_pointer) return v;
        const uint32_t next = v.next;
        v = header(v.payload);
        if (v.type == k_pointer) return {};
        v.via_pointer = true;
        v.next = next;
        return v;
    }

    std::string_view text(const value_at& v) const noexcept {
        return {reinterpret_cast<const char*>(data_ + v.payload), v.size};
    }

    // The position after count values starting at pos, nested containers included, without
    // following pointers: a flat loop over headers with a count of values still to pass.
    uint32_t skip(uint32_t pos, uint64_t count = 1) const noexcept {
        uint64_t p = pos;
        while (count != 0) {
            --count;
            if (p >= size_) return k_bad;
            const uint8_t control = data_[p++];
            unsigned type = control >> 5;
            if (type == k_pointer) {
                p += (control >> 3 & 3u) + 1;
                continue;
            }
            if (type == 0) {
                if (p >= size_) return k_bad;
                type = 7u + data_[p++];
            }
            uint64_t size = control & 0x1Fu;
            if (size >= 29) {
                const auto extra = static_cast<unsigned>(size - 28);
                if (p + extra > size_) return k_bad;
                size = long_size(static_cast<uint32_t>(p), extra);
                p += extra;
            }
            if (type == k_map) {
                count += 2 * size;
            } else if (type == k_array) {
                count += size;
            } else if (type != k_boolean) {
                p += size;
            }
        }
        return p <= size_ ? static_cast<uint32_t>(p) : k_bad;
    }

    // The position after the container v, whose children from child on were not yet read:
    // skips the remaining values, unless they sit behind a pointer, which v.next passed.
    uint32_t finish(const value_at& v, uint32_t child, uint64_t remaining) const noexcept {
        if (v.via_pointer) return v.next;
        return child == k_bad ? k_bad : skip(child, remaining);
    }

    // The string under key in the map at pos into out (left alone when absent or not a
    // string); returns the position after the map.
    uint32_t read_member(uint32_t pos, std::string_view key, std::string_view& out) const noexcept {
        const value_at map = value(pos);
        if (map.type != k_map) return skip(pos);
        uint32_t p = map.payload;
        for (uint32_t i = 0; i < map.size; ++i) {
            const value_at k = value(p);
            if (k.type != k_utf8_string) return k_bad;
            if (text(k) == key) {
                const value_at v = value(k.next);
                if (v.type == k_utf8_string) out = text(v);
                return finish(map, skip(k.next), 2ull * (map.size - i - 1));
            }
            p = skip(k.next);
            if (p == k_bad) return k_bad;
        }
        return finish(map, p, 0);
    }

    // An unsigned number that fits 32 bits, whatever width the writer chose; else 0.
    uint32_t number(const value_at& v) const noexcept {
        if ((v.type != k_uint16 && v.type != k_uint32 && v.type != k_uint64) || v.size > 8)
            return 0;
        uint64_t n = 0;
        for (uint32_t i = 0; i < v.size; ++i) // big-endian, leading zero bytes left out
            n = n << 8 | data_[v.payload + i];
        return n <= UINT32_MAX ? static_cast<uint32_t>(n) : 0;
    }

private:
    // A size that did not fit the control byte: 1 to 3 more bytes, biased per the format.
    uint64_t long_size(uint32_t pos, unsigned extra) const noexcept {
        static constexpr uint32_t bias[] = {0, 29, 285, 65821};
        uint32_t n = 0;
        for (unsigned i = 0; i < extra; ++i)
            n = n << 8 | data_[pos + i];
        return uint64_t{n} + bias[extra];
    }

    // The control byte(s) at pos, without following a pointer (a pointer's payload is its
    // target). A scalar's bytes are checked to lie inside the data section.
    [[gnu::always_inline]] value_at header(uint32_t pos) const noexcept {
        value_at v;
        if (pos >= size_) return v;
        const uint8_t control = data_[pos++];
        unsigned type = control >> 5;
        if (type == k_pointer) {
            const unsigned extra = (control >> 3 & 3u) + 1;
            if (extra > size_ - pos) return v;
            uint32_t target = extra == 4 ? 0 : control & 7u;
            for (unsigned i = 0; i < extra; ++i)
                target = target << 8 | data_[pos + i];
            static constexpr uint32_t bias[] = {0, 0, 2048, 526336, 0};
            target += bias[extra]; // cannot wrap: target < 2^27 whenever bias is not 0
            if (target >= size_) return v;
            v.type = k_pointer;
            v.payload = target;
            v.next = pos + extra;
            return v;
        }
        if (type == 0) { // extended: the type is 7 + the next byte
            if (pos >= size_) return v;
            type = 7u + data_[pos++];
        }
        uint64_t size = control & 0x1Fu;
        if (size >= 29) {
            const auto extra = static_cast<unsigned>(size - 28);
            if (extra > size_ - pos) return v;
            size = long_size(pos, extra);
            pos += extra;
        }
        const bool container = type == k_map || type == k_array;
        const uint64_t bytes = container || type == k_boolean ? 0 : size;
        if (bytes > size_ - pos || type > 0xFF) return v;
        v.type = static_cast<uint8_t>(type);
        v.size = static_cast<uint32_t>(size);
        v.payload = pos;
        v.next = static_cast<uint32_t>(pos + bytes);
        return v;
    }

    const uint8_t* data_;
    uint32_t size_;
};

// country.iso_code, subdivisions[0].iso_code and city.names.en, in one pass over the record.
void read_location(const record_reader& r, uint32_t pos, geo_fields& out) noexcept {
    const value_at top = r.value(pos);
    if (top.type != k_map) return;
    uint32_t p = top.payload;
    int wanted = 3;
    for (uint32_t i = 0; i < top.size && wanted > 0 && p != k_bad; ++i) {
        const value_at k = r.value(p);
        if (k.type != k_utf8_string) return;
        const std::string_view key = r.text(k);
        p = k.next;
        if (key == "country") {
            --wanted;
            p = r.read_member(p, "iso_code", out.country);
        } else if (key == "city") {
            --wanted;
            // city: {"geoname_id": ..., "names": {"en": ...}}
            const value_at city = r.value(p);
            if (city.type != k_map) {
                p = r.skip(p);
                continue;
            }
            uint32_t c = city.payload;
            uint64_t left = 2ull * city.size;
            for (uint32_t j = 0; j < city.size && c != k_bad; ++j) {
                const value_at name = r.value(c);
                if (name.type != k_utf8_string) return;
                left -= 2;
                if (r.text(name) == "names") {
                    c = r.read_member(name.next, "en", out.city);
                    break;
                }
                c = r.skip(name.next);
            }
            p = r.finish(city, c, left);
        } else if (key == "subdivisions") {
            --wanted;
            const value_at list = r.value(p);
            if (list.type != k_array || list.size == 0) {
                p = r.skip(p);
                continue;
            }
            const uint32_t after_first = r.read_member(list.payload, "iso_code", out.region);
            p = r.finish(list, after_first, list.size - 1);
        } else {
            p = r.skip(p);
        }
    }
}

// autonomous_system_number and autonomous_system_organization.
void read_as(const record_reader& r, uint32_t pos, geo_fields& out) noexcept {
    const value_at top = r.value(pos);
    if (top.type != k_map) return;
    uint32_t p = top.payload;
    int wanted = 2;
    for (uint32_t i = 0; i < top.size && wanted > 0 && p != k_bad; ++i) {
        const value_at k = r.value(p);
        if (k.type != k_utf8_string) return;
        const std::string_view key = r.text(k);
        if (key == "autonomous_system_number") {
            --wanted;
            out.asn = r.number(r.value(k.next));
        } else if (key == "autonomous_system_organization") {
            --wanted;
            const value_at v = r.value(k.next);
            if (v.type == k_utf8_string) out.as_org = r.text(v);
        }
        p = r.skip(k.next);
    }
}

// ---- search tree -------------------------------------------------------------------------

// Levels of the tree that a table built at open replaces: 2^16 records of 4 bytes per table,
// one for IPv4 and one for IPv6, 512 KiB per database. The walk is a chain of dependent
// loads (about 1.6 ns a level on the test databases, more where a large database misses the
// cache); the table turns its first 16 levels into one load.
constexpr unsigned prefix_bits = 16;
//
// Our own walk instead of MMDB_lookup_sockaddr, which took 70 % of a lookup (perf, test
// databases): it reads every node through a function pointer chosen by the record size and
// re-checks each node's bounds. Here the record size picks one of three loops once per
// lookup, a node's child is read without a branch on the bit, and the bounds are checked once
// at open (node_count * node bytes lies before the data section: libmaxminddb's MMDB_open
// verifies the search tree size against the file). MaxMind DB format 2.0, "Search Tree
// Section": node i is 2 records of record_bits; a record below node_count is a node, equal to
// node_count means no data, above it points into the data section at record - node_count - 16.

// The left (bit 0) or right (bit 1) record of the node at p.
template <unsigned bits>
[[gnu::always_inline]] inline uint32_t child(const uint8_t* p, unsigned bit) noexcept {
    if constexpr (bits == 24) {
        p += 3 * bit;
        return uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2];
    } else if constexpr (bits == 32) {
        p += 4 * bit;
        return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
    } else { // 28: left = high nibble of byte 3 + bytes 0-2, right = low nibble + bytes 4-6
        const uint8_t* q = p + 4 * bit;
        const uint32_t high = bit ? p[3] & 0x0Fu : p[3] >> 4;
        return high << 24 | uint32_t{q[0]} << 16 | uint32_t{q[1]} << 8 | q[2];
    }
}

// The record reached from node by the bits [from, to) of address (big-endian bit order).
template <unsigned bits>
uint32_t walk(const uint8_t* nodes, uint32_t node_count, uint32_t node, const uint8_t* address,
              unsigned from, unsigned to) noexcept {
    constexpr unsigned node_bytes = bits / 4;
    for (unsigned i = from; i < to && node < node_count; ++i) {
        const unsigned bit = address[i >> 3] >> (7 - (i & 7)) & 1u;
        node = child<bits>(nodes + size_t{node} * node_bytes, bit);
    }
    return node;
}

bool contains(std::string_view haystack, std::string_view needle) noexcept {
    return haystack.find(needle) != std::string_view::npos;
}

enum class db_role { city, asn };

// Opens path for key into out (the caller closes it with MMDB_close), or returns the message
// that says why not. A failed MMDB_open has already freed what it allocated.
std::string open_database(std::string_view key, const std::string& path, db_role role,
                          std::unique_ptr<MMDB_s>& out) {
    auto db = std::make_unique<MMDB_s>();
    errno = 0;
    const int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, db.get());
    const int saved_errno = errno;
    const char* const example = role == db_role::city ? "GeoLite2-City.mmdb" : "GeoLite2-ASN.mmdb";
    if (status != MMDB_SUCCESS) {
        std::string reason = MMDB_strerror(status);
        if ((status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) && saved_errno != 0) {
            reason += fmt::format(" ({})", std::strerror(saved_errno));
        }
        return fmt::format("{}=\"{}\": {}; expected a MaxMind DB file (.mmdb) such as {}", key,
                           path, reason, example);
    }
    // A swapped pair of paths would open fine and then never produce a field: refuse it.
    const std::string_view type =
        db->metadata.database_type != nullptr ? db->metadata.database_type : "";
    const bool has_location = contains(type, "City") || contains(type, "Country");
    const bool has_as = contains(type, "ASN") || contains(type, "ISP");
    const bool wrong = role == db_role::city ? has_as && !has_location : has_location && !has_as;
    if (wrong) {
        std::string error =
            fmt::format("{}=\"{}\": database type \"{}\" has no {} data; expected "
                        "a database such as {}",
                        key, path, type, role == db_role::city ? "location" : "ASN", example);
        MMDB_close(db.get()); // frees the text type points to
        return error;
    }
    out = std::move(db);
    return {};
}

} // namespace

void geoip_databases::mmdb_closer::operator()(MMDB_s* db) const noexcept {
    MMDB_close(db);
    delete db;
}

geoip_databases::geoip_databases() noexcept = default;
geoip_databases::~geoip_databases() = default;
geoip_databases::geoip_databases(geoip_databases&&) noexcept = default;
geoip_databases& geoip_databases::operator=(geoip_databases&&) noexcept = default;

std::string geoip_databases::open(const geoip_config& cfg) {
    // Opened into locals first, so that an error leaves *this as it was (and closes a city
    // database that opened before the ASN one failed).
    mmdb_ptr city;
    mmdb_ptr asn;
    if (!cfg.city_db.empty()) {
        std::unique_ptr<MMDB_s> db;
        std::string error = open_database("geoip.city_db", cfg.city_db, db_role::city, db);
        if (!error.empty()) return error;
        city.reset(db.release());
    }
    if (!cfg.asn_db.empty()) {
        std::unique_ptr<MMDB_s> db;
        std::string error = open_database("geoip.asn_db", cfg.asn_db, db_role::asn, db);
        if (!error.empty()) return error;
        asn.reset(db.release());
    }
    city_tree_ = city ? tree_of(*city) : search_tree{};
    asn_tree_ = asn ? tree_of(*asn) : search_tree{};
    city_ = std::move(city);
    asn_ = std::move(asn);
    return {};
}

geoip_databases::search_tree geoip_databases::tree_of(const MMDB_s& db) noexcept {
    search_tree t;
    // Refused (record_bits 0: every lookup finds nothing) unless the tree lies before the data
    // section, which MMDB_open checks too; the walk relies on it.
    const uint16_t bits = db.metadata.record_size;
    const uint64_t tree_bytes = uint64_t{db.metadata.node_count} * bits / 4;
    if ((bits != 24 && bits != 28 && bits != 32) || db.data_section < db.file_content ||
        tree_bytes > static_cast<uint64_t>(db.data_section - db.file_content))
        return t;
    t.nodes = db.file_content;
    t.node_count = db.metadata.node_count;
    t.record_bits = db.metadata.record_size;
    t.ip_version = db.metadata.ip_version;
    t.data = db.data_section;
    t.data_size = db.data_section_size;
    if (t.ip_version == 6) { // follow 96 zero bits, as libmaxminddb's find_ipv4_start_node
        static constexpr uint8_t zeros[16] = {};
        uint32_t node = 0;
        unsigned depth = 0;
        for (; depth < 96 && node < t.node_count; ++depth) {
            const uint32_t next =
                t.record_bits == 24   ? walk<24>(t.nodes, t.node_count, node, zeros, 0, 1)
                : t.record_bits == 28 ? walk<28>(t.nodes, t.node_count, node, zeros, 0, 1)
                                      : walk<32>(t.nodes, t.node_count, node, zeros, 0, 1);
            node = next;
        }
        t.ipv4_start = node;
        t.ipv4_depth = static_cast<uint16_t>(depth);
    }
    const auto walk_from = [&](uint32_t node, const uint8_t* address, unsigned from, unsigned to) {
        switch (t.record_bits) {
        case 24:
            return walk<24>(t.nodes, t.node_count, node, address, from, to);
        case 28:
            return walk<28>(t.nodes, t.node_count, node, address, from, to);
        default:
            return walk<32>(t.nodes, t.node_count, node, address, from, to);
        }
    };
    t.ipv4_prefix.resize(size_t{1} << prefix_bits);
    if (t.ip_version == 6) t.ipv6_prefix.resize(size_t{1} << prefix_bits);
    for (uint32_t i = 0; i < (1u << prefix_bits); ++i) {
        const uint8_t top[16] = {static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
        if (t.ip_version == 6) {
            t.ipv6_prefix[i] = walk_from(0, top, 0, prefix_bits);
            uint8_t mapped[16] = {};
            mapped[12] = top[0];
            mapped[13] = top[1];
            t.ipv4_prefix[i] = walk_from(t.ipv4_start, mapped, t.ipv4_depth, 96 + prefix_bits);
        } else {
            t.ipv4_prefix[i] = walk_from(0, top, 0, prefix_bits);
        }
    }
    return t;
}

bool geoip_databases::find_record(const search_tree& t, const uint8_t* address, bool ipv4,
                                  uint32_t& offset) noexcept {
    if (t.ipv4_prefix.empty()) return false;      // refused at open
    if (!ipv4 && t.ip_version == 4) return false; // libmaxminddb: IPV6_LOOKUP_IN_IPV4_DATABASE
    // An IPv4 address in an IPv6 tree is ::a.b.c.d: its bits after the table's are bits 16 to
    // 31 of the 4 address bytes, wherever the tree keeps it.
    const unsigned bits = ipv4 ? 32 : 128;
    const uint32_t start = (ipv4 ? t.ipv4_prefix : t.ipv6_prefix)[address[0] << 8 | address[1]];
    uint32_t node;
    switch (t.record_bits) {
    case 24:
        node = walk<24>(t.nodes, t.node_count, start, address, prefix_bits, bits);
        break;
    case 28:
        node = walk<28>(t.nodes, t.node_count, start, address, prefix_bits, bits);
        break;
    default:
        node = walk<32>(t.nodes, t.node_count, start, address, prefix_bits, bits);
        break;
    }
    // Equal: no data. Below: the tree ran out of bits inside the tree (corrupt). Beyond the
    // data section: corrupt, as libmaxminddb's MMDB_CORRUPT_SEARCH_TREE_ERROR.
    if (node <= t.node_count || node - t.node_count < 16) return false;
    const uint64_t pos = uint64_t{node} - t.node_count - 16;
    if (pos >= t.data_size) return false;
    offset = static_cast<uint32_t>(pos);
    return true;
}

geo_fields geoip_databases::lookup(const ip_address& client) const noexcept {
    static constexpr uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    geo_fields out;
    const uint8_t* address;
    bool ipv4;
    if (client.family == 4) {
        address = client.bytes;
        ipv4 = true;
    } else if (client.family == 6 && std::memcmp(client.bytes, v4_mapped_prefix, 12) == 0) {
        // Looked up as IPv4 so that the answer does not depend on whether the database
        // writer aliased ::ffff:0:0/96 to its IPv4 subtree (MaxMind's do, others may not).
        address = client.bytes + 12;
        ipv4 = true;
    } else if (client.family == 6) {
        address = client.bytes;
        ipv4 = false;
    } else {
        return out;
    }
    uint32_t offset;
    if (city_ && find_record(city_tree_, address, ipv4, offset))
        read_location(record_reader(*city_), offset, out);
    if (asn_ && find_record(asn_tree_, address, ipv4, offset))
        read_as(record_reader(*asn_), offset, out);
    return out;
}

} // namespace pixelring
