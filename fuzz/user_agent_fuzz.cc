// The input is a User-Agent value, optionally followed by LF-separated Sec-Purpose, Purpose,
// X-Purpose and X-Moz values and a sixth line that, when not empty, says the client came
// through Apple's Private Relay. The harness calls classify_agent (core/enrich/user_agent.hh) as
// enrich_request does, each value in a heap buffer of exactly its size, and once more with
// the per-thread cache off. Checked: cached and uncached answers agree (the cache persists
// across inputs, as on a worker); only the first max_user_agent_scan bytes count; browser
// and os never point into the request; bots and scanners name no os (bots no browser either);
// the prefetch headers and Private Relay change only what the header says they change.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/enrich/user_agent.hh"
#include "fuzz/fuzz_support.hh"

namespace pixelring {
namespace {

using fuzz::escaped;

bool same(const agent_info& a, const agent_info& b) {
    return a.label == b.label && a.browser == b.browser && a.os == b.os && a.device == b.device;
}

bool contains_ci(std::string_view s, std::string_view lower) {
    for (size_t i = 0; i + lower.size() <= s.size(); ++i) {
        size_t k = 0;
        while (k < lower.size()) {
            char c = s[i + k];
            if (c >= 'A' && c <= 'Z') c = char(c + 32);
            if (c != lower[k]) break;
            ++k;
        }
        if (k == lower.size()) return true;
    }
    return false;
}

bool asks_prefetch(std::string_view v) {
    return contains_ci(v, "prefetch") || contains_ci(v, "prerender") || contains_ci(v, "preview");
}

void check_info(const agent_info& a, std::string_view ua) {
    FUZZ_CHECK(a.label <= agent_label::scanner && a.device <= device_kind::unknown,
               "label %d device %d", int(a.label), int(a.device));
    for (const std::string_view text : {a.browser, a.os}) {
        FUZZ_CHECK(text.empty() || !fuzz::inside(text, ua.data(), ua.size()),
                   "a label points into the User-Agent");
        FUZZ_CHECK(fuzz::is_valid_utf8(text), "label %s not UTF-8", escaped(text).c_str());
    }
    FUZZ_CHECK(!(to_string(a.label).empty() || to_string(a.device).empty()), "unnamed label");
}

} // namespace
} // namespace pixelring

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace pixelring;
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    std::string_view lines[6];
    for (auto& line : lines) {
        const size_t lf = rest.find('\n');
        line = rest.substr(0, lf);
        rest = lf == std::string_view::npos ? std::string_view{} : rest.substr(lf + 1);
    }
    const fuzz::exact_buffer ua(lines[0]), sec_purpose(lines[1]), purpose(lines[2]),
        x_purpose(lines[3]), x_moz(lines[4]);
    const agent_signals signals{.user_agent = ua.view(),
                                .sec_purpose = sec_purpose.view(),
                                .purpose = purpose.view(),
                                .x_purpose = x_purpose.view(),
                                .x_moz = x_moz.view(),
                                .apple_private_relay = !lines[5].empty()};
    const agent_signals ua_only{.user_agent = ua.view()};

    const agent_info cached = classify_agent(signals);
    const agent_info uncached = classify_agent(signals, false);
    check_info(cached, ua.view());
    FUZZ_CHECK(same(cached, uncached), "cached and uncached answers differ for %s",
               escaped(ua.view()).c_str());

    const agent_info base = classify_agent(ua_only, false);
    FUZZ_CHECK(same(base, classify_agent(ua_only)), "cached and uncached answers differ");
    check_info(base, ua.view());
    if (ua.size() > max_user_agent_scan) {
        const fuzz::exact_buffer head(ua.view().substr(0, max_user_agent_scan));
        FUZZ_CHECK(same(base, classify_agent({.user_agent = head.view()}, false)),
                   "bytes after the first %zu of the User-Agent changed the answer",
                   max_user_agent_scan);
    }
    if (base.label == agent_label::bot)
        FUZZ_CHECK(base.browser.empty() && base.os.empty(), "a bot with browser %s, os %s",
                   escaped(base.browser).c_str(), escaped(base.os).c_str());
    if (base.label == agent_label::scanner)
        FUZZ_CHECK(base.os.empty(), "a scanner with os %s", escaped(base.os).c_str());

    // The headers only relabel; a prefetch keeps what the User-Agent describes.
    const bool prefetch = asks_prefetch(signals.sec_purpose) || asks_prefetch(signals.purpose) ||
                          asks_prefetch(signals.x_purpose) || asks_prefetch(signals.x_moz);
    FUZZ_CHECK(base.browser == cached.browser && base.os == cached.os &&
                   base.device == cached.device,
               "a prefetch header or Private Relay changed browser, os or device");
    agent_label expected = base.label;
    if (signals.apple_private_relay && base.label == agent_label::browser &&
        base.browser == "Apple Mail")
        expected = agent_label::mail_proxy;
    if (prefetch) expected = agent_label::prefetch;
    FUZZ_CHECK(cached.label == expected, "label %s, expected %s",
               std::string(to_string(cached.label)).c_str(),
               std::string(to_string(expected)).c_str());
    return 0;
}
