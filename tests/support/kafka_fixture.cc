#include "tests/support/kafka_fixture.hh"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <regex>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#ifndef DEVKAFKA_BIN
#error "DEVKAFKA_BIN must name the pixelring-devkafka binary"
#endif

namespace pixelring::test {

devkafka::devkafka(const std::string& topic, int brokers) {
    char tmpl[] = "/tmp/pixelring-devkafka-XXXXXX";
    dir_ = mkdtemp(tmpl);
    fifo_ = dir_ + "/control";
    int out[2];
    if (pipe(out) != 0) return;
    std::string brokers_arg = std::to_string(brokers);
    pid_ = fork();
    if (pid_ == 0) {
        dup2(out[1], 1);
        int err = open((dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(err, 2);
        close(out[0]);
        execl(DEVKAFKA_BIN, DEVKAFKA_BIN, "--brokers", brokers_arg.c_str(), "--topic",
              topic.c_str(), "--control", fifo_.c_str(), (char*)nullptr);
        _exit(127);
    }
    close(out[1]);
    std::string line;
    char c;
    pollfd p{out[0], POLLIN, 0};
    while (poll(&p, 1, 10000) > 0 && read(out[0], &c, 1) == 1 && c != '\n')
        line += c;
    close(out[0]);
    std::smatch m;
    if (std::regex_search(line, m, std::regex("bootstrap (\\S+) brokers"))) bootstrap_ = m[1];
}

devkafka::~devkafka() {
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
    }
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (std::system(cmd.c_str()) != 0) {
    }
}

void devkafka::command(const std::string& line) {
    size_t before = replies();
    std::ofstream(fifo_) << line << '\n';
    for (int i = 0; i < 1000 && replies() == before; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

size_t devkafka::replies() const {
    std::string log = stderr_text();
    size_t n = 0;
    for (size_t at = 0; (at = log.find("pixelring-devkafka: ", at)) != std::string::npos; ++at)
        ++n;
    return n;
}

std::string devkafka::stderr_text() const {
    std::ifstream in(dir_ + "/stderr");
    return std::string(std::istreambuf_iterator<char>(in), {});
}

int devkafka::stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

rd_kafka_t* assigned_consumer(const std::string& bootstrap, const std::string& topic,
                              int partitions, bool partition_eof) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "pixelring-test", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.partition.eof", partition_eof ? "true" : "false", err,
                      sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) return nullptr;
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return rk;
}

consumed to_consumed(const rd_kafka_message_t* m) {
    consumed c;
    c.value.assign(static_cast<const char*>(m->payload), m->len);
    if (m->key) c.key.assign(static_cast<const char*>(m->key), m->key_len);
    c.partition = m->partition;
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    c.timestamp = rd_kafka_message_timestamp(m, &type);
    c.create_time = type == RD_KAFKA_TIMESTAMP_CREATE_TIME;
    rd_kafka_headers_t* headers = nullptr;
    const void* hv = nullptr;
    size_t hlen = 0;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, "schema", &hv, &hlen) == RD_KAFKA_RESP_ERR_NO_ERROR)
        c.schema.assign(static_cast<const char*>(hv), hlen);
    return c;
}

void close_consumer(rd_kafka_t* rk) {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

} // namespace

std::vector<consumed> consume_all(const std::string& bootstrap, const std::string& topic,
                                  int partitions, size_t n) {
    std::vector<consumed> out;
    rd_kafka_t* rk = assigned_consumer(bootstrap, topic, partitions, false);
    if (!rk) return out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (!m->err) out.push_back(to_consumed(m));
        rd_kafka_message_destroy(m);
    }
    close_consumer(rk);
    return out;
}

std::vector<consumed> consume_to_end(const std::string& bootstrap, const std::string& topic,
                                     int partitions, int timeout_ms) {
    std::vector<consumed> out;
    rd_kafka_t* rk = assigned_consumer(bootstrap, topic, partitions, true);
    if (!rk) return out;
    std::set<int> at_end;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (int(at_end.size()) < partitions && std::chrono::steady_clock::now() < deadline) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (!m->err)
            out.push_back(to_consumed(m));
        else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            at_end.insert(m->partition);
        rd_kafka_message_destroy(m);
    }
    close_consumer(rk);
    return out;
}

std::string event_id(const std::string& event) {
    size_t at = event.find("\"id\":\"");
    if (at == std::string::npos || at + 6 + 36 > event.size()) return {};
    return event.substr(at + 6, 36);
}

int64_t event_ts_ms(const std::string& event) {
    size_t at = event.find("\"ts\":\"");
    if (at == std::string::npos) return -1;
    std::tm tm{};
    int ms = 0;
    if (std::sscanf(event.c_str() + at + 6, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return int64_t(timegm(&tm)) * 1000 + ms;
}

} // namespace pixelring::test
