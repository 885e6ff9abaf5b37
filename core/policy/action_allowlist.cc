#include "core/policy/action_allowlist.hh"

#include <algorithm>
#include <utility>

namespace pixelring {

std::string action_allowlist::build(const std::vector<std::string>& names, action_allowlist& out) {
    action_allowlist built;
    for (const std::string& name : names) {
        const size_t star = name.find('*');
        const bool prefix = star != std::string::npos && star + 1 == name.size();
        const size_t len = prefix ? name.size() - 1 : name.size();
        if ((star != std::string::npos && !prefix) || len == 0 || len > max_action_size) {
            return "tracking.allowed_events: \"" + name +
                   "\": expected an action name of 1 to 128 bytes, or a prefix ending in '*'";
        }
        (prefix ? built.prefixes_ : built.exact_).push_back(name.substr(0, len));
    }
    std::sort(built.exact_.begin(), built.exact_.end());
    out = std::move(built);
    return {};
}

bool action_allowlist::allows(std::string_view action) const noexcept {
    if (allows_any()) return true;
    const auto it =
        std::lower_bound(exact_.begin(), exact_.end(), action,
                         [](const std::string& a, std::string_view b) { return a < b; });
    if (it != exact_.end() && *it == action) return true;
    for (const std::string& p : prefixes_)
        if (action.starts_with(p)) return true;
    return false;
}

} // namespace pixelring
