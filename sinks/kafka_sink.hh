#pragma once
// The Kafka sink: a librdkafka producer (idempotent, acks=all, lz4) that settles every event
// exactly once through its delivery report: counters().written when Kafka acknowledged it
// (outcome "delivered"); counters().spooled when the delivery failed (timed out, purged, queue
// full, fatal error) and the disk spool (sinks/spool.hh) took it; dropped_spool_full or
// dropped_spool_error when the spool could not. Spooled events are replayed, oldest segment
// first, whenever a broker is reachable (librdkafka's statistics say so) and at start-up.
// Sink thread only, except counters(), healthy() and write_metrics().

#include <memory>
#include <string>
#include <string_view>

#include "core/config.hh"
#include "sinks/sink.hh"
#include "sinks/spool.hh"

namespace pixelring {

// Connects lazily (librdkafka's own threads). spool may be nullptr: failed events are then
// counted in counters().failed (dropped{sink_error}) and logged. Returns nullptr with error set
// when the configuration is refused, naming the property.
std::unique_ptr<sink> make_kafka_sink(const kafka_sink_config& cfg, std::unique_ptr<spool> spool,
                                      std::string& error);

} // namespace pixelring
