// pixelring-devkafka: a development Kafka on loopback, librdkafka's mock cluster
// (rdkafka_mock.h) speaking the real Kafka protocol. It pre-creates topics (the mock refuses
// CreateTopics), prints the bootstrap string, and takes fault commands on a control FIFO
// until SIGTERM or SIGINT. The mock keeps only about 5 MiB per partition: give topics enough
// partitions and key the messages.

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void on_stop(int) {
    stop_requested = 1;
}

constexpr const char* control_help =
    "control commands, one per line:\n"
    "  down <broker-id>|all        take brokers down (connections refused)\n"
    "  up <broker-id>|all          bring them back\n"
    "  leader <topic> <partition> <broker-id>\n"
    "  rtt <broker-id>|all <ms>    add round-trip time\n"
    "  errors <api-key> <count> <error-code>   fail the next <count> requests of an API\n"
    "                              (api-key 0 = Produce; error 7 = REQUEST_TIMED_OUT)\n"
    "  clear <api-key>             drop injected errors of an API\n";

struct topic_spec {
    std::string name;
    int partitions = 1;
};

bool parse_topic(const std::string& text, topic_spec& out) {
    size_t colon = text.rfind(':');
    out.name = text.substr(0, colon);
    out.partitions = 1;
    if (colon != std::string::npos) {
        try {
            out.partitions = std::stoi(text.substr(colon + 1));
        } catch (...) {
            return false;
        }
    }
    return !out.name.empty() && out.partitions >= 1 && out.partitions <= 10000;
}

// Applies one control command; returns "ok ..." or "error ...".
std::string apply(rd_kafka_mock_cluster_t* mc, int brokers, const std::string& line) {
    std::istringstream in(line);
    std::string verb;
    in >> verb;
    auto for_brokers = [&](const std::string& which, auto&& fn) -> std::string {
        if (which == "all") {
            for (int id = 1; id <= brokers; ++id)
                if (rd_kafka_resp_err_t e = fn(id); e) return rd_kafka_err2str(e);
            return {};
        }
        int id = 0;
        try {
            id = std::stoi(which);
        } catch (...) {
            return "not a broker id: " + which;
        }
        if (id < 1 || id > brokers) return fmt::format("broker ids are 1 to {}", brokers);
        rd_kafka_resp_err_t e = fn(id);
        return e ? rd_kafka_err2str(e) : std::string();
    };
    std::string err;
    if (verb == "down" || verb == "up") {
        std::string which;
        in >> which;
        bool down = verb == "down";
        err = for_brokers(which, [&](int id) {
            return down ? rd_kafka_mock_broker_set_down(mc, id)
                        : rd_kafka_mock_broker_set_up(mc, id);
        });
    } else if (verb == "leader") {
        std::string topic;
        int partition = -1, broker = -1;
        if (!(in >> topic >> partition >> broker))
            return "error: usage: leader <topic> <partition> <broker-id>";
        rd_kafka_resp_err_t e =
            rd_kafka_mock_partition_set_leader(mc, topic.c_str(), partition, broker);
        if (e) err = rd_kafka_err2str(e);
    } else if (verb == "rtt") {
        std::string which;
        int ms = -1;
        if (!(in >> which >> ms) || ms < 0) return "error: usage: rtt <broker-id>|all <ms>";
        err = for_brokers(which, [&](int id) { return rd_kafka_mock_broker_set_rtt(mc, id, ms); });
    } else if (verb == "errors") {
        int api = -1, count = 0, code = 0;
        if (!(in >> api >> count >> code) || api < 0 || count < 1 || count > 100000)
            return "error: usage: errors <api-key> <count 1..100000> <error-code>";
        std::vector<rd_kafka_resp_err_t> codes(size_t(count),
                                               static_cast<rd_kafka_resp_err_t>(code));
        rd_kafka_mock_push_request_errors_array(mc, int16_t(api), size_t(count), codes.data());
    } else if (verb == "clear") {
        int api = -1;
        if (!(in >> api) || api < 0) return "error: usage: clear <api-key>";
        rd_kafka_mock_clear_request_errors(mc, int16_t(api));
    } else if (verb.empty()) {
        return {};
    } else {
        return "error: unknown command \"" + verb + "\"\n" + control_help;
    }
    return err.empty() ? "ok " + line : "error " + line + ": " + err;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"pixelring-devkafka: a local development Kafka (librdkafka's mock cluster) on "
                 "loopback, for tests and for running pixelring against Kafka on one machine."};
    int brokers = 3;
    std::vector<std::string> topics{"pixelring.events:8"};
    std::string bootstrap_file;
    std::string control;
    app.add_option("-b,--brokers", brokers, "number of brokers")->check(CLI::Range(1, 16));
    app.add_option("-t,--topic", topics,
                   "NAME:PARTITIONS to create, repeatable (the mock refuses CreateTopics)")
        ->type_name("NAME:PARTITIONS");
    app.add_option(
        "--bootstrap-file", bootstrap_file,
        "also write the bootstrap string to this file (written once the brokers listen)");
    app.add_option("--control", control,
                   "a FIFO (created if missing) that takes fault commands; see below");
    app.footer(control_help);
    CLI11_PARSE(app, argc, argv);

    std::vector<topic_spec> specs;
    for (const std::string& t : topics) {
        topic_spec spec;
        if (!parse_topic(t, spec)) {
            fmt::print(stderr,
                       "pixelring-devkafka: --topic \"{}\": expected NAME:PARTITIONS with "
                       "1 to 10000 partitions\n",
                       t);
            return 2;
        }
        specs.push_back(spec);
    }

    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fmt::print(stderr, "pixelring-devkafka: rd_kafka_new: {}\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fmt::print(stderr, "pixelring-devkafka: could not start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    const int replication = brokers < 3 ? brokers : 3;
    for (const topic_spec& t : specs) {
        if (rd_kafka_resp_err_t e =
                rd_kafka_mock_topic_create(mc, t.name.c_str(), t.partitions, replication)) {
            fmt::print(stderr, "pixelring-devkafka: topic {}: {}\n", t.name, rd_kafka_err2str(e));
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 1;
        }
    }
    std::string bootstrap = rd_kafka_mock_cluster_bootstraps(mc);

    int control_fd = -1;
    if (!control.empty()) {
        if (::mkfifo(control.c_str(), 0600) != 0 && errno != EEXIST) {
            fmt::print(stderr, "pixelring-devkafka: --control {}: {}\n", control,
                       std::strerror(errno));
            return 1;
        }
        // O_RDWR keeps the FIFO open (no EOF) between writers.
        control_fd = ::open(control.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (control_fd < 0) {
            fmt::print(stderr, "pixelring-devkafka: --control {}: {}\n", control,
                       std::strerror(errno));
            return 1;
        }
    }
    if (!bootstrap_file.empty()) {
        std::string tmp = bootstrap_file + ".tmp";
        std::ofstream(tmp) << bootstrap << '\n';
        if (std::rename(tmp.c_str(), bootstrap_file.c_str()) != 0) {
            fmt::print(stderr, "pixelring-devkafka: --bootstrap-file {}: {}\n", bootstrap_file,
                       std::strerror(errno));
            return 1;
        }
    }
    std::string topic_list;
    for (const topic_spec& t : specs)
        topic_list += fmt::format(" {}:{}", t.name, t.partitions);
    fmt::print("pixelring-devkafka bootstrap {} brokers {} topics{}{}\n", bootstrap, brokers,
               topic_list, control.empty() ? "" : " control " + control);
    std::fflush(stdout);

    std::signal(SIGTERM, on_stop);
    std::signal(SIGINT, on_stop);
    std::string pending;
    while (!stop_requested) {
        pollfd p{control_fd, POLLIN, 0};
        int n = ::poll(control_fd >= 0 ? &p : nullptr, control_fd >= 0 ? 1 : 0, 200);
        if (n <= 0 || control_fd < 0) continue;
        char buf[4096];
        ssize_t got = ::read(control_fd, buf, sizeof buf);
        if (got <= 0) continue;
        pending.append(buf, size_t(got));
        for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
            std::string line = pending.substr(0, eol);
            pending.erase(0, eol + 1);
            fmt::print(stderr, "pixelring-devkafka: {}\n", apply(mc, brokers, line));
        }
    }
    if (control_fd >= 0) ::close(control_fd);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
