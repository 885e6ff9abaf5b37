#pragma once
// Kafka end-to-end test support: pixelring-devkafka as a child process (librdkafka's mock
// cluster speaking the real protocol) and a real librdkafka consumer. Test code only.
// Linked as pixelring_kafka_fixture (tests/support/CMakeLists.txt), which names the
// pixelring-devkafka binary (DEVKAFKA_BIN) where kafka_fixture.cc is compiled.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pixelring::test {

// Starts pixelring-devkafka with `brokers` brokers and one topic ("name:partitions") and
// reads its bootstrap line. Stopped (SIGTERM) and its directory removed on destruction.
class devkafka {
public:
    explicit devkafka(const std::string& topic, int brokers = 3);
    ~devkafka();
    devkafka(const devkafka&) = delete;
    devkafka& operator=(const devkafka&) = delete;

    const std::string& bootstrap() const { return bootstrap_; }
    // Sends one control command and waits (up to 10 s) for its "ok"/"error" reply line.
    void command(const std::string& line);
    size_t replies() const;
    std::string stderr_text() const;
    int stop(); // exit status

private:
    pid_t pid_ = -1;
    std::string dir_;
    std::string fifo_;
    std::string bootstrap_;
};

struct consumed {
    std::string value;
    std::string key;
    std::string schema; // the "schema" header
    int partition = -1;
    int64_t timestamp = -1;   // the message timestamp, milliseconds since the epoch
    bool create_time = false; // the timestamp is the producer's (CreateTime)
};

// Reads every partition from the beginning until n messages or 30 s.
std::vector<consumed> consume_all(const std::string& bootstrap, const std::string& topic,
                                  int partitions, size_t n);
// Reads every partition from the beginning to its end (as it is when each partition's end is
// reached), or until timeout_ms.
std::vector<consumed> consume_to_end(const std::string& bootstrap, const std::string& topic,
                                     int partitions, int timeout_ms = 60000);

// The "id" member of an event, or "" when there is none.
std::string event_id(const std::string& event);
// The "ts" member of an event in milliseconds since the epoch (sscanf and timegm), or -1.
int64_t event_ts_ms(const std::string& event);

} // namespace pixelring::test
