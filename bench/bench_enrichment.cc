// The parts of pixel enrichment, each on realistic input: the GeoIP lookup with the
// City and ASN test databases open (addresses of their networks, IPv4 and IPv6, and addresses
// in no network), classify_agent over the User-Agent corpora, and the visitor id. One
// iteration is one call; the inputs cycle so that branch predictors see the real mix. Run
// from the project directory: the inputs are read from ../shared/testdata (geoip, ua).

#include <benchmark/benchmark.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/enrich/geoip.hh"
#include "core/enrich/user_agent.hh"
#include "core/enrich/visitor.hh"
#include "tests/support/json_reader.hh"

namespace {

using namespace pixelring;

constexpr uint64_t k_ms = 1795343700123; // 2026-11-22T10:35:00.123Z
const std::string k_testdata = "../shared/testdata/";
constexpr std::string_view k_chrome_ua =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36";

bool read_json(const std::string& path, test::json_value& doc) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    if (!in || !test::json_reader::parse(text.str(), doc, error)) {
        std::fprintf(stderr, "bench_enrichment: cannot read %s %s\n", path.c_str(), error.c_str());
        return false;
    }
    return true;
}

ip_address parse_ip(const std::string& text) {
    ip_address a;
    if (inet_pton(AF_INET, text.c_str(), a.bytes) == 1) {
        a.family = 4;
    } else if (inet_pton(AF_INET6, text.c_str(), a.bytes) == 1) {
        a.family = 6;
    }
    return a;
}

// The first address of every network in a MaxMind test database's source JSON, IPv4 networks
// as IPv4 addresses (what a socket reports), plus one address one past each IPv4 network's
// first (the same record, a different path through the tree's last levels).
void add_networks(const std::string& json_path, std::vector<ip_address>& v4,
                  std::vector<ip_address>& v6) {
    test::json_value doc;
    if (!read_json(json_path, doc)) return;
    for (const auto& item : doc.items) {
        for (const auto& [cidr, record] : item.members) {
            const ip_address a = parse_ip(cidr.substr(0, cidr.find('/')));
            if (a.family == 4) {
                v4.push_back(a);
                ip_address b = a;
                b.bytes[3] |= 1;
                v4.push_back(b);
            } else if (a.family == 6) {
                v6.push_back(a);
            }
        }
    }
}

struct geoip_inputs {
    geoip_databases db;
    std::vector<ip_address> found_v4, found_v6, not_found, mixed;

    geoip_inputs() {
        const std::string dir = k_testdata + "geoip/";
        const std::string error = db.open(
            {.city_db = dir + "GeoIP2-City-Test.mmdb", .asn_db = dir + "GeoLite2-ASN-Test.mmdb"});
        if (!error.empty()) std::fprintf(stderr, "bench_enrichment: %s\n", error.c_str());
        add_networks(dir + "GeoIP2-City-Test.json", found_v4, found_v6);
        add_networks(dir + "GeoLite2-ASN-Test.json", found_v4, found_v6);
        for (const char* text : {"127.0.0.1", "10.1.2.3", "192.168.1.20", "172.16.5.4", "192.0.2.1",
                                 "198.51.100.7", "203.0.113.77", "100.64.0.1", "8.8.8.8", "1.1.1.1",
                                 "::1", "2001:db8::1", "fe80::1", "fd00::1234", "2606:4700::1111"})
            not_found.push_back(parse_ip(text));
        // Interleaved: two found IPv4, one found IPv6, one not found, in turn.
        for (size_t i = 0; i < found_v4.size(); i += 2) {
            mixed.push_back(found_v4[i]);
            if (i + 1 < found_v4.size()) mixed.push_back(found_v4[i + 1]);
            if (!found_v6.empty()) mixed.push_back(found_v6[(i / 2) % found_v6.size()]);
            mixed.push_back(not_found[(i / 2) % not_found.size()]);
        }
    }
};

const geoip_inputs& geoip() {
    static const geoip_inputs inputs;
    return inputs;
}

void run_geoip(benchmark::State& state, const std::vector<ip_address>& addresses) {
    const geoip_databases& db = geoip().db;
    if (!db.has_city() || !db.has_asn() || addresses.empty()) {
        state.SkipWithError("GeoIP test databases or inputs missing (run from the project dir)");
        return;
    }
    size_t i = 0, found = 0;
    for (auto _ : state) {
        const geo_fields g = db.lookup(addresses[i]);
        benchmark::DoNotOptimize(g);
        found += !g.country.empty() || g.asn != 0;
        if (++i == addresses.size()) i = 0;
    }
    state.counters["addresses"] = static_cast<double>(addresses.size());
    state.counters["found_pct"] = benchmark::Counter(100.0 * static_cast<double>(found) /
                                                     static_cast<double>(state.iterations()));
}

void BM_geoip_found_ipv4(benchmark::State& state) {
    run_geoip(state, geoip().found_v4);
}
void BM_geoip_found_ipv6(benchmark::State& state) {
    run_geoip(state, geoip().found_v6);
}
void BM_geoip_not_found(benchmark::State& state) {
    run_geoip(state, geoip().not_found);
}
void BM_geoip_mixed(benchmark::State& state) {
    run_geoip(state, geoip().mixed);
}
BENCHMARK(BM_geoip_found_ipv4);
BENCHMARK(BM_geoip_found_ipv6);
BENCHMARK(BM_geoip_not_found);
BENCHMARK(BM_geoip_mixed);

std::vector<std::string> read_corpus(const std::string& name) {
    test::json_value doc;
    std::vector<std::string> out;
    if (!read_json(k_testdata + "ua/" + name, doc)) return out;
    for (const auto& item : doc.items)
        out.push_back(item.text);
    return out;
}

void run_classify(benchmark::State& state, const std::vector<std::string>& corpus) {
    if (corpus.empty()) {
        state.SkipWithError("User-Agent corpus missing (run from the project dir)");
        return;
    }
    size_t i = 0, bytes = 0;
    for (auto _ : state) {
        const agent_info a = classify_agent({.user_agent = corpus[i]});
        benchmark::DoNotOptimize(a);
        bytes += corpus[i].size();
        if (++i == corpus.size()) i = 0;
    }
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    state.counters["agents"] = static_cast<double>(corpus.size());
}

void BM_classify_agent_browsers(benchmark::State& state) {
    static const std::vector<std::string> corpus = read_corpus("browsers.json");
    run_classify(state, corpus);
}
void BM_classify_agent_bots(benchmark::State& state) {
    static const std::vector<std::string> corpus = read_corpus("bots.json");
    run_classify(state, corpus);
}
// The hit of bench/wrk/pixel_load.sh.
void BM_classify_agent_chrome(benchmark::State& state) {
    static const std::vector<std::string> corpus = {std::string(k_chrome_ua)};
    run_classify(state, corpus);
}
BENCHMARK(BM_classify_agent_browsers);
BENCHMARK(BM_classify_agent_bots);
BENCHMARK(BM_classify_agent_chrome);

// One id per hit: 256 IPv4 clients, the Chrome User-Agent (111 bytes), one site, one day (the
// salt is derived once, as in a worker).
void BM_visitor_id(benchmark::State& state) {
    visitor_key key;
    if (!visitor_key::from_config("0123456789abcdef0123456789abcdef", key).empty()) {
        state.SkipWithError("visitor_key::from_config failed");
        return;
    }
    visitor_hasher hasher(key);
    ip_address client{.family = 4, .bytes = {203, 0, 113, 0}};
    char out[visitor_id_size];
    for (auto _ : state) {
        ++client.bytes[3];
        benchmark::DoNotOptimize(hasher.visitor_id(k_ms, "example.com", client, k_chrome_ua, out));
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_visitor_id);

// The same with a browsers.json User-Agent per hit (69 to 300 bytes) and IPv6 clients.
void BM_visitor_id_corpus(benchmark::State& state) {
    static const std::vector<std::string> corpus = read_corpus("browsers.json");
    visitor_key key;
    if (corpus.empty() ||
        !visitor_key::from_config("0123456789abcdef0123456789abcdef", key).empty()) {
        state.SkipWithError("browsers.json or visitor_key::from_config failed");
        return;
    }
    visitor_hasher hasher(key);
    ip_address client = parse_ip("2001:db8:1234:5678::1");
    char out[visitor_id_size];
    size_t i = 0;
    for (auto _ : state) {
        ++client.bytes[7];
        benchmark::DoNotOptimize(hasher.visitor_id(k_ms, "example.com", client, corpus[i], out));
        benchmark::DoNotOptimize(out);
        if (++i == corpus.size()) i = 0;
    }
}
BENCHMARK(BM_visitor_id_corpus);

} // namespace

BENCHMARK_MAIN();
