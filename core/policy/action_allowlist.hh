#pragma once
// Event actions: how long a name may be, and tracking.allowed_events, the list that admits
// them. One list serves every kind of event: pixels, /tr/v1/ hits and redirects (the worker
// asks it before it records one) and beacon items (beacon_parser rejects the item).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

// max_action_size, the longest action an event carries, and action_filter.
#include "core/event/event.hh"

namespace pixelring {

// tracking.allowed_events. Built once at start-up, read-only afterwards (any thread).
// Each entry is an exact action name (1..128 bytes), or a prefix when it ends in '*'
// ("email-open:*" allows "email-open:ann@example.com"). An empty list allows every action.
class action_allowlist final : public action_filter {
public:
    // Replaces out's rules. Returns "" on success, else a message naming the key, the value
    // and what is accepted; out is unchanged then. Allocates.
    static std::string build(const std::vector<std::string>& names, action_allowlist& out);

    // True when the list is empty or action matches an entry (byte-exact, case-sensitive).
    // No allocation: a binary search over exact names, then a scan of the prefixes.
    bool allows(std::string_view action) const noexcept override;
    bool allows_any() const noexcept override { return exact_.empty() && prefixes_.empty(); }

private:
    std::vector<std::string> exact_;    // sorted
    std::vector<std::string> prefixes_; // without the '*'
};

} // namespace pixelring
