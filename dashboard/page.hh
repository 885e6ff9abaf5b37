#pragma once
// The dashboard page: dashboard/dashboard.html, built into the binary. One self-contained
// HTML document (no external scripts, styles or fonts) that polls stats.json every 2 s.

#include <string_view>

namespace pixelring {

std::string_view dashboard_page() noexcept;

} // namespace pixelring
