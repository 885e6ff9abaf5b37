// pixelring-consume: read pixelring's events from Kafka. tail (pretty or raw), count
// (messages per partition), verify (against expected ids or an expected count), stats.
// count, verify and stats read every partition from the beginning to its current end and
// stop; tail follows until SIGINT/SIGTERM or --timeout-ms.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void on_stop(int) {
    stop_requested = 1;
}

// The string value of a top-level field of an event as the encoder writes it, still
// JSON-escaped; empty when absent or not a string.
std::string_view field(std::string_view event, std::string_view name) {
    std::string key = "\"" + std::string(name) + "\":\"";
    size_t at = event.find(key);
    if (at == std::string_view::npos) return {};
    size_t start = at + key.size();
    for (size_t i = start; i < event.size(); ++i) {
        if (event[i] == '\\')
            ++i;
        else if (event[i] == '"')
            return event.substr(start, i - start);
    }
    return {};
}

struct options {
    std::string brokers;
    std::string topic = "pixelring.events";
    std::string group;
    int timeout_ms = 0;
};

class reader {
public:
    // With a group: subscribe and commit as a member of it. Without: assign every partition
    // from the beginning and report the end of each.
    bool open(const options& o, std::string& error) {
        char err[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        auto set = [&](const char* k, const std::string& v) {
            return rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK;
        };
        bool ok = set("bootstrap.servers", o.brokers) &&
                  set("group.id", o.group.empty() ? "pixelring-consume" : o.group) &&
                  set("enable.partition.eof", "true") && set("auto.offset.reset", "earliest") &&
                  set("enable.auto.commit", o.group.empty() ? "false" : "true");
        if (!ok) {
            error = err;
            rd_kafka_conf_destroy(conf);
            return false;
        }
        rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
        if (!rk_) {
            error = err;
            rd_kafka_conf_destroy(conf);
            return false;
        }
        rd_kafka_poll_set_consumer(rk_);
        const rd_kafka_metadata_t* md = nullptr;
        rd_kafka_topic_t* t = rd_kafka_topic_new(rk_, o.topic.c_str(), nullptr);
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk_, 0, t, &md, 10000);
        rd_kafka_topic_destroy(t);
        if (e || md->topic_cnt != 1 || md->topics[0].err) {
            error = fmt::format("topic {}: {}", o.topic,
                                rd_kafka_err2str(e    ? e
                                                 : md ? md->topics[0].err
                                                      : e));
            if (md) rd_kafka_metadata_destroy(md);
            return false;
        }
        partitions_ = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions_);
        for (int p = 0; p < partitions_; ++p)
            rd_kafka_topic_partition_list_add(parts, o.topic.c_str(), p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        if (o.group.empty())
            rd_kafka_assign(rk_, parts);
        else
            rd_kafka_subscribe(rk_, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        return true;
    }

    ~reader() {
        if (rk_) {
            rd_kafka_consumer_close(rk_);
            rd_kafka_destroy(rk_);
        }
    }

    int partitions() const { return partitions_; }

    // Calls fn(partition, key, value) per message. Stops when every partition reached its end
    // (follow = false), on a signal, or after timeout_ms (0: none). Returns false on timeout
    // before the end.
    template <typename F> bool run(bool follow, int timeout_ms, F&& fn) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        std::set<int> at_end;
        while (!stop_requested) {
            if (timeout_ms > 0 && std::chrono::steady_clock::now() >= deadline) return follow;
            rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 200);
            if (!m) continue;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                at_end.insert(m->partition);
                rd_kafka_message_destroy(m);
                if (!follow && int(at_end.size()) == partitions_) return true;
                continue;
            }
            if (m->err) {
                fmt::print(stderr, "pixelring-consume: {}\n", rd_kafka_message_errstr(m));
            } else {
                at_end.erase(m->partition);
                fn(m->partition,
                   std::string_view(static_cast<const char*>(m->key), m->key ? m->key_len : 0),
                   std::string_view(static_cast<const char*>(m->payload), m->len));
            }
            rd_kafka_message_destroy(m);
        }
        return true;
    }

private:
    rd_kafka_t* rk_ = nullptr;
    int partitions_ = 0;
};

std::vector<std::pair<std::string, uint64_t>> top(const std::map<std::string, uint64_t>& counts,
                                                  size_t n) {
    std::vector<std::pair<std::string, uint64_t>> v(counts.begin(), counts.end());
    std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second > b.second; });
    if (v.size() > n) v.resize(n);
    return v;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"pixelring-consume: read pixelring's events from a Kafka topic."};
    app.require_subcommand(1);
    options o;
    app.add_option("-b,--brokers", o.brokers, "bootstrap servers, host:port[,...]")->required();
    app.add_option("-t,--topic", o.topic, "topic (default pixelring.events)");
    app.add_option("-g,--group", o.group,
                   "consume as this consumer group, from its committed offsets (default: no "
                   "group, every partition from the beginning)");
    app.add_option("--timeout-ms", o.timeout_ms, "give up after this long (0: never)");

    auto* tail = app.add_subcommand("tail", "print events as they arrive (Ctrl-C stops)");
    bool raw = false;
    tail->add_flag("--raw", raw, "one JSON object per line, as stored");
    auto* count = app.add_subcommand("count", "messages per partition and in total");
    auto* verify = app.add_subcommand(
        "verify", "check that expected events are on the topic; exit 1 when any is missing");
    std::string ids_file;
    long long expected_count = -1;
    verify->add_option("--expected-ids", ids_file, "file with one expected event id per line");
    verify->add_option("--expected-count", expected_count, "expected number of distinct ids");
    auto* stats = app.add_subcommand("stats", "events/s, top campaigns and actions, visitors");
    CLI11_PARSE(app, argc, argv);
    if (verify->parsed() && ids_file.empty() && expected_count < 0) {
        fmt::print(stderr, "pixelring-consume verify: give --expected-ids FILE or "
                           "--expected-count N\n");
        return 2;
    }

    std::signal(SIGINT, on_stop);
    std::signal(SIGTERM, on_stop);
    reader r;
    std::string error;
    if (!r.open(o, error)) {
        fmt::print(stderr, "pixelring-consume: {}\n", error);
        return 2;
    }

    if (tail->parsed()) {
        r.run(true, o.timeout_ms, [&](int partition, std::string_view key, std::string_view v) {
            if (raw)
                fmt::print("{}\n", v);
            else
                fmt::print("{} {:<12} {:<24} {:<20} p{} key={}\n", field(v, "ts"), field(v, "type"),
                           field(v, "action"), field(v, "campaign"), partition, key);
            std::fflush(stdout);
        });
        return 0;
    }

    std::map<int, uint64_t> per_partition;
    std::map<std::string, uint64_t> ids, campaigns, actions;
    std::set<std::string> visitors;
    std::string first_ts, last_ts;
    uint64_t total = 0;
    bool complete =
        r.run(false, o.timeout_ms, [&](int partition, std::string_view, std::string_view v) {
            ++per_partition[partition];
            ++total;
            if (verify->parsed()) ++ids[std::string(field(v, "id"))];
            if (stats->parsed()) {
                ++campaigns[std::string(field(v, "campaign"))];
                ++actions[std::string(field(v, "action"))];
                if (auto vis = field(v, "visitor"); !vis.empty()) visitors.emplace(vis);
                std::string ts(field(v, "ts"));
                if (first_ts.empty() || ts < first_ts) first_ts = ts;
                if (ts > last_ts) last_ts = ts;
            }
        });
    if (!complete) fmt::print(stderr, "pixelring-consume: timed out before the end\n");

    if (count->parsed()) {
        for (int p = 0; p < r.partitions(); ++p)
            fmt::print("partition {} {}\n", p, per_partition[p]);
        fmt::print("total {}\n", total);
        return complete ? 0 : 1;
    }
    if (verify->parsed()) {
        uint64_t duplicates = 0;
        for (const auto& [id, n] : ids)
            if (n > 1) {
                duplicates += n - 1;
                fmt::print("duplicate {} x{}\n", id, n);
            }
        uint64_t missing = 0;
        if (!ids_file.empty()) {
            std::ifstream in(ids_file);
            if (!in) {
                fmt::print(stderr, "pixelring-consume: --expected-ids {}: cannot read\n", ids_file);
                return 2;
            }
            for (std::string id; std::getline(in, id);)
                if (!id.empty() && !ids.count(id)) {
                    ++missing;
                    fmt::print("missing {}\n", id);
                }
        } else if (uint64_t(expected_count) > ids.size()) {
            missing = uint64_t(expected_count) - ids.size();
        }
        fmt::print("messages {} distinct {} duplicates {} missing {}\n", total, ids.size(),
                   duplicates, missing);
        return missing == 0 && complete ? 0 : 1;
    }
    // stats
    fmt::print("events {} from {} to {}\n", total, first_ts, last_ts);
    if (total > 1 && first_ts.size() >= 23 && last_ts.size() >= 23) {
        auto ms = [](const std::string& ts) {
            std::tm tm{};
            strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
            return double(timegm(&tm)) * 1000 + std::stod(ts.substr(20, 3));
        };
        double span = (ms(last_ts) - ms(first_ts)) / 1000;
        if (span > 0) fmt::print("events/s {:.1f}\n", double(total) / span);
    }
    fmt::print("distinct visitors {}\n", visitors.size());
    for (auto& [name, n] : top(campaigns, 10))
        fmt::print("campaign {} {}\n", name, n);
    for (auto& [name, n] : top(actions, 10))
        fmt::print("action {} {}\n", name, n);
    return complete ? 0 : 1;
}
