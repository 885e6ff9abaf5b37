#pragma once
// The Kafka sink: a librdkafka producer (idempotent, acks=all, lz4) that settles every event
// exactly once through its delivery report: counters().written when Kafka acknowledged it
// (outcome "delivered"); counters().spooled when the delivery failed (timed out, purged, queue
// full, fatal error) and the disk spool (sinks/spool.hh) took it; dropped_spool_full or
// dropped_spool_error when the spool could not. Spooled events are replayed, oldest segment
// first, whenever a broker is reachable (librdkafka's statistics say so) and at start-up.
// Sink thread only, except counters(), healthy() and write_metrics().

#include <cstdint>
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

// The message key of an event (DESIGN §3): its "visitor" when present, so that one visitor's
// events stay in one partition; else its "campaign" (still JSON-escaped); empty when the
// campaign is null. Reads the encoder's output (core/event.hh): "campaign" is the first
// member of that name and "visitor" the last, and a string value cannot contain an
// unescaped quote.
std::string_view kafka_message_key(std::string_view event);

// The message timestamp of an event: its "ts" (the time of the hit) as milliseconds since the
// Unix epoch, so that a consumer reading event time from Kafka's CreateTime (Flink's
// KafkaSource does) sees when the hit happened, for an event replayed from the spool too.
// Reads the encoder's fixed prefix ({"v":1,"id":"<36>","ts":"YYYY-MM-DDTHH:MM:SS.mmmZ");
// 0 when the event does not start that way, which librdkafka takes as "now".
int64_t kafka_message_timestamp(std::string_view event);

} // namespace pixelring
