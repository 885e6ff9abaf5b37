#pragma once
// The Kafka sink: a librdkafka producer (idempotent, acks=all, lz4) that settles every event
// exactly once through its delivery report: counters().written when Kafka acknowledged it,
// counters().failed when it could not be delivered. Sink thread only, except counters() and
// healthy(). The disk spool for failed events is not part of this version: a failed event is
// counted and logged, never silently dropped.

#include <memory>
#include <string>
#include <string_view>

#include "core/config.hh"
#include "sinks/sink.hh"

namespace pixelring {

// Connects lazily (librdkafka's own threads); returns nullptr with error set when the
// configuration is refused, naming the property.
std::unique_ptr<sink> make_kafka_sink(const kafka_sink_config& cfg, std::string& error);

// The message key of an event: its "campaign" (still JSON-escaped), empty when null. Reads the
// encoder's output (core/event.hh), where "campaign" is the first member of that name: a
// string value cannot contain an unescaped quote. DESIGN §3 keys by visitor first; events
// have no visitor field yet.
std::string_view kafka_message_key(std::string_view event);

} // namespace pixelring
