#include "net/http/tracker_script.hh"

#include <array>
#include <cstdint>

namespace pixelring {

namespace {

// The tracker script, the only copy. It is minified by hand and written as adjacent string
// literals so that each piece carries its explanation; the compiler joins them into one
// array. JavaScript strings use single quotes so that nothing needs escaping here.
//
// Use on a page:
//   <script async src="https://px.example.com/t.js" data-campaign="example.com"></script>
//   optional: data-endpoint="https://px.example.com/e" (default: the script's origin + /e)
// Calls made before the script loads can be queued with this stub, which the script replays:
//   window.pixelring=window.pixelring||function(){(pixelring.q=pixelring.q||[]).push(arguments)}
//
// What it sends (POST /e, one JSON object, text/plain so that no CORS preflight is needed):
//   on load:          {"action":"pageview","campaign":c,"url":location.href,"referrer":r}
//                     with r = document.referrer, or null when empty;
//   pushState and popstate to another URL (the fragment ignored): the same, with r = the
//                     previous URL; replaceState counts nothing but becomes that previous URL;
//   pixelring(a, p):  {"action":a,"campaign":c,"url":location.href,"params":p}.
// With navigator.globalPrivacyControl true it sends nothing at all and pixelring() is a no-op.
// navigator.sendBeacon survives the page being closed; when it is missing or refuses (queue
// full), fetch with keepalive takes over, credentials included like a beacon's.
constexpr char script[] =
    // One function scope; its arguments are short names for the globals used.
    "!function(w,d,n,h,l){"
    // s: this <script> element (null when run from a callback or a module); a: its data-*.
    "var s=d.currentScript,a=s?s.dataset:{},c=a.campaign||null,"
    // e: where beacons go; u: the URL of the pageview sent last (the next one's referrer).
    "e=a.endpoint||(s&&s.src?new URL(s.src).origin:'')+'/e',u=l.href,"
    // k: a queueing stub defined before us, if any; P, R: the history methods we wrap.
    "k=w.pixelring,q=k&&k.q||[],P=h.pushState,R=h.replaceState;"
    // Included twice: the first copy does the work (else every navigation counts twice).
    "if(k&&k.v)return;"
    // b(action, params, referrer): one beacon; JSON.stringify leaves out undefined fields.
    "function b(x,p,r){var j=JSON.stringify({action:x,campaign:c,url:l.href,referrer:r,"
    "params:p});"
    "n.sendBeacon&&n.sendBeacon(e,j)||fetch(e,{method:'POST',body:j,keepalive:!0,"
    "credentials:'include'}).catch(function(){})}"
    // g(): after a navigation inside the page, a pageview when the URL (less #...) changed.
    "function g(){var r=u;u=l.href;u.split('#')[0]!=r.split('#')[0]&&b('pageview',void 0,r)}"
    // Global Privacy Control: nothing is sent, ever.
    "if(n.globalPrivacyControl){(w.pixelring=function(){}).v=1;return}"
    "(w.pixelring=function(x,p){b(x,p)}).v=1;"
    "h.pushState=function(){P.apply(h,arguments);g()};"
    "h.replaceState=function(){R.apply(h,arguments);u=l.href};"
    "w.addEventListener('popstate',g);"
    "b('pageview',void 0,d.referrer||null);"
    // Replay what the stub queued, after the pageview.
    "q.forEach(function(x){b(x[0],x[1])})"
    "}(window,document,navigator,history,location)";

constexpr std::string_view script_view{script, sizeof script - 1};

// Under 1 KB uncompressed: one TCP segment, one small arena entry.
static_assert(script_view.size() < 1024, "the tracker script must stay under 1 KB");

constexpr uint64_t fnv1a_64(std::string_view s) {
    uint64_t h = 14695981039346656037ull;
    for (char c : s) {
        h ^= uint8_t(c);
        h *= 1099511628211ull;
    }
    return h;
}

constexpr std::array<char, 18> make_etag() {
    std::array<char, 18> out{};
    uint64_t h = fnv1a_64(script_view);
    out[0] = '"';
    for (int i = 0; i < 16; ++i)
        out[size_t(16 - i)] = "0123456789abcdef"[(h >> (4 * i)) & 0xf];
    out[17] = '"';
    return out;
}

constexpr std::array<char, 18> etag = make_etag();

} // namespace

std::string_view tracker_script() noexcept {
    return script_view;
}

std::string_view tracker_etag() noexcept {
    return {etag.data(), etag.size()};
}

bool tracker_etag_matches(std::string_view v) noexcept {
    auto is_ows = [](char c) { return c == ' ' || c == '\t'; };
    size_t i = 0;
    while (i < v.size()) {
        while (i < v.size() && (is_ows(v[i]) || v[i] == ',')) // empty list elements are allowed
            ++i;
        if (i == v.size()) break;
        size_t end = v.find(',', i);
        if (end == std::string_view::npos) end = v.size();
        std::string_view tag = v.substr(i, end - i);
        while (!tag.empty() && is_ows(tag.back()))
            tag.remove_suffix(1);
        if (tag == "*") return true;
        if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
        if (tag == tracker_etag()) return true;
        i = end;
    }
    return false;
}

} // namespace pixelring
