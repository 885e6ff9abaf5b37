#pragma once
// Broker connection state from librdkafka's statistics JSON (statistics.interval.ms): the
// only place librdkafka reports that a broker is reachable again, which the Kafka sink needs
// to start replaying its spool and to answer /readyz.

#include <string>
#include <string_view>
#include <vector>

namespace pixelring {

struct kafka_broker_state {
    std::string name;  // librdkafka's "host:port/nodeid" (or "/bootstrap")
    std::string state; // "UP", "DOWN", "CONNECT", "INIT", ...
    bool up() const { return state == "UP"; }
};

// Fills brokers from one statistics document. False (brokers untouched, error set) when the
// document is not what librdkafka writes.
bool parse_kafka_broker_states(std::string_view json, std::vector<kafka_broker_state>& brokers,
                               std::string& error);

} // namespace pixelring
