#include "sinks/kafka/kafka_stats.hh"

#include <simdjson.h>

namespace pixelring {

bool parse_kafka_broker_states(std::string_view json, std::vector<kafka_broker_state>& brokers,
                               std::string& error) {
    // Once a second, a few KiB: a parser per call keeps this free of shared state.
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (auto err = parser.parse(json.data(), json.size()).get(doc)) {
        error = simdjson::error_message(err);
        return false;
    }
    simdjson::dom::object list;
    if (auto err = doc["brokers"].get_object().get(list)) {
        error = std::string("no \"brokers\" object: ") + simdjson::error_message(err);
        return false;
    }
    std::vector<kafka_broker_state> out;
    for (auto [key, value] : list) {
        std::string_view state;
        if (value["state"].get_string().get(state)) {
            error = "broker " + std::string(key) + " has no \"state\"";
            return false;
        }
        out.push_back({std::string(key), std::string(state)});
    }
    brokers = std::move(out);
    return true;
}

} // namespace pixelring
