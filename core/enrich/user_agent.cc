// Agent classification: one pass over a lower-cased copy of the User-Agent finds every token
// of one constant table (browser, OS and device markers, bot words, mail proxies, scanners);
// the decisions are then bit tests. The table is indexed at compile time by the token's first
// two bytes, so a position whose byte pair starts no token costs two loads. The rules and
// their evidence: docs/agent-labels.md.

#include "core/enrich/user_agent.hh"

#include "core/base/ascii.hh"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace pixelring {
namespace {

// Markers the browser, OS and device decisions test. At most 64 (one bit each).
enum feature : uint8_t {
    f_bot,
    f_cubot, // Cubot, a phone maker: "bot" inside its model names is not a bot
    f_compatible,
    f_msie,
    f_trident,
    f_ms_office,
    f_ms_outlook,
    f_edg,
    f_edga,
    f_edgios,
    f_edge,
    f_opr,
    f_opios,
    f_opera,
    f_samsung,
    f_yabrowser,
    f_vivaldi,
    f_ucbrowser,
    f_fban,
    f_instagram,
    f_gsa,
    f_thunderbird,
    f_firefox,
    f_fxios,
    f_crios,
    f_electron,
    f_chromium,
    f_chrome,
    f_safari,
    f_applewebkit,
    f_windows_phone,
    f_windows,
    f_ipad,
    f_iphone,
    f_ipod,
    f_kindle,
    f_silk,
    f_android,
    f_cros,
    f_macintosh,
    f_linux,
    f_x11,
    f_mobile,
    f_tablet,
    f_smart_tv,
    f_smarttv,
    f_hbbtv,
    f_crkey,
    feature_count
};
static_assert(feature_count <= 64);

enum class token_kind : uint8_t { feature, bot, scanner, mail_proxy };

struct token {
    std::string_view text; // lower case, at least two bytes
    token_kind kind;
    uint8_t arg; // feature, or index into k_scanner_names / k_mail_proxy_names
};

constexpr std::string_view k_mail_proxy_names[] = {"Gmail", "Yahoo Mail", "Fastmail"};
constexpr std::string_view k_scanner_names[] = {"Barracuda", "Proofpoint", "Mimecast",
                                                "URL scanner", "VirusTotal"};

constexpr token feat(std::string_view t, feature f) {
    return {t, token_kind::feature, f};
}
constexpr token bot(std::string_view t) {
    return {t, token_kind::bot, 0};
}
constexpr token scanner(std::string_view t, uint8_t name) {
    return {t, token_kind::scanner, name};
}
constexpr token mail(std::string_view t, uint8_t name) {
    return {t, token_kind::mail_proxy, name};
}

// clang-format off
constexpr token k_tokens[] = {
    // Server-side mail image proxies (docs/agent-labels.md, "mail_proxy").
    mail("googleimageproxy", 0), // "... Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    mail("yahoomailproxy", 1),   // "YahooMailProxy; https://help.yahoo.com/kb/...SLN28749.html"
    mail("fastmailua", 2),       // "... Safari/537.36 FastmailUA/1.0" (fastmail.com/policies/bots)
    // Link and URL scanners (docs/agent-labels.md, "scanner").
    scanner("barracuda", 0),     // "Barracuda Sentinel (EE)"
    scanner("proofpoint", 1), scanner("mimecast", 2),
    scanner("urlscan", 3),       // urlscan.io, "CloudflareRadarURLScanner"
    scanner("virustotal", 4),
    // Bots: generic words, automation, contact details, HTTP libraries, Google's fetchers, and
    // named tools whose User-Agent is otherwise a plain browser's (learnt from
    // ../shared/testdata/ua/bots.json). "bot" itself is a feature so Cubot phones can pass.
    feat("bot", f_bot), feat("cubot", f_cubot),
    bot("crawl"), bot("spider"), bot("slurp"), bot("scrap"), bot("fetch"), bot("feed"),
    bot("preview"), bot("proxy"), bot("monitor"), bot("check"), bot("scan"), bot("archiv"),
    bot("validator"), bot("synthetic"), bot("uptime"), bot("security"), bot("abuse"),
    bot("headless"), bot("lighthouse"), bot("selenium"), bot("playwright"), bot("puppeteer"),
    bot("phantomjs"), bot("webdriver"),
    bot("http://"), bot("https://"), bot("www."),
    bot("httpclient"), bot("python"), bot("curl/"), bot("wget"), bot("java/"), bot("go-http"),
    bot("okhttp"), bot("axios"), bot("libwww"), bot("urllib"), bot("httrack"),
    bot("google-"), bot("-google"), bot("googleother"), bot("google web preview"),
    bot("pingdom"), bot("gtmetrix"), bot("hotjar"), bot("ptst/"), bot("dareboost"),
    bot("linktiger"), bot("silktide"), bot("splash"), bot("readable/"), bot("foregenix"),
    bot("newsai/"), bot("manus-user"), bot("hardenize"), bot("rigor"), bot("testlocally"),
    bot("sindup"), bot("thousandeyes"), bot("marketgoo"), bot("pwabuilder"), bot("sqwatcher"),
    bot("ghost inspector"), bot("criticalcss"), bot("ips-agent"),
    // Structure.
    feat("compatible", f_compatible), feat("msie ", f_msie), feat("trident/", f_trident),
    // Browsers and apps.
    feat("ms-office", f_ms_office), feat("microsoft outlook", f_ms_outlook),
    feat("edg/", f_edg), feat("edga/", f_edga), feat("edgios/", f_edgios), feat("edge/", f_edge),
    feat("opr/", f_opr), feat("opios/", f_opios), feat("opera", f_opera),
    feat("samsungbrowser/", f_samsung), feat("yabrowser/", f_yabrowser),
    feat("vivaldi/", f_vivaldi), feat("ucbrowser/", f_ucbrowser), feat("fban/", f_fban),
    feat("instagram", f_instagram), feat("gsa/", f_gsa), feat("thunderbird/", f_thunderbird),
    feat("firefox/", f_firefox), feat("fxios/", f_fxios), feat("crios/", f_crios),
    feat("electron/", f_electron), feat("chromium/", f_chromium), feat("chrome/", f_chrome),
    feat("safari/", f_safari), feat("applewebkit/", f_applewebkit),
    // Operating systems and devices.
    feat("windows phone", f_windows_phone), feat("windows", f_windows), feat("ipad", f_ipad),
    feat("iphone", f_iphone), feat("ipod", f_ipod), feat("kindle", f_kindle),
    feat("silk/", f_silk), feat("android", f_android), feat("x11; cros", f_cros),
    feat("macintosh", f_macintosh), feat("linux", f_linux), feat("x11", f_x11),
    feat("mobile", f_mobile), feat("tablet", f_tablet), feat("smart-tv", f_smart_tv),
    feat("smarttv", f_smarttv), feat("hbbtv", f_hbbtv), feat("crkey", f_crkey),
};
// clang-format on
constexpr size_t k_token_count = std::size(k_tokens);
static_assert(k_token_count < 256);

// Index by the hash of a token's first two bytes. 1024 buckets keep the bucket table at 2 KiB
// and leave about one byte pair in ten sharing a bucket with some token. Each candidate
// carries its first eight bytes and a mask, so one 8-byte load and compare rejects a
// candidate, and accepts a token of eight bytes or fewer outright.
constexpr size_t k_buckets = 1024;
constexpr unsigned bucket_of(unsigned char a, unsigned char b) {
    return (a * 31u + b) & (k_buckets - 1);
}

struct candidate {
    uint64_t head; // the token's first min(8, size) bytes as an unaligned 8-byte load sees them
    uint64_t mask; // 0xff for each of those bytes
    uint8_t size;
    uint8_t token; // index into k_tokens
};

struct token_index {
    std::array<uint16_t, k_buckets + 1> start{}; // bucket b: candidates[start[b], start[b+1])
    std::array<candidate, k_token_count> candidates{};
};

constexpr unsigned byte_shift(size_t k) {
    return std::endian::native == std::endian::little ? unsigned(8 * k) : unsigned(56 - 8 * k);
}

constexpr bool is_lower_token(std::string_view t) {
    if (t.size() < 2 || t.size() > 255) return false;
    for (char c : t)
        if ((c >= 'A' && c <= 'Z') || c == '\0') return false;
    return true;
}

constexpr token_index build_index() {
    token_index x;
    for (const token& t : k_tokens)
        ++x.start[bucket_of(static_cast<unsigned char>(t.text[0]),
                            static_cast<unsigned char>(t.text[1])) +
                  1];
    for (size_t b = 0; b < k_buckets; ++b)
        x.start[b + 1] = static_cast<uint16_t>(x.start[b + 1] + x.start[b]);
    std::array<uint16_t, k_buckets> fill{};
    for (size_t i = 0; i < k_token_count; ++i) {
        const std::string_view t = k_tokens[i].text;
        const unsigned b =
            bucket_of(static_cast<unsigned char>(t[0]), static_cast<unsigned char>(t[1]));
        candidate c{0, 0, static_cast<uint8_t>(t.size()), static_cast<uint8_t>(i)};
        for (size_t k = 0; k < t.size() && k < 8; ++k) {
            c.head |= uint64_t{static_cast<unsigned char>(t[k])} << byte_shift(k);
            c.mask |= uint64_t{0xff} << byte_shift(k);
        }
        x.candidates[x.start[b] + fill[b]++] = c;
    }
    return x;
}

constexpr bool all_tokens_lower() {
    for (const token& t : k_tokens)
        if (!is_lower_token(t.text)) return false;
    return true;
}
static_assert(all_tokens_lower(), "tokens are matched against a lower-cased copy, no NUL");

constexpr token_index k_index = build_index();

// One bit per byte pair (first byte << 8 | second byte) that starts a token: 8 KiB, exact,
// so a position whose pair starts no token costs one load and a bit test, and only the few
// that do look into the buckets (whose hash lets about one pair in ten through). Most of a
// User-Agent's positions are such misses.
using pair_bitmap = std::array<uint64_t, 65536 / 64>;
constexpr pair_bitmap build_pairs() {
    pair_bitmap m{};
    for (const token& t : k_tokens) {
        const unsigned pair =
            static_cast<unsigned char>(t.text[0]) << 8 | static_cast<unsigned char>(t.text[1]);
        m[pair >> 6] |= uint64_t{1} << (pair & 63);
    }
    return m;
}
constexpr pair_bitmap k_pairs = build_pairs();

// What one pass over the User-Agent found.
struct scan_result {
    uint64_t features = 0;
    bool bot_word = false;
    int8_t scanner = -1;    // first scanner token's name, -1 for none
    int8_t mail_proxy = -1; // first mail proxy token's name, -1 for none

    bool has(feature f) const { return (features >> f) & 1; }
};

// s[0, n) is the lower-cased User-Agent and s[n, n + 8) is zero: the 8-byte loads near the end
// read the zeros, which no token contains, so a token running past the end never matches.
scan_result scan(const char* s, size_t n) noexcept {
    scan_result r;
    for (size_t i = 0; i + 1 < n; ++i) {
        const unsigned pair =
            static_cast<unsigned char>(s[i]) << 8 | static_cast<unsigned char>(s[i + 1]);
        if (((k_pairs[pair >> 6] >> (pair & 63)) & 1) == 0) continue;
        const unsigned b =
            bucket_of(static_cast<unsigned char>(s[i]), static_cast<unsigned char>(s[i + 1]));
        const unsigned end = k_index.start[b + 1];
        unsigned k = k_index.start[b];
        if (k == end) continue;
        uint64_t word;
        std::memcpy(&word, s + i, sizeof word);
        for (; k < end; ++k) {
            const candidate& c = k_index.candidates[k];
            if ((word & c.mask) != c.head) continue;
            const token& t = k_tokens[c.token];
            if (c.size > 8 &&
                (c.size > n - i || std::memcmp(s + i + 8, t.text.data() + 8, c.size - 8) != 0))
                continue;
            switch (t.kind) {
            case token_kind::feature:
                r.features |= uint64_t{1} << t.arg;
                break;
            case token_kind::bot:
                r.bot_word = true;
                break;
            case token_kind::scanner:
                if (r.scanner < 0) r.scanner = static_cast<int8_t>(t.arg);
                break;
            case token_kind::mail_proxy:
                if (r.mail_proxy < 0) r.mail_proxy = static_cast<int8_t>(t.arg);
                break;
            }
        }
    }
    return r;
}

bool starts_with(const char* s, size_t n, std::string_view prefix) {
    return n >= prefix.size() && std::memcmp(s, prefix.data(), prefix.size()) == 0;
}

constexpr std::string_view k_apple_mail = "Apple Mail";

// Real browsers of this decade send "Mozilla/5.0 (platform...) ..." and never a contact
// address, a URL or "compatible" outside old Internet Explorer. The exceptions are Outlook
// ("Microsoft Office/16.0 (...)", "Mozilla/4.0 (compatible; ms-office; MSOffice 16)") and
// Opera's own old form ("Opera/9.80 (...)").
bool looks_automated(const char* s, size_t n, const scan_result& r) {
    if (r.bot_word || (r.has(f_bot) && !r.has(f_cubot))) return true;
    if (std::memchr(s, '@', n) != nullptr) return true;
    if (starts_with(s, n, "microsoft office/") || starts_with(s, n, "opera/")) return false;
    if (starts_with(s, n, "mozilla/4.0 (compatible;") && r.has(f_ms_office)) return false;
    if (!starts_with(s, n, "mozilla/5.0 (")) return true;
    return r.has(f_compatible) && !r.has(f_msie) && !r.has(f_trident);
}

std::string_view browser_of(const char* s, size_t n, const scan_result& r) {
    if (r.has(f_ms_outlook) || r.has(f_ms_office) || starts_with(s, n, "microsoft office/"))
        return "Outlook";
    if (r.has(f_edg) || r.has(f_edga) || r.has(f_edgios) || r.has(f_edge)) return "Edge";
    if (r.has(f_opr) || r.has(f_opios) || r.has(f_opera)) return "Opera";
    if (r.has(f_samsung)) return "Samsung Internet";
    if (r.has(f_yabrowser)) return "Yandex Browser";
    if (r.has(f_vivaldi)) return "Vivaldi";
    if (r.has(f_ucbrowser)) return "UC Browser";
    if (r.has(f_silk)) return "Silk";
    if (r.has(f_fban)) return "Facebook";
    if (r.has(f_instagram)) return "Instagram";
    if (r.has(f_gsa)) return "Google App";
    if (r.has(f_thunderbird)) return "Thunderbird";
    if (r.has(f_firefox) || r.has(f_fxios)) return "Firefox";
    if (r.has(f_crios)) return "Chrome";
    if (r.has(f_electron)) return "Electron";
    if (r.has(f_chromium)) return "Chromium";
    if (r.has(f_chrome)) return "Chrome";
    if (r.has(f_msie) || r.has(f_trident)) return "Internet Explorer";
    if (r.has(f_safari)) return "Safari";
    // Apple's WebKit with no browser product: Apple Mail on macOS and iOS sends exactly this
    // (so do other apps' embedded WebKit views, rarer on tracking pixels).
    if (r.has(f_applewebkit) &&
        (r.has(f_macintosh) || r.has(f_iphone) || r.has(f_ipad) || r.has(f_ipod)))
        return k_apple_mail;
    return {};
}

void platform_of(const scan_result& r, agent_info& out) {
    if (r.has(f_windows_phone)) {
        out.os = "Windows Phone";
        out.device = device_kind::mobile;
    } else if (r.has(f_windows)) {
        out.os = "Windows";
        out.device = device_kind::desktop;
    } else if (r.has(f_ipad)) {
        out.os = "iPadOS";
        out.device = device_kind::tablet;
    } else if (r.has(f_iphone) || r.has(f_ipod)) {
        out.os = "iOS";
        out.device = device_kind::mobile;
    } else if (r.has(f_kindle) || r.has(f_silk)) {
        out.os = "Android"; // Fire OS
        out.device = device_kind::tablet;
    } else if (r.has(f_android)) {
        // Chrome and Samsung Internet on tablets drop "Mobile"; Firefox says "Tablet".
        out.os = "Android";
        out.device =
            r.has(f_mobile) && !r.has(f_tablet) ? device_kind::mobile : device_kind::tablet;
    } else if (r.has(f_cros)) {
        out.os = "ChromeOS";
        out.device = device_kind::desktop;
    } else if (r.has(f_macintosh)) {
        out.os = "macOS"; // also iPadOS Safari, which asks for desktop sites by default
        out.device = device_kind::desktop;
    } else if (r.has(f_linux) || r.has(f_x11)) {
        out.os = "Linux";
        out.device = device_kind::desktop;
    } else {
        out.device = r.has(f_mobile) ? device_kind::mobile : device_kind::unknown;
    }
    if (r.has(f_smart_tv) || r.has(f_smarttv) || r.has(f_hbbtv) || r.has(f_crkey))
        out.device = device_kind::unknown; // a television is none of the kinds
}

bool asks_prefetch(std::string_view value) {
    return !value.empty() &&
           (ascii_contains_lower(value, "prefetch") || ascii_contains_lower(value, "prerender") ||
            ascii_contains_lower(value, "preview"));
}

} // namespace

namespace {

// What the User-Agent alone says (every rule but Private Relay and the prefetch headers).
agent_info classify_user_agent(std::string_view user_agent) noexcept {
    agent_info out;
    char buf[max_user_agent_scan + 8];
    const size_t n = std::min(user_agent.size(), max_user_agent_scan);
    if (n != 0) std::memcpy(buf, user_agent.data(), n);
    std::memset(buf + n, 0, 8);
    // ASCII lower case, 8 bytes at a time (the zeros after n stay zero): per byte, the high
    // bit of (low 7 bits + 0x3f) says >= 'A', of (low 7 bits + 0x25) says > 'Z'; bytes with
    // their own high bit set (UTF-8) are left alone.
    for (size_t i = 0; i < n; i += 8) {
        constexpr uint64_t high = 0x8080808080808080ull;
        uint64_t w;
        std::memcpy(&w, buf + i, sizeof w);
        const uint64_t low7 = w & ~high;
        const uint64_t upper =
            (low7 + 0x3f3f3f3f3f3f3f3full) & ~(low7 + 0x2525252525252525ull) & ~w & high;
        w |= upper >> 2;
        std::memcpy(buf + i, &w, sizeof w);
    }
    const scan_result r = scan(buf, n);

    if (n == 0) {
        out.label = agent_label::bot; // every browser sends a User-Agent
        out.device = device_kind::bot;
    } else if (r.mail_proxy >= 0) {
        // The proxy's User-Agent describes no reader's device (Gmail claims Windows XP).
        out.label = agent_label::mail_proxy;
        out.browser = k_mail_proxy_names[r.mail_proxy];
    } else if (r.scanner >= 0) {
        out.label = agent_label::scanner;
        out.browser = k_scanner_names[r.scanner];
        out.device = device_kind::bot;
    } else if (looks_automated(buf, n, r)) {
        out.label = agent_label::bot;
        out.device = device_kind::bot;
    } else {
        out.browser = browser_of(buf, n, r);
        platform_of(r, out);
    }
    return out;
}

// The last User-Agents classified on this thread, by a hash of their bytes. A keep-alive
// connection sends the same User-Agent with every request, and a few dozen browser builds
// make most of the traffic, so most lookups skip the scan: a hit costs a hash and a memcmp
// (tens of ns) instead of the scan (a few hundred). Exact: an entry is used only when the
// whole User-Agent is byte-equal; longer ones than k_cached_ua are not cached. One table per
// thread (each worker's own), no lock.
constexpr size_t k_cache_entries = 256; // power of two
constexpr size_t k_cached_ua = 256;

struct ua_cache_entry {
    uint16_t size = 0xffff; // no entry
    agent_info info;
    char ua[k_cached_ua];
};

// Four independent multiply chains over 32-byte strides, so that the multiplies of a
// User-Agent's ~14 words overlap instead of waiting on each other. With the last-word load
// below, the cached call went from ~25 to ~16 ns (bench_enrichment BM_classify_agent_chrome;
// one chain with that load: ~20 ns). Only the slot index depends on the hash; an entry is
// used only on an exact match.
uint64_t hash_user_agent(std::string_view ua) noexcept {
    constexpr uint64_t k0 = 0xff51afd7ed558ccdull, k1 = 0xc4ceb9fe1a85ec53ull;
    const char* p = ua.data();
    const size_t n = ua.size();
    auto load = [p](size_t at) {
        uint64_t w;
        std::memcpy(&w, p + at, sizeof w);
        return w;
    };
    auto mix = [](uint64_t h, uint64_t w, uint64_t k) {
        h = (h ^ w) * k;
        return h ^ (h >> 32);
    };
    uint64_t a = 0x9e3779b97f4a7c15ull ^ n, b = 0x6a09e667f3bcc909ull, c = 0xbb67ae8584caa73bull,
             d = 0x3c6ef372fe94f82bull;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a = mix(a, load(i), k0);
        b = mix(b, load(i + 8), k1);
        c = mix(c, load(i + 16), k0);
        d = mix(d, load(i + 24), k1);
    }
    for (; i + 8 <= n; i += 8)
        a = mix(a, load(i), k1);
    // The last (partial) word as the last 8 bytes, overlapping the one before: a short copy
    // to the stack and a load of it stalled on store forwarding (a quarter of the call).
    uint64_t w = 0;
    if (n >= 8) {
        w = load(n - 8);
    } else {
        for (size_t k = 0; k < n; ++k)
            w |= uint64_t{static_cast<unsigned char>(p[k])} << (8 * k);
    }
    uint64_t h = mix(a ^ std::rotl(b, 16), w, k0) + mix(c ^ std::rotl(d, 16), w >> 7, k1);
    h = (h ^ (h >> 29)) * k1;
    return h ^ (h >> 32);
}

agent_info cached_user_agent(std::string_view ua) noexcept {
    if (ua.size() > k_cached_ua) return classify_user_agent(ua);
    thread_local ua_cache_entry cache[k_cache_entries];
    ua_cache_entry& e = cache[hash_user_agent(ua) & (k_cache_entries - 1)];
    if (e.size == ua.size() && (ua.empty() || std::memcmp(e.ua, ua.data(), ua.size()) == 0))
        return e.info;
    e.info = classify_user_agent(ua);
    e.size = uint16_t(ua.size());
    if (!ua.empty()) std::memcpy(e.ua, ua.data(), ua.size());
    return e.info;
}

} // namespace

agent_info classify_agent(const agent_signals& sig, bool use_cache) noexcept {
    agent_info out =
        use_cache ? cached_user_agent(sig.user_agent) : classify_user_agent(sig.user_agent);
    // Mail Privacy Protection: Apple Mail's own User-Agent, through Private Relay.
    if (sig.apple_private_relay && out.label == agent_label::browser && out.browser == k_apple_mail)
        out.label = agent_label::mail_proxy;

    if (asks_prefetch(sig.sec_purpose) || asks_prefetch(sig.purpose) ||
        asks_prefetch(sig.x_purpose) || asks_prefetch(sig.x_moz))
        out.label = agent_label::prefetch;
    return out;
}

} // namespace pixelring
