#pragma once
// What the Kafka sink reads from an event to make its message: the key and the timestamp.
// Both read the encoder's output (core/event/event.hh) as it is written, without parsing the JSON.

#include <cstdint>
#include <string_view>

namespace pixelring {

// The message key of an event (docs/kafka.md): its "visitor" when present, so that one visitor's
// events stay in one partition; else its "campaign" (still JSON-escaped); empty when the
// campaign is null. Reads the encoder's output (core/event/event.hh): "campaign" is the first
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
