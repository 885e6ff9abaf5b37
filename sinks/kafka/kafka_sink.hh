#pragma once
// The Kafka sink: a librdkafka producer (idempotent, acks=all, lz4) that settles every event
// exactly once through its delivery report: counters().written when Kafka acknowledged it
// (outcome "delivered"); counters().spooled when the delivery failed (timed out, purged, queue
// full, fatal error) and the disk spool (sinks/kafka/spool.hh) took it; dropped_spool_full or
// dropped_spool_error when the spool could not. Spooled events are replayed, oldest segment
// first, whenever a broker is reachable (librdkafka's statistics say so) and at start-up.
//
// The crash window: a fresh event that Kafka has not acknowledged within max_memory_ms
// (spool.max_memory_ms) is written to the spool rather than left in librdkafka's queue for
// message.timeout.ms: the sink then purges the producer's queue into the spool and spools
// every new event at once ("spooling"), until the spool has been replayed to the last record
// and a broker is up; new events then go to Kafka again, after every spooled one, so that
// each key's events keep their order. A kill -9 thus loses at most the events of the last
// max_memory_ms (plus what the rings held), whatever state Kafka is in.
// Sink thread only, except counters(), healthy() and write_metrics().

#include <memory>
#include <string>
#include <string_view>

#include "core/config/config.hh"
#include "sinks/kafka/spool.hh"
#include "sinks/sink.hh"

namespace pixelring {

// Connects lazily (librdkafka's own threads). spool may be nullptr: failed events are then
// counted in counters().failed (dropped{sink_error}) and logged. Returns nullptr with error set
// when the configuration is refused, naming the property.
std::unique_ptr<sink> make_kafka_sink(const kafka_sink_config& cfg, std::unique_ptr<spool> spool,
                                      std::string& error, uint32_t max_memory_ms = 1000);

} // namespace pixelring
