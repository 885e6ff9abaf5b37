#pragma once
// The literal parts of an event in the order core/event/encoder.cc writes them, shared with the
// code that reads events back in that layout (dashboard/event_stats.cc). event_size adds them up,
// so an edit here cannot make the bound too small.

#include <cstddef>
#include <string_view>

namespace pixelring::event_layout {

// The literal parts of an event in output order. event_size adds them up, so an edit here
// cannot make the bound too small.
constexpr std::string_view k_open_id = "{\"v\":1,\"id\":\"";
constexpr std::string_view k_ts = "\",\"ts\":\"";
constexpr std::string_view k_type = "\",\"type\":\"";
constexpr std::string_view k_action = "\",\"action\":\"";
constexpr std::string_view k_campaign = "\",\"campaign\":";
constexpr std::string_view k_params = ",\"params\":{";
constexpr std::string_view k_params_truncated = "},\"params_truncated\":true"; // else "}"
constexpr std::string_view k_url = ",\"url\":";
constexpr std::string_view k_path = ",\"path\":";
constexpr std::string_view k_page_host = ",\"page_host\":";
constexpr std::string_view k_referrer = ",\"referrer\":";
constexpr std::string_view k_target = ",\"target\":";       // redirect
constexpr std::string_view k_utm = ",\"utm\":{";            // enrichment
constexpr std::string_view k_client_ts = ",\"client_ts\":"; // beacon
constexpr std::string_view k_visitor = ",\"visitor\":\"";   // enrichment
constexpr std::string_view k_ip = ",\"ip\":\"";
constexpr std::string_view k_country = ",\"country\":\""; // enrichment, geo
constexpr std::string_view k_region = ",\"region\":\"";
constexpr std::string_view k_city = ",\"city\":\"";
constexpr std::string_view k_asn = ",\"asn\":";
constexpr std::string_view k_as_org = ",\"as_org\":\"";
constexpr std::string_view k_ua = ",\"ua\":\"";
constexpr std::string_view k_agent = ",\"agent\":\""; // enrichment, agent
constexpr std::string_view k_device = "\",\"device\":\"";
constexpr std::string_view k_browser = ",\"browser\":\"";
constexpr std::string_view k_os = ",\"os\":\"";
constexpr std::string_view k_dnt_true = ",\"dnt\":true"; // enrichment
constexpr std::string_view k_dnt_false = ",\"dnt\":false";
constexpr std::string_view k_host = ",\"host\":";
constexpr std::string_view k_collector = ",\"collector\":\"";
constexpr std::string_view k_close = "\"}";
constexpr std::string_view k_null = "null";

constexpr size_t k_uuid_len = 36;
constexpr size_t k_timestamp_len = 24;
// campaign, url, path, page_host, referrer, host: null or quoted
constexpr size_t k_nullable_slots = 6;

} // namespace pixelring::event_layout
