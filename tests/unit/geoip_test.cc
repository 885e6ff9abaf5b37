// Tests of enrichment: GeoIP lookups (core/enrich/geoip.hh) against MaxMind's test databases,
// checked address by address against the JSON they were built from, plus open errors, allocation
// and cost; and the URL fields (core/event/url_fields.hh): utm parameters and the referrer host.

#include "core/enrich/geoip.hh"
#include "core/event/json_escape.hh"
#include "core/event/url_fields.hh"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/counting_allocator.hh"
#include "tests/support/json_reader.hh"
#include "tests/support/temp_dir.hh"
#include "tests/support/testdata.hh"

namespace pixelring {
namespace {

const std::string k_dir = test::testdata_path("geoip/");
const std::string k_city_db = k_dir + "GeoIP2-City-Test.mmdb";
const std::string k_asn_db = k_dir + "GeoLite2-ASN-Test.mmdb";
const std::string k_country_db = k_dir + "GeoIP2-Country-Test.mmdb";

geoip_config databases(const std::string& city_db, const std::string& asn_db = "") {
    geoip_config cfg;
    cfg.city_db = city_db;
    cfg.asn_db = asn_db;
    return cfg;
}

ip_address parse_ip(const std::string& text) {
    ip_address a;
    if (inet_pton(AF_INET, text.c_str(), a.bytes) == 1) {
        a.family = 4;
    } else if (inet_pton(AF_INET6, text.c_str(), a.bytes) == 1) {
        a.family = 6;
    } else {
        ADD_FAILURE() << "bad address in test: " << text;
    }
    return a;
}

class geoip_test : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_TESTDATA("geoip");
        const std::string error = db_.open(databases(k_city_db, k_asn_db));
        ASSERT_EQ(error, "");
        ASSERT_TRUE(db_.has_city());
        ASSERT_TRUE(db_.has_asn());
    }
    geo_fields lookup(const std::string& text) const { return db_.lookup(parse_ip(text)); }

    geoip_databases db_;
};

// ---- exact answers -----------------------------------------------------------------------
// Values from GeoIP2-City-Test.json and GeoLite2-ASN-Test.json.

TEST_F(geoip_test, ipv4_city_and_asn) {
    const geo_fields g = lookup("89.160.20.112"); // ::89.160.20.112/124, 89.160.20.112/29
    EXPECT_EQ(g.country, "SE");
    EXPECT_EQ(g.region, "E");
    EXPECT_EQ(g.city, "Link\xC3\xB6ping");
    EXPECT_EQ(g.asn, 29518u);
    EXPECT_EQ(g.as_org, "Bredband2 AB");
}

TEST_F(geoip_test, ipv4_london_without_asn) {
    const geo_fields g = lookup("81.2.69.142"); // in the city database only
    EXPECT_EQ(g.country, "GB");
    EXPECT_EQ(g.region, "ENG");
    EXPECT_EQ(g.city, "London");
    EXPECT_EQ(g.asn, 0u);
    EXPECT_EQ(g.as_org, "");
}

TEST_F(geoip_test, region_is_the_first_subdivision) {
    const geo_fields g = lookup("2.125.160.216"); // subdivisions ENG, WBK
    EXPECT_EQ(g.country, "GB");
    EXPECT_EQ(g.region, "ENG");
    EXPECT_EQ(g.city, "Boxford");
}

TEST_F(geoip_test, asn_without_organization) {
    const geo_fields g = lookup("216.160.83.57"); // 216.160.83.56/29: AS 209, no organization
    EXPECT_EQ(g.country, "US");
    EXPECT_EQ(g.region, "WA");
    EXPECT_EQ(g.city, "Milton");
    EXPECT_EQ(g.asn, 209u);
    EXPECT_EQ(g.as_org, "");
}

TEST_F(geoip_test, ipv6) {
    geo_fields g = lookup("2001:218::1"); // 2001:218::/32: country only
    EXPECT_EQ(g.country, "JP");
    EXPECT_EQ(g.region, "");
    EXPECT_EQ(g.city, "");
    EXPECT_EQ(g.asn, 0u);

    g = lookup("2001:480:10::abcd"); // 2001:480:10::/48
    EXPECT_EQ(g.country, "US");
    EXPECT_EQ(g.region, "CA");
    EXPECT_EQ(g.city, "San Diego");

    g = lookup("2a02:a400::1"); // 2a02:a400::/26 in the ASN database only
    EXPECT_EQ(g.country, "");
    EXPECT_EQ(g.asn, 1136u);
    EXPECT_EQ(g.as_org, "KPN Internet Solutions");
}

TEST_F(geoip_test, ipv4_mapped_is_looked_up_as_ipv4) {
    const geo_fields v4 = lookup("89.160.20.112");
    const geo_fields mapped = lookup("::ffff:89.160.20.112");
    EXPECT_EQ(mapped.country, "SE");
    EXPECT_EQ(mapped.city, v4.city);
    EXPECT_EQ(mapped.region, v4.region);
    EXPECT_EQ(mapped.asn, 29518u);
    EXPECT_EQ(mapped.as_org, v4.as_org);
    EXPECT_EQ(lookup("::ffff:81.2.69.142").city, "London");
}

TEST_F(geoip_test, not_found_leaves_every_field_empty) {
    for (const char* text : {"10.1.2.3", "127.0.0.1", "192.0.2.1", "::1", "2001:db8::1"}) {
        SCOPED_TRACE(text);
        const geo_fields g = lookup(text);
        EXPECT_EQ(g.country, "");
        EXPECT_EQ(g.region, "");
        EXPECT_EQ(g.city, "");
        EXPECT_EQ(g.asn, 0u);
        EXPECT_EQ(g.as_org, "");
    }
    const geo_fields unknown = db_.lookup(ip_address{}); // family 0
    EXPECT_EQ(unknown.country, "");
    EXPECT_EQ(unknown.asn, 0u);
}

TEST_F(geoip_test, record_without_location_fields) {
    const geo_fields g = lookup("214.1.1.1"); // 214.1.1.0/24 has traits only
    EXPECT_EQ(g.country, "");
    EXPECT_EQ(g.region, "");
    EXPECT_EQ(g.city, "");
    EXPECT_EQ(g.asn, 721u); // 214.0.0.0/8, DoD Network Information Center
}

// ---- every network of the source JSON ----------------------------------------------------

struct json_network {
    uint8_t bytes[16]; // IPv4 networks as ::a.b.c.d, where the database keeps them
    int prefix;
    const test::json_value* record;
};

std::vector<json_network> load_networks(const std::string& path, test::json_value& doc) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    if (!test::json_reader::parse(text.str(), doc, error)) {
        ADD_FAILURE() << path << ": " << error;
        return {};
    }
    std::vector<json_network> nets;
    for (const auto& item : doc.items) {
        for (const auto& [cidr, record] : item.members) {
            const size_t slash = cidr.find('/');
            const std::string addr = cidr.substr(0, slash);
            json_network n{};
            n.prefix = std::stoi(cidr.substr(slash + 1));
            n.record = &record;
            if (inet_pton(AF_INET, addr.c_str(), n.bytes + 12) == 1) {
                n.prefix += 96;
            } else if (inet_pton(AF_INET6, addr.c_str(), n.bytes) != 1) {
                ADD_FAILURE() << "bad network " << cidr;
                continue;
            }
            nets.push_back(n);
        }
    }
    return nets;
}

bool in_network(const uint8_t* a, const json_network& n) {
    for (int bit = 0; bit < n.prefix; ++bit) {
        const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
        if ((a[bit / 8] & mask) != (n.bytes[bit / 8] & mask)) return false;
    }
    return true;
}

// The record the database holds for a: the most specific network, the later one of equals
// (a database writer inserts in order, so later data overwrites earlier).
const test::json_value* expected_record(const uint8_t* a, const std::vector<json_network>& nets) {
    const json_network* best = nullptr;
    for (const auto& n : nets) {
        if (in_network(a, n) && (best == nullptr || n.prefix >= best->prefix)) best = &n;
    }
    return best ? best->record : nullptr;
}

std::string text_at(const test::json_value* v, std::initializer_list<const char*> path) {
    for (const char* key : path) {
        if (v == nullptr) return "";
        if (v->kind == test::json_value::array_t) {
            const size_t i = std::stoul(key);
            v = i < v->items.size() ? &v->items[i] : nullptr;
        } else {
            v = v->get(key);
        }
    }
    return v ? v->text : "";
}

// The first and last address of every network, looked up as IPv4 too where it is one.
std::vector<ip_address> probe_addresses(const std::vector<json_network>& nets) {
    static constexpr uint8_t zero[12] = {};
    std::vector<ip_address> out;
    for (const auto& n : nets) {
        ip_address first{.family = 6};
        std::memcpy(first.bytes, n.bytes, 16);
        ip_address last = first;
        for (int bit = n.prefix; bit < 128; ++bit)
            last.bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
        for (const ip_address& a : {first, last}) {
            out.push_back(a);
            if (std::memcmp(a.bytes, zero, 12) == 0 && n.prefix >= 96) {
                ip_address v4{.family = 4};
                std::memcpy(v4.bytes, a.bytes + 12, 4);
                out.push_back(v4);
            }
        }
    }
    return out;
}

std::string describe(const ip_address& a) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(a.family == 4 ? AF_INET : AF_INET6, a.bytes, text, sizeof text);
    return text;
}

// Looks up the probe addresses of every network in json_path (more than min_networks) and
// hands check the database's answer and the record the JSON says the database holds.
template <typename Check>
void check_every_network(const geoip_databases& db, const std::string& json_path,
                         size_t min_networks, Check check) {
    test::json_value doc;
    const auto nets = load_networks(json_path, doc);
    ASSERT_GT(nets.size(), min_networks);
    for (const ip_address& a : probe_addresses(nets)) {
        uint8_t as_v6[16] = {};
        std::memcpy(a.family == 4 ? as_v6 + 12 : as_v6, a.bytes, a.family == 4 ? 4 : 16);
        SCOPED_TRACE(describe(a));
        check(db.lookup(a), expected_record(as_v6, nets));
    }
}

TEST_F(geoip_test, every_city_network_matches_its_json) {
    size_t with_city = 0;
    check_every_network(db_, k_dir + "GeoIP2-City-Test.json", 200,
                        [&](const geo_fields& g, const test::json_value* want) {
                            EXPECT_EQ(g.country, text_at(want, {"country", "iso_code"}));
                            EXPECT_EQ(g.region, text_at(want, {"subdivisions", "0", "iso_code"}));
                            EXPECT_EQ(g.city, text_at(want, {"city", "names", "en"}));
                            with_city += !g.city.empty();
                        });
    EXPECT_GT(with_city, 20u);
}

TEST_F(geoip_test, every_asn_network_matches_its_json) {
    size_t with_org = 0;
    check_every_network(db_, k_dir + "GeoLite2-ASN-Test.json", 100,
                        [&](const geo_fields& g, const test::json_value* want) {
                            const std::string asn = text_at(want, {"autonomous_system_number"});
                            EXPECT_EQ(std::to_string(g.asn), asn.empty() ? "0" : asn);
                            EXPECT_EQ(g.as_org, text_at(want, {"autonomous_system_organization"}));
                            with_org += !g.as_org.empty();
                        });
    EXPECT_GT(with_org, 100u);
}

// A database with damaged bytes must give wrong or empty fields, never a crash, a hang or a
// view outside the file. The bytes before the metadata (search tree and data section) are
// overwritten at random, a few at a time, and every probe address is looked up.
TEST(geoip_corrupt, damaged_databases_are_read_safely) {
    REQUIRE_TESTDATA("geoip");
    for (const std::string& source : {k_city_db, k_asn_db}) {
        std::ifstream in(source, std::ios::binary);
        const std::string original{std::istreambuf_iterator<char>(in), {}};
        const size_t metadata = original.rfind("\xAB\xCD\xEFMaxMind.com");
        ASSERT_NE(metadata, std::string::npos) << source;
        test::json_value doc;
        const std::string json = source.substr(0, source.size() - 4) + "json";
        const auto probes = probe_addresses(load_networks(json, doc));
        ASSERT_FALSE(probes.empty());

        test::temp_dir dir("pixelring-geoip");
        const std::string path = dir.file("damaged.mmdb");
        std::mt19937 random(12345);
        size_t opened = 0;
        size_t answers = 0;
        for (int trial = 0; trial < 150; ++trial) {
            std::string damaged = original;
            const int flips = 1 + static_cast<int>(random() % 8);
            for (int i = 0; i < flips; ++i)
                damaged[random() % metadata] = static_cast<char>(random());
            std::ofstream{path, std::ios::binary | std::ios::trunc} << damaged;
            geoip_databases db;
            const bool is_city = source == k_city_db;
            if (!db.open(is_city ? databases(path) : databases("", path)).empty()) continue;
            ++opened;
            for (const ip_address& a : probes) {
                const geo_fields g = db.lookup(a);
                for (const std::string_view v : {g.country, g.region, g.city, g.as_org}) {
                    if (v.empty()) continue;
                    ++answers;
                    // Its bytes are in the file (a view past the data would show other bytes).
                    ASSERT_NE(damaged.find(v), std::string::npos);
                }
            }
        }
        EXPECT_GT(opened, 100u) << source;
        EXPECT_GT(answers, 1000u) << source;
    }
}

// ---- configuration and errors ------------------------------------------------------------

TEST(geoip_open, nothing_configured_answers_empty) {
    geoip_databases db;
    EXPECT_EQ(db.open({}), "");
    EXPECT_FALSE(db.has_city());
    EXPECT_FALSE(db.has_asn());
    const geo_fields g = db.lookup(parse_ip("89.160.20.112"));
    EXPECT_EQ(g.country, "");
    EXPECT_EQ(g.asn, 0u);
}

TEST(geoip_open, one_database_alone) {
    REQUIRE_TESTDATA("geoip");
    geoip_databases asn_only;
    ASSERT_EQ(asn_only.open(databases("", k_asn_db)), "");
    geo_fields g = asn_only.lookup(parse_ip("89.160.20.112"));
    EXPECT_EQ(g.country, "");
    EXPECT_EQ(g.asn, 29518u);

    // A Country database as city_db: the country, and no region or city.
    geoip_databases country_only;
    ASSERT_EQ(country_only.open(databases(k_country_db)), "");
    g = country_only.lookup(parse_ip("81.2.69.142"));
    EXPECT_EQ(g.country, "GB");
    EXPECT_EQ(g.city, "");
    EXPECT_EQ(g.asn, 0u);
}

TEST(geoip_open, missing_file_names_key_path_and_reason) {
    REQUIRE_TESTDATA("geoip");
    geoip_databases db;
    const std::string path = k_dir + "no-such.mmdb";
    std::string error = db.open(databases(path));
    EXPECT_NE(error.find("geoip.city_db"), std::string::npos) << error;
    EXPECT_NE(error.find(path), std::string::npos) << error;
    EXPECT_NE(error.find("Error opening the specified MaxMind DB file"), std::string::npos)
        << error;
    EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
    EXPECT_FALSE(db.has_city());

    error = db.open(databases(k_city_db, path));
    EXPECT_NE(error.find("geoip.asn_db"), std::string::npos) << error;
    EXPECT_EQ(error.find("geoip.city_db"), std::string::npos) << error;
    EXPECT_NE(error.find(path), std::string::npos) << error;
    EXPECT_FALSE(db.has_city()) << "an error must leave the object unchanged";
}

TEST(geoip_open, non_mmdb_files_are_refused) {
    REQUIRE_TESTDATA("geoip");
    test::temp_dir dir("pixelring-geoip");
    const std::string empty = dir.file("empty.mmdb");
    std::ofstream{empty}.flush();
    for (const std::string& path :
         {k_dir + "LICENSE-MIT", k_dir + "GeoIP2-City-Test.json", empty, dir.str()}) {
        SCOPED_TRACE(path);
        geoip_databases db;
        const std::string error = db.open(databases(path));
        EXPECT_NE(error.find("geoip.city_db=\"" + path + "\": "), std::string::npos) << error;
        EXPECT_NE(error.find("expected a MaxMind DB file"), std::string::npos) << error;
        EXPECT_FALSE(db.has_city());
    }
}

TEST(geoip_open, swapped_databases_are_refused) {
    REQUIRE_TESTDATA("geoip");
    geoip_databases db;
    std::string error = db.open(databases(k_asn_db));
    EXPECT_NE(error.find("geoip.city_db"), std::string::npos) << error;
    EXPECT_NE(error.find("GeoLite2-ASN"), std::string::npos) << error;
    error = db.open(databases("", k_city_db));
    EXPECT_NE(error.find("geoip.asn_db"), std::string::npos) << error;
    EXPECT_NE(error.find("GeoIP2-City"), std::string::npos) << error;
    EXPECT_FALSE(db.has_city());
    EXPECT_FALSE(db.has_asn());
}

TEST(geoip_open, failed_reopen_keeps_the_open_databases) {
    REQUIRE_TESTDATA("geoip");
    geoip_databases db;
    ASSERT_EQ(db.open(databases(k_city_db, k_asn_db)), "");
    EXPECT_NE(db.open(databases("/nonexistent/city.mmdb")), "");
    const geo_fields g = db.lookup(parse_ip("89.160.20.112"));
    EXPECT_EQ(g.city, "Link\xC3\xB6ping");
    EXPECT_EQ(g.asn, 29518u);

    geoip_databases moved = std::move(db);
    EXPECT_EQ(moved.lookup(parse_ip("81.2.69.142")).city, "London");
}

// ---- threads, allocation, cost -----------------------------------------------------------

TEST_F(geoip_test, workers_share_one_object) {
    const std::vector<ip_address> addrs = {parse_ip("89.160.20.112"), parse_ip("2001:218::1"),
                                           parse_ip("81.2.69.142"), parse_ip("2a02:a400::1")};
    std::vector<geo_fields> want;
    for (const auto& a : addrs)
        want.push_back(db_.lookup(a));
    std::atomic<size_t> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20000; ++i) {
                const size_t k = static_cast<size_t>(i + t) % addrs.size();
                const geo_fields g = db_.lookup(addrs[k]);
                if (g.country != want[k].country || g.city != want[k].city ||
                    g.asn != want[k].asn || g.as_org != want[k].as_org)
                    ++mismatches;
            }
        });
    }
    for (auto& th : threads)
        th.join();
    EXPECT_EQ(mismatches.load(), 0u);
}

TEST_F(geoip_test, lookups_and_url_fields_do_not_allocate) {
    // The counter itself must see an allocation, or a zero below would prove nothing.
    const size_t probe = test::thread_allocations();
    void* volatile p = std::malloc(16);
    const size_t probed = test::thread_allocations() - probe;
    std::free(p);
    ASSERT_EQ(probed, 1u);

    const std::vector<ip_address> addrs = {parse_ip("89.160.20.112"), parse_ip("::ffff:1.2.3.4"),
                                           parse_ip("2001:218::1"), parse_ip("10.0.0.1")};
    char host[max_host_size];
    size_t found = 0;
    const size_t before = test::thread_allocations();
    for (int i = 0; i < 1000; ++i) {
        const geo_fields g = db_.lookup(addrs[static_cast<size_t>(i) % addrs.size()]);
        found += g.country.size();
        found += extract_utm("https://a.example/?utm_source=x&utm_medium=y#z").source.size();
        found += url_host("https://User@WWW.Example.com:8443/p", host).size();
        found += url_host("http://[2001:DB8::1]/", host).size();
    }
    EXPECT_EQ(test::thread_allocations() - before, 0u);
    EXPECT_GT(found, 0u);
}

// CPU time of this thread, so that other processes on a shared machine do not count.
double thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

TEST_F(geoip_test, lookup_cost) {
    // Records of every shape: both databases, one of them, neither; IPv4 and IPv6.
    const char* const texts[] = {"89.160.20.112", "216.160.83.57", "81.2.69.142", "2001:480:10::1",
                                 "175.16.199.5",  "2a02:a400::1",  "1.128.0.1",   "10.0.0.1"};
    constexpr int k_rounds = 50000;
    uint64_t sink = 0;
    double total = 0;
    std::string line;
    for (const char* text : texts) {
        const ip_address a = parse_ip(text);
        for (int i = 0; i < 1000; ++i) // warm the caches and the branch predictors
            sink += db_.lookup(a).asn;
        const double start = thread_cpu_ns();
        for (int i = 0; i < k_rounds; ++i) {
            const geo_fields g = db_.lookup(a);
            sink += g.asn + g.country.size() + g.city.size() + g.region.size() + g.as_org.size();
        }
        const double ns = (thread_cpu_ns() - start) / k_rounds;
        total += ns;
        line += fmt::format(" {} {:.0f}", text, ns);
    }
    std::printf("geoip: city+asn lookup, mean %.0f ns; per address:%s\n", total / std::size(texts),
                line.c_str());

    char host[max_host_size];
    const double url_start = thread_cpu_ns();
    for (int i = 0; i < k_rounds; ++i) {
        const std::string_view url =
            "https://www.example.com/blog/post?id=7&utm_source=newsletter&utm_medium=email"
            "&utm_campaign=launch#top";
        const utm_fields u = extract_utm(url.substr(static_cast<size_t>(i) & 1));
        sink += u.source.size() + url_host(url.substr(static_cast<size_t>(i) & 1), host).size();
    }
    const double url_ns = thread_cpu_ns() - url_start;
    std::printf("url_fields: extract_utm + url_host %.0f ns per URL\n", url_ns / k_rounds);
    EXPECT_GT(sink, 0u);
}

// ---- utm -----------------------------------------------------------------------------------

TEST(extract_utm, all_five) {
    const utm_fields u = extract_utm("https://example.com/p?utm_source=news&utm_medium=email"
                                     "&utm_campaign=spring&utm_term=shoes&utm_content=logo");
    EXPECT_EQ(u.source, "news");
    EXPECT_EQ(u.medium, "email");
    EXPECT_EQ(u.campaign, "spring");
    EXPECT_EQ(u.term, "shoes");
    EXPECT_EQ(u.content, "logo");
    EXPECT_FALSE(u.empty());
}

TEST(extract_utm, missing) {
    for (const char* url : {"", "https://example.com/", "https://example.com/?", "/page?a=1&b=2",
                            "https://example.com/?utm_=x&utm_sourcex=y&utm=z&xutm_source=w",
                            "https://example.com/?UTM_SOURCE=x&Utm_Medium=y"}) {
        SCOPED_TRACE(url);
        EXPECT_TRUE(extract_utm(url).empty());
    }
    const utm_fields u = extract_utm("/p?utm_medium=cpc&x=1");
    EXPECT_EQ(u.source, "");
    EXPECT_EQ(u.medium, "cpc");
    EXPECT_EQ(u.campaign, "");
}

// What the encoder will write: json_escape with percent-decoding and '+' as a space.
std::string as_written(std::string_view raw) {
    std::string out(6 * raw.size() + 16, '\0');
    out.resize(json_escape(raw, out.data(), true, true));
    return out;
}

TEST(extract_utm, percent_encoded_values_and_keys) {
    const utm_fields u =
        extract_utm("https://example.com/?utm%5Fsource=caf%C3%A9+news&utm_campaign=a%26b%3Dc"
                    "&utm_term=50%&utm_m%65dium=e%2Dmail&utm_content=%22q%22");
    EXPECT_EQ(u.source, "caf%C3%A9+news"); // raw: a view into the URL
    EXPECT_EQ(as_written(u.source), "caf\xC3\xA9 news");
    EXPECT_EQ(as_written(u.campaign), "a&b=c");
    EXPECT_EQ(as_written(u.term), "50%"); // a '%' without hex digits stays literal
    EXPECT_EQ(as_written(u.medium), "e-mail");
    EXPECT_EQ(as_written(u.content), "\\\"q\\\"");
}

TEST(extract_utm, repeated_key_first_wins) {
    utm_fields u = extract_utm("/?utm_source=first&utm_source=second&utm_%73ource=third");
    EXPECT_EQ(u.source, "first");
    u = extract_utm("/?utm_source=&utm_source=second&utm_medium&utm_medium=x");
    EXPECT_EQ(u.source, "") << "an empty first value still wins";
    EXPECT_EQ(u.medium, "");
    u = extract_utm("/?utm_source=a=b&&utm_term=t");
    EXPECT_EQ(u.source, "a=b");
    EXPECT_EQ(u.term, "t");
}

TEST(extract_utm, fragment_is_ignored) {
    EXPECT_TRUE(extract_utm("https://example.com/#/page?utm_source=spa").empty());
    utm_fields u = extract_utm("https://example.com/?utm_source=a#utm_medium=b&utm_term=c");
    EXPECT_EQ(u.source, "a");
    EXPECT_EQ(u.medium, "");
    EXPECT_EQ(u.term, "");
    u = extract_utm("https://example.com/?utm_source=a#x?utm_source=b");
    EXPECT_EQ(u.source, "a");
    u = extract_utm("/?utm_content=end#");
    EXPECT_EQ(u.content, "end");
}

// ---- url_host ------------------------------------------------------------------------------

std::string host_of(std::string_view url) {
    char out[max_host_size];
    return std::string(url_host(url, out));
}

TEST(url_host, plain_and_upper_case) {
    EXPECT_EQ(host_of("https://example.com/a?b#c"), "example.com");
    EXPECT_EQ(host_of("http://example.com"), "example.com");
    EXPECT_EQ(host_of("HTTPS://WWW.Example.COM/Path/Stays"), "www.example.com");
    EXPECT_EQ(host_of("Http://news.example.co.uk?x=1"), "news.example.co.uk");
    EXPECT_EQ(host_of("https://example.com#frag"), "example.com");
    EXPECT_EQ(host_of("https://example.com./"), "example.com.");
    EXPECT_EQ(host_of("https://192.0.2.7:8080/"), "192.0.2.7");
    EXPECT_EQ(host_of("https://xn--bcher-kva.example/"), "xn--bcher-kva.example");
    EXPECT_EQ(host_of("https://ex%41mple.com/"), "example.com"); // %XX decoded, as browsers do
}

TEST(url_host, ports) {
    EXPECT_EQ(host_of("https://example.com:443/"), "example.com");
    EXPECT_EQ(host_of("http://example.com:8080"), "example.com");
    EXPECT_EQ(host_of("http://example.com:/"), "example.com"); // an empty port is allowed
    EXPECT_EQ(host_of("http://example.com:65535/"), "example.com");
    EXPECT_EQ(host_of("http://example.com:65536/"), "");
    EXPECT_EQ(host_of("http://example.com:80a/"), "");
    EXPECT_EQ(host_of("http://example.com:-1/"), "");
    EXPECT_EQ(host_of("http://example.com:1:2/"), "");
}

TEST(url_host, userinfo) {
    EXPECT_EQ(host_of("https://user@example.com/"), "example.com");
    EXPECT_EQ(host_of("https://user:pass@example.com:8443/"), "example.com");
    EXPECT_EQ(host_of("https://good.example@evil.example/"), "evil.example");
    EXPECT_EQ(host_of("https://a@b@Evil.Example/"), "evil.example"); // the last '@' counts
    EXPECT_EQ(host_of("https://example.com/path@other.example"), "example.com");
    EXPECT_EQ(host_of("https://example.com?q=a@b"), "example.com");
    EXPECT_EQ(host_of("https://user@/"), "");
}

TEST(url_host, ipv6_literals) {
    EXPECT_EQ(host_of("http://[2001:DB8::1]/"), "2001:db8::1");
    EXPECT_EQ(host_of("https://[2001:db8::1]:8443/x"), "2001:db8::1");
    EXPECT_EQ(host_of("https://u:p@[::1]"), "::1");
    EXPECT_EQ(host_of("https://[::ffff:192.0.2.1]/"), "::ffff:192.0.2.1");
    EXPECT_EQ(host_of("https://[2001:db8::1/"), ""); // no ']'
    EXPECT_EQ(host_of("https://[]/"), "");
    EXPECT_EQ(host_of("https://[example.com]/"), "");  // not an address
    EXPECT_EQ(host_of("https://[2001:db8::1]x/"), ""); // junk after ']'
    EXPECT_EQ(host_of("https://[2001:db8::1]:99999/"), "");
    EXPECT_EQ(host_of("https://[fe80::1%25eth0]/"), ""); // zones are not URL hosts
}

TEST(url_host, other_schemes_and_relative_urls_have_none) {
    for (const char* url :
         {"", "ftp://example.com/", "android-app://com.google.android.gm/", "file:///etc/passwd",
          "about:blank", "javascript:alert(1)", "data:text/html,x", "//example.com/",
          "/relative/path", "example.com", "http:example.com", "https:/example.com",
          "ws://example.com/", "httpx://example.com/", "http://", "https:///path", "http://:80/",
          "http://?q", "http://#f"}) {
        SCOPED_TRACE(url);
        EXPECT_EQ(host_of(url), "");
    }
}

TEST(url_host, backslash_ends_the_authority) {
    // Browsers read '\' as '/' in http(s) URLs, so this names evil.example's path.
    EXPECT_EQ(host_of("https://evil.example\\@good.example/"), "evil.example");
    EXPECT_EQ(host_of("https://example.com\\path"), "example.com");
}

TEST(url_host, forbidden_bytes_give_none) {
    for (const char* url :
         {"https://exa mple.com/", "https://exa\tmple.com/", "https://exa<mple.com/",
          "https://exa|mple.com/", "https://exa^mple.com/", "https://exa%mple.com/",
          "https://exa%2Fmple.com/", "https://exa%00mple.com/", "https://exa%25mple.com/",
          "https://exa\x7fmple.com/", "https://exa]mple.com/"}) {
        SCOPED_TRACE(url);
        EXPECT_EQ(host_of(url), "");
    }
    // Not forbidden by the URL standard; the encoder escapes what it must.
    EXPECT_EQ(host_of("https://exa\"mple.com/"), "exa\"mple.com");
    EXPECT_EQ(host_of("https://b\xC3\xBC"
                      "cher.example/"),
              "b\xC3\xBC"
              "cher.example");
}

TEST(url_host, length_limit) {
    const std::string longest(253, 'a');
    EXPECT_EQ(host_of("https://" + longest + "/"), longest);
    EXPECT_EQ(host_of("https://" + longest + "a/"), "");
    EXPECT_EQ(host_of("https://" + std::string(100000, 'b') + "/"), "");
}

} // namespace
} // namespace pixelring
