// Tests of the configuration contract: defaults, the TOML file, the environment
// (passed as an explicit array, never the real environ), --set, NanoTrack's aliases, the error
// messages operators read, parse_listen_address and to_toml's round trip.

#include "core/config/config.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace pixelring {
namespace {

// An environment block as environ has it: "NAME=VALUE" strings and a null pointer.
class env_block {
public:
    env_block(std::initializer_list<std::string> entries) : entries_(entries) {
        for (const auto& e : entries_)
            pointers_.push_back(e.c_str());
        pointers_.push_back(nullptr);
    }
    const char* const* get() const { return pointers_.data(); }

private:
    std::vector<std::string> entries_;
    std::vector<const char*> pointers_;
};

class config_test : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/pixelring-config-test-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string write_file(const std::string& name, const std::string& text) {
        std::string path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }

    // load_config with the given sources; the error, or "" and cfg filled.
    std::string load(const std::string& file, std::initializer_list<std::string> env,
                     std::vector<std::string> sets = {}) {
        env_block block(env);
        config_sources sources;
        sources.file = file;
        sources.sets = std::move(sets);
        sources.env = block.get();
        return load_config(sources, cfg);
    }
    std::string set(std::vector<std::string> sets) { return load("", {}, std::move(sets)); }

    std::string dir_;
    config cfg;
};

uint32_t online_cpus() {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return static_cast<uint32_t>(n < 1 ? 1 : n > 1024 ? 1024 : n);
}

std::string host_name() {
    char host[HOST_NAME_MAX + 1] = {};
    gethostname(host, sizeof host - 1);
    return host;
}

TEST_F(config_test, defaults_match_design) {
    ASSERT_EQ(load("", {}), "");
    EXPECT_EQ(cfg.server.listen, std::vector<std::string>{"0.0.0.0:8080"});
    EXPECT_EQ(cfg.server.workers, online_cpus());
    EXPECT_EQ(cfg.server.max_connections, 100000u);
    EXPECT_EQ(cfg.server.max_requests_per_connection, 10000u);
    EXPECT_EQ(cfg.server.header_timeout_ms, 10000u);
    EXPECT_EQ(cfg.server.idle_timeout_ms, 60000u);
    EXPECT_EQ(cfg.server.max_header_bytes, 16384u);
    EXPECT_EQ(cfg.server.max_body_bytes, 65536u);
    EXPECT_EQ(cfg.server.ring_bytes, 32u << 20);
    EXPECT_TRUE(cfg.server.trusted_proxies.empty());
    EXPECT_FALSE(cfg.server.proxy_protocol);
    EXPECT_EQ(cfg.server.rate_limit, 0u);
    EXPECT_EQ(cfg.admin.listen, "127.0.0.1:9090");
    EXPECT_EQ(cfg.admin.user, "");
    EXPECT_EQ(cfg.admin.password, "");
    EXPECT_EQ(cfg.sink.type, "file");
    EXPECT_EQ(cfg.sink.file.path, "./events.ndjson");
    EXPECT_EQ(cfg.sink.file.fsync, "interval");
    EXPECT_TRUE(cfg.sink.kafka.brokers.empty());
    EXPECT_EQ(cfg.sink.kafka.topic, "pixelring.events");
    EXPECT_EQ(cfg.sink.kafka.stop_timeout_ms, 10000u);
    EXPECT_TRUE(cfg.sink.kafka.properties.empty());
    EXPECT_EQ(cfg.spool.dir, "./spool");
    EXPECT_EQ(cfg.spool.max_bytes, 10ull << 30);
    EXPECT_EQ(cfg.spool.fsync_ms, 100u);
    EXPECT_EQ(cfg.privacy.ip, "truncate");
    EXPECT_TRUE(cfg.privacy.user_agent);
    EXPECT_EQ(cfg.privacy.visitor_secret, "");
    EXPECT_TRUE(cfg.privacy.honor_dnt);
    EXPECT_EQ(cfg.geoip.city_db, "");
    EXPECT_EQ(cfg.geoip.asn_db, "");
    EXPECT_EQ(cfg.tracking.image, "");
    EXPECT_TRUE(cfg.tracking.allowed_events.empty());
    EXPECT_TRUE(cfg.tracking.cors_origins.empty());
    EXPECT_EQ(cfg.redirect.secret, "");
    EXPECT_TRUE(cfg.redirect.allow_hosts.empty());
    EXPECT_EQ(cfg.collector.name, host_name());

    config without_env;
    ASSERT_EQ(load_config(config_sources{}, without_env), ""); // env = nullptr: ignored
    EXPECT_EQ(without_env, cfg);
}

TEST_F(config_test, file_then_environment_then_set) {
    std::string file = write_file("config.toml", R"(
[server]
workers = 2
listen = ["127.0.0.1:1"]
idle_timeout_ms = 5000
[sink]
type = "stdout"
[privacy]
ip = "full"
[tracking]
image = "/file.gif"
)");
    std::initializer_list<std::string> env = {
        "PIXELRING_SERVER_WORKERS=3", "PIXELRING_SINK_TYPE=file",
        "PIXELRING_SERVER_LISTEN=127.0.0.1:2", "HOME=/root", "PATH=/usr/bin"};
    std::vector<std::string> sets = {"server.workers=4", "server.listen=127.0.0.1:3",
                                     "server.workers=5"};

    ASSERT_EQ(load(file, {}), "");
    EXPECT_EQ(cfg.server.workers, 2u);
    EXPECT_EQ(cfg.server.listen, std::vector<std::string>{"127.0.0.1:1"});
    EXPECT_EQ(cfg.sink.type, "stdout");
    EXPECT_EQ(cfg.server.idle_timeout_ms, 5000u);

    ASSERT_EQ(load(file, env), "");
    EXPECT_EQ(cfg.server.workers, 3u);
    EXPECT_EQ(cfg.server.listen, std::vector<std::string>{"127.0.0.1:2"});
    EXPECT_EQ(cfg.sink.type, "file");
    EXPECT_EQ(cfg.server.idle_timeout_ms, 5000u); // not in env: the file's value stays
    EXPECT_EQ(cfg.privacy.ip, "full");

    ASSERT_EQ(load(file, env, sets), "");
    EXPECT_EQ(cfg.server.workers, 5u); // the last --set wins
    EXPECT_EQ(cfg.server.listen, std::vector<std::string>{"127.0.0.1:3"});
    EXPECT_EQ(cfg.sink.type, "file");
    EXPECT_EQ(cfg.privacy.ip, "full");
    EXPECT_EQ(cfg.tracking.image, "/file.gif");

    ASSERT_EQ(load("", env, sets), ""); // no file: env over defaults, --set over env
    EXPECT_EQ(cfg.server.idle_timeout_ms, 60000u);
    EXPECT_EQ(cfg.privacy.ip, "truncate");
    EXPECT_EQ(cfg.server.workers, 5u);
}

TEST_F(config_test, db_type_alias) {
    ASSERT_EQ(load("", {"PIXELRING_SINK_KAFKA_BROKERS=k:9092"}), "");
    EXPECT_EQ(cfg.sink.type, "kafka");
    ASSERT_EQ(load("", {"DB_TYPE=flatfile", "PIXELRING_SINK_KAFKA_BROKERS=k:9092"}), "");
    EXPECT_EQ(cfg.sink.type, "file");
    ASSERT_EQ(load("", {"DB_TYPE=flatfile", "PIXELRING_SINK_TYPE=stdout"}), "");
    EXPECT_EQ(cfg.sink.type, "stdout"); // PIXELRING_* is above the aliases
    EXPECT_EQ(load("", {"DB_TYPE=mysql"}),
              "DB_TYPE=mysql: only DB_TYPE=flatfile (sink.type = \"file\") is supported; set "
              "sink.type for the other sinks");
}

TEST_F(config_test, disable_tracking_aliases) {
    for (const char* yes : {"true", "1", "yes", "YES", "True"}) {
        ASSERT_EQ(load("", {std::string("DISABLE_IP_TRACKING=") + yes,
                            std::string("DISABLE_USER_AGENT_TRACKING=") + yes}),
                  "")
            << yes;
        EXPECT_EQ(cfg.privacy.ip, "none") << yes;
        EXPECT_FALSE(cfg.privacy.user_agent) << yes;
    }
    for (const char* no : {"false", "0", "no", "NO", ""}) {
        ASSERT_EQ(load("", {std::string("DISABLE_IP_TRACKING=") + no,
                            std::string("DISABLE_USER_AGENT_TRACKING=") + no}),
                  "")
            << no;
        EXPECT_EQ(cfg.privacy.ip, "truncate") << no;
        EXPECT_TRUE(cfg.privacy.user_agent) << no;
    }
    EXPECT_EQ(load("", {"DISABLE_IP_TRACKING=maybe"}),
              "DISABLE_IP_TRACKING=maybe: expected true, 1 or yes (or false, 0, no)");
    EXPECT_EQ(load("", {"DISABLE_USER_AGENT_TRACKING=2"}),
              "DISABLE_USER_AGENT_TRACKING=2: expected true, 1 or yes (or false, 0, no)");

    // Aliases are environment: above the file, below PIXELRING_* and --set.
    std::string file = write_file("c.toml", "[privacy]\nip = \"full\"\n");
    ASSERT_EQ(load(file, {"DISABLE_IP_TRACKING=yes"}), "");
    EXPECT_EQ(cfg.privacy.ip, "none");
    ASSERT_EQ(load(file, {"DISABLE_IP_TRACKING=yes", "PIXELRING_PRIVACY_IP=full"}), "");
    EXPECT_EQ(cfg.privacy.ip, "full");
    ASSERT_EQ(load(file, {"DISABLE_USER_AGENT_TRACKING=1"}, {"privacy.user_agent=true"}), "");
    EXPECT_TRUE(cfg.privacy.user_agent);
}

TEST_F(config_test, dashboard_and_image_aliases) {
    ASSERT_EQ(load("", {"DASHBOARD_USER=ann", "DASHBOARD_PASSWORD=123456",
                        "TRACKING_IMAGE=/srv/logo.png"}),
              "");
    EXPECT_EQ(cfg.admin.user, "ann");
    EXPECT_EQ(cfg.admin.password, "123456"); // plain text, not the TOML integer
    EXPECT_EQ(cfg.tracking.image, "/srv/logo.png");

    ASSERT_EQ(load("",
                   {"DASHBOARD_USER=ann", "PIXELRING_ADMIN_USER=bob",
                    "DASHBOARD_PASSWORD=\"quoted\"", "TRACKING_IMAGE=a.gif"},
                   {"tracking.image=b.gif"}),
              "");
    EXPECT_EQ(cfg.admin.user, "bob");
    EXPECT_EQ(cfg.admin.password, "\"quoted\"");
    EXPECT_EQ(cfg.tracking.image, "b.gif");
}

TEST_F(config_test, one_string_is_a_list_of_one) {
    ASSERT_EQ(set({"server.listen=127.0.0.1:0", "tracking.allowed_events=pageview",
                   "sink.kafka.brokers=\"k1:9092\""}),
              "");
    EXPECT_EQ(cfg.server.listen, std::vector<std::string>{"127.0.0.1:0"});
    EXPECT_EQ(cfg.tracking.allowed_events, std::vector<std::string>{"pageview"});
    EXPECT_EQ(cfg.sink.kafka.brokers, std::vector<std::string>{"k1:9092"});

    ASSERT_EQ(load("", {"PIXELRING_SERVER_LISTEN=[::1]:0", "PIXELRING_REDIRECT_ALLOW_HOSTS=a.com"}),
              "");
    EXPECT_EQ(cfg.server.listen, std::vector<std::string>{"[::1]:0"});
    EXPECT_EQ(cfg.redirect.allow_hosts, std::vector<std::string>{"a.com"});

    std::string file = write_file("c.toml", "[server]\nlisten = \"localhost:80\"\n");
    ASSERT_EQ(load(file, {}), "");
    EXPECT_EQ(cfg.server.listen, std::vector<std::string>{"localhost:80"});
}

TEST_F(config_test, toml_arrays) {
    ASSERT_EQ(set({R"(server.listen=["127.0.0.1:0","[::1]:0"])",
                   R"(server.trusted_proxies=["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"])"}),
              "");
    EXPECT_EQ(cfg.server.listen, (std::vector<std::string>{"127.0.0.1:0", "[::1]:0"}));
    EXPECT_EQ(cfg.server.trusted_proxies,
              (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32", "192.0.2.1"}));

    ASSERT_EQ(load("", {R"(PIXELRING_SINK_KAFKA_BROKERS=["a:9092", "b:9092"])"}), "");
    EXPECT_EQ(cfg.sink.kafka.brokers, (std::vector<std::string>{"a:9092", "b:9092"}));
    EXPECT_EQ(cfg.sink.type, "kafka");

    std::string file = write_file("c.toml", R"(
server.listen = ["0.0.0.0:80", "[::]:80"]
[tracking]
allowed_events = []
cors_origins = ["https://a.example", "https://b.example"]
)");
    ASSERT_EQ(load(file, {}), "");
    EXPECT_EQ(cfg.server.listen, (std::vector<std::string>{"0.0.0.0:80", "[::]:80"}));
    EXPECT_TRUE(cfg.tracking.allowed_events.empty());
    EXPECT_EQ(cfg.tracking.cors_origins,
              (std::vector<std::string>{"https://a.example", "https://b.example"}));
}

TEST_F(config_test, kafka_properties) {
    std::string file = write_file("c.toml", R"(
[sink.kafka]
brokers = ["k:9092"]
[sink.kafka.properties]
"linger.ms" = "5"
"compression.type" = "zstd"
batch.num.messages = 1000
"enable.idempotence" = true
)");
    ASSERT_EQ(load(file, {}), "");
    EXPECT_EQ(cfg.sink.kafka.properties,
              (std::map<std::string, std::string>{{"linger.ms", "5"},
                                                  {"compression.type", "zstd"},
                                                  {"batch.num.messages", "1000"},
                                                  {"enable.idempotence", "true"}}));

    ASSERT_EQ(load(file, {"PIXELRING_SINK_KAFKA_PROPERTIES_LINGER_MS=10"},
                   {"sink.kafka.properties.compression.type=lz4",
                    R"(sink.kafka.properties={"acks" = "all"})"}),
              "");
    EXPECT_EQ(cfg.sink.kafka.properties,
              (std::map<std::string, std::string>{{"linger.ms", "10"},
                                                  {"compression.type", "lz4"},
                                                  {"batch.num.messages", "1000"},
                                                  {"enable.idempotence", "true"},
                                                  {"acks", "all"}}));

    std::string bad = write_file("bad.toml", "[sink.kafka.properties]\n\"linger.ms\" = [5]\n");
    EXPECT_EQ(load(bad, {}), bad + ": sink.kafka.properties.linger.ms = [ 5 ]: expected a "
                                   "librdkafka property name and a string value");
    EXPECT_EQ(set({"sink.kafka.properties=5"}),
              "--set sink.kafka.properties=5: expected a table of librdkafka properties such as "
              "\"linger.ms\" = \"5\"");
}

TEST_F(config_test, sizes_and_text_values) {
    std::string file = write_file("c.toml", "[sink.file]\nrotate_bytes = \"2GiB\"\n");
    ASSERT_EQ(
        load(file, {"PIXELRING_SPOOL_MAX_BYTES=20GiB"},
             {"server.max_body_bytes=1MiB", "server.ring_bytes=\"64KiB\"",
              "server.max_header_bytes=8192", "collector.name=2024-01-01", "admin.user=true"}),
        "");
    EXPECT_EQ(cfg.sink.file.rotate_bytes, 2ull << 30);
    EXPECT_EQ(cfg.spool.max_bytes, 20ull << 30);
    EXPECT_EQ(cfg.server.max_body_bytes, 1u << 20);
    EXPECT_EQ(cfg.server.ring_bytes, 64u << 10);
    EXPECT_EQ(cfg.server.max_header_bytes, 8192u);
    EXPECT_EQ(cfg.collector.name, "2024-01-01"); // a TOML date, taken as typed
    EXPECT_EQ(cfg.admin.user, "true");

    // A size is a number with a unit; a quoted plain number is not an integer.
    EXPECT_EQ(set({"server.max_body_bytes=\"65536\""}),
              "--set server.max_body_bytes=\"65536\": expected a size from 0 to 67108864 bytes "
              "(0 to 64MiB; an integer or a string such as \"64KiB\")");
    EXPECT_EQ(set({"server.max_connections=1KiB"}),
              "--set server.max_connections=1KiB: expected an integer from 1 to 10000000");
    EXPECT_NE(set({"server.max_body_bytes=64kib"}), "");
}

TEST_F(config_test, sink_type_resolution) {
    ASSERT_EQ(set({"sink.kafka.brokers=k:9092"}), "");
    EXPECT_EQ(cfg.sink.type, "kafka");
    ASSERT_EQ(set({"sink.kafka.brokers=k:9092", "sink.type=file"}), "");
    EXPECT_EQ(cfg.sink.type, "file");
    ASSERT_EQ(set({"sink.type=stdout"}), "");
    EXPECT_EQ(cfg.sink.type, "stdout");

    EXPECT_EQ(set({"sink.type=kafka"}),
              "--set sink.type=kafka: sink.kafka.brokers is empty; the kafka sink needs at least "
              "one broker (e.g. --set sink.kafka.brokers=localhost:9092)");
    std::string file = write_file("c.toml", "[sink]\ntype = \"kafka\"\n");
    EXPECT_EQ(load(file, {}),
              file + ": sink.type = \"kafka\": sink.kafka.brokers is empty; the kafka sink needs "
                     "at least one broker (e.g. --set sink.kafka.brokers=localhost:9092)");
    ASSERT_EQ(load(file, {"PIXELRING_SINK_KAFKA_BROKERS=k:9092"}), "");
    EXPECT_EQ(cfg.sink.type, "kafka");
}

// Found by fuzzing: a --set value that is not UTF-8 was taken, and --print-config then wrote a
// file no TOML reader (pixelring included) loads.
TEST_F(config_test, values_that_are_not_utf8_are_refused) {
    EXPECT_EQ(set({"collector.name=edge\xff"}),
              "--set collector.name: the value is not valid UTF-8 (configuration text is UTF-8, "
              "as a TOML file is)");
    EXPECT_EQ(set({"collector.name=caf\xc3\xa9"}), "");
    EXPECT_EQ(cfg.collector.name, "caf\xc3\xa9");
    EXPECT_EQ(load("", {"PIXELRING_COLLECTOR_NAME=edge\xc0\xaf"}),
              "PIXELRING_COLLECTOR_NAME: the value is not valid UTF-8 (configuration text is "
              "UTF-8, as a TOML file is)");
    EXPECT_EQ(load("", {"DASHBOARD_USER=\xff"}), "DASHBOARD_USER: the value is not valid UTF-8");
}

TEST_F(config_test, set_value_errors) {
    const std::pair<std::string, std::string> cases[] = {
        {"server.workers=abc", "expected an integer from 1 to 1024"},
        {"server.workers=0", "expected an integer from 1 to 1024"},
        {"server.workers=1025", "expected an integer from 1 to 1024"},
        {"server.workers=-1", "expected an integer from 1 to 1024"},
        {"server.workers=2.5", "expected an integer from 1 to 1024"},
        {"server.max_connections=0", "expected an integer from 1 to 10000000"},
        {"server.max_connections=10000001", "expected an integer from 1 to 10000000"},
        {"server.max_requests_per_connection=0", "expected an integer from 1 to 10000000"},
        {"server.header_timeout_ms=99", "expected an integer from 100 to 3600000"},
        {"server.idle_timeout_ms=3600001", "expected an integer from 100 to 3600000"},
        {"server.max_header_bytes=1023",
         "expected a size from 1024 to 1048576 bytes (1KiB to 1MiB; an integer or a string "
         "such as \"16KiB\")"},
        {"server.max_body_bytes=67108865",
         "expected a size from 0 to 67108864 bytes (0 to 64MiB; an integer or a string such as "
         "\"64KiB\")"},
        {"server.ring_bytes=3MiB",
         "expected a power of two from 65536 to 1073741824 bytes (64KiB to 1GiB; an integer or "
         "a string such as \"32MiB\")"},
        {"server.ring_bytes=32KiB",
         "expected a power of two from 65536 to 1073741824 bytes (64KiB to 1GiB; an integer or "
         "a string such as \"32MiB\")"},
        {"server.listen=8080",
         "expected a non-empty list of addresses such as 0.0.0.0:8080, [::]:8080 or "
         "localhost:8080 (port 0 to 65535)"},
        {"server.listen=[]", "expected a non-empty list of addresses such as 0.0.0.0:8080, "
                             "[::]:8080 or localhost:8080 (port 0 to 65535)"},
        {"server.listen=0.0.0.0:65536",
         "expected a non-empty list of addresses such as 0.0.0.0:8080, [::]:8080 or "
         "localhost:8080 (port 0 to 65535)"},
        {"admin.listen=example.com:9090", "expected an address such as 0.0.0.0:8080, "
                                          "[::]:8080 or localhost:8080 (port 0 to 65535)"},
        {"server.trusted_proxies=10.0.0.0/33",
         "expected a list of IPv4 or IPv6 CIDRs such as 10.0.0.0/8 or 2001:db8::/32"},
        {"server.trusted_proxies=[1]",
         "expected a list of IPv4 or IPv6 CIDRs such as 10.0.0.0/8 or 2001:db8::/32"},
        {"server.proxy_protocol=1", "expected true or false"},
        {"server.proxy_protocol=yes", "expected true or false"},
        {"privacy.ip=hash", "expected one of truncate, full, none"},
        {"sink.type=kafak", "expected one of file, kafka, stdout"},
        {"sink.file.fsync=sometimes", "expected one of never, interval, always"},
        {"sink.kafka.topic=\"\"", "expected a non-empty string"},
        {"tracking.cors_origins=[1, 2]", "expected a string or an array of strings"},
    };
    for (const auto& [argument, accepted] : cases)
        EXPECT_EQ(set({argument}), "--set " + argument + ": " + accepted);

    EXPECT_EQ(set({R"(server.listen=["127.0.0.1:80", "nope:80"])"}),
              R"(--set server.listen=["127.0.0.1:80", "nope:80"]: bad element "nope:80"; )"
              "expected a non-empty list of addresses such as 0.0.0.0:8080, [::]:8080 or "
              "localhost:8080 (port 0 to 65535)");
    EXPECT_EQ(set({"server.workers"}),
              "--set server.workers: expected KEY=VALUE, e.g. --set server.workers=4");
    EXPECT_EQ(set({"admin.password=<redacted>"}),
              "--set admin.password=<redacted>: this is the placeholder --print-config prints "
              "for a secret; give the secret itself");
}

TEST_F(config_test, file_value_errors) {
    auto load_text = [&](const std::string& text) {
        return load(write_file("config.toml", text), {});
    };
    std::string path = dir_ + "/config.toml";
    EXPECT_EQ(load_text("[sink]\ntype = \"kafak\"\n"),
              path + ": sink.type = \"kafak\": expected one of file, kafka, stdout");
    EXPECT_EQ(load_text("[server]\nworkers = \"8\"\n"),
              path + ": server.workers = \"8\": expected an integer from 1 to 1024");
    EXPECT_EQ(load_text("[server]\nlisten = 8080\n"),
              path + ": server.listen = 8080: expected a non-empty list of addresses such as "
                     "0.0.0.0:8080, [::]:8080 or localhost:8080 (port 0 to 65535)");
    EXPECT_EQ(load_text("[admin]\nuser = 5\n"), path + ": admin.user = 5: expected a string");
    EXPECT_EQ(load_text("[privacy]\nhonor_dnt = \"yes\"\n"),
              path + ": privacy.honor_dnt = \"yes\": expected true or false");
    EXPECT_EQ(load_text("server = 5\n"), path + ": server = 5: expected a table [server]");
    EXPECT_EQ(load_text("sink.kafka = \"k:9092\"\n"),
              path + ": sink.kafka = \"k:9092\": expected a table [sink.kafka]");
}

TEST_F(config_test, environment_value_errors) {
    std::string error = load("", {"PIXELRING_SERVER_LISTEN=nonsense"});
    EXPECT_EQ(error, "PIXELRING_SERVER_LISTEN=nonsense: expected a non-empty list of addresses "
                     "such as 0.0.0.0:8080, [::]:8080 or localhost:8080 (port 0 to 65535)");
    error = load("", {"PIXELRING_SERVER_HEADER_TIMEOUT_MS=10"});
    EXPECT_EQ(error, "PIXELRING_SERVER_HEADER_TIMEOUT_MS=10: expected an integer from 100 to "
                     "3600000");
    error = load("", {"PIXELRING_SINK_FILE_FSYNC_INTERVAL_MS=0"});
    EXPECT_NE(error.find("PIXELRING_SINK_FILE_FSYNC_INTERVAL_MS=0"), std::string::npos);
    EXPECT_NE(error.find("from 1 to 3600000"), std::string::npos);
}

TEST_F(config_test, unknown_keys_name_a_suggestion) {
    std::string path = write_file("config.toml", "[server]\nlistn = [\"127.0.0.1:80\"]\n");
    EXPECT_EQ(load(path, {}),
              "unknown key \"server.listn\" in " + path + " (did you mean server.listen?)");
    path = write_file("config.toml", "[sever]\nworkers = 2\n");
    EXPECT_EQ(load(path, {}),
              "unknown key \"sever.workers\" in " + path + " (did you mean server.workers?)");
    path = write_file("config.toml", "[sink.kafka]\nbroker = \"k:9092\"\n");
    EXPECT_EQ(load(path, {}), "unknown key \"sink.kafka.broker\" in " + path +
                                  " (did you mean sink.kafka.brokers?)");
    path = write_file("config.toml", "colour = \"blue\"\n");
    EXPECT_EQ(load(path, {}),
              "unknown key \"colour\" in " + path + " (pixelring --print-config lists every key)");

    EXPECT_EQ(set({"server.listn=127.0.0.1:80"}),
              "unknown key \"server.listn\" in --set server.listn=127.0.0.1:80 (did you mean "
              "server.listen?)");
    EXPECT_EQ(set({"privacy.honour_dnt=false"}),
              "unknown key \"privacy.honour_dnt\" in --set privacy.honour_dnt=false (did you "
              "mean privacy.honor_dnt?)");

    EXPECT_EQ(load("", {"PIXELRING_SERVER_LISTN=127.0.0.1:80"}),
              "unknown environment variable PIXELRING_SERVER_LISTN (did you mean "
              "PIXELRING_SERVER_LISTEN?)");
    EXPECT_EQ(load("", {"PIXELRING_DEBUG=1"}),
              "unknown environment variable PIXELRING_DEBUG (pixelring --print-config lists "
              "every key)");
    EXPECT_EQ(load("", {"NOT_PIXELRING_X=1", "PIXELRINGX=1"}), ""); // other variables: ignored
}

TEST_F(config_test, toml_syntax_error_names_file_line_and_column) {
    std::string path = write_file("config.toml", "[server]\nworkers = = 2\n");
    EXPECT_EQ(load(path, {}),
              path + ":2:11: Error while parsing value: could not determine value type");
}

TEST_F(config_test, missing_file_names_path_and_reason) {
    std::string path = dir_ + "/missing.toml";
    EXPECT_EQ(load(path, {}), "--config " + path + ": No such file or directory");
    EXPECT_EQ(load(dir_, {}), "--config " + dir_ + ": Is a directory");
}

TEST_F(config_test, error_leaves_config_unchanged) {
    ASSERT_EQ(set({"server.workers=7"}), "");
    config before = cfg;
    EXPECT_NE(set({"server.workers=9", "server.workers=abc"}), "");
    EXPECT_EQ(cfg, before);
}

TEST(parse_listen_address, accepts_ipv4_ipv6_and_localhost) {
    struct valid_case {
        std::string text;
        int family;
        std::string address;
        uint16_t port;
    };
    const valid_case cases[] = {
        {"127.0.0.1:8080", AF_INET, "127.0.0.1", 8080},
        {"0.0.0.0:0", AF_INET, "0.0.0.0", 0},
        {"[::1]:8080", AF_INET6, "::1", 8080},
        {"[::]:80", AF_INET6, "::", 80},
        {"localhost:8080", AF_INET, "127.0.0.1", 8080},
        {"1.2.3.4:65535", AF_INET, "1.2.3.4", 65535},
    };
    for (const auto& c : cases) {
        sockaddr_storage address{};
        unsigned len = 0;
        ASSERT_TRUE(parse_listen_address(c.text, address, len)) << c.text;
        ASSERT_EQ(address.ss_family, c.family) << c.text;
        char text[INET6_ADDRSTRLEN] = {};
        if (c.family == AF_INET) {
            const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
            EXPECT_EQ(len, sizeof(sockaddr_in));
            EXPECT_EQ(ntohs(v4.sin_port), c.port) << c.text;
            inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
        } else {
            const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
            EXPECT_EQ(len, sizeof(sockaddr_in6));
            EXPECT_EQ(ntohs(v6.sin6_port), c.port) << c.text;
            inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
        }
        EXPECT_EQ(text, c.address) << c.text;
    }
}

TEST(parse_listen_address, refuses_everything_else) {
    for (const char* text :
         {"", "8080", ":8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
          "127.0.0.1:+80", "127.0.0.1:8o", "1.2.3:80", "::1:80", "[::1]", "[::1]:", "[::1]:x",
          "[1.2.3.4]:80", "example.com:80", "localhost", "0.0.0.0:080800", "[::1:80"}) {
        sockaddr_storage address{};
        unsigned len = 0;
        EXPECT_FALSE(parse_listen_address(text, address, len)) << text;
    }
}

TEST_F(config_test, to_toml_round_trip) {
    ASSERT_EQ(load("", {}), "");
    std::string path = write_file("defaults.toml", to_toml(cfg));
    config defaults = cfg;
    ASSERT_EQ(load(path, {}), "");
    EXPECT_EQ(cfg, defaults);

    ASSERT_EQ(
        set({R"(server.listen=["127.0.0.1:0", "[::1]:0"])",
             "server.workers=3",
             "server.max_connections=77",
             "server.max_requests_per_connection=5",
             "server.header_timeout_ms=1000",
             "server.idle_timeout_ms=2000",
             "server.max_header_bytes=2KiB",
             "server.max_body_bytes=0",
             "server.ring_bytes=1MiB",
             "server.trusted_proxies=[\"10.0.0.0/8\", \"::1\"]",
             "server.proxy_protocol=true",
             "server.rate_limit=9",
             "admin.listen=[::1]:9091",
             "admin.user=ops",
             "sink.type=stdout",
             "sink.file.path=/var/lib/pixelring/events.ndjson",
             "sink.file.rotate_bytes=0",
             "sink.file.rotate_seconds=3600",
             "sink.file.fsync=always",
             "sink.file.fsync_interval_ms=5",
             "sink.file.drop_cache=false",
             "sink.file.direct=false",
             "sink.kafka.brokers=[\"a:1\", \"b:2\"]",
             "sink.kafka.topic=t",
             "sink.kafka.properties.linger.ms=5",
             "sink.kafka.properties.client.id=a \"quoted\" \\ id",
             "spool.dir=/var/spool/pixelring",
             "spool.max_bytes=1GiB",
             "spool.fsync_ms=7",
             "privacy.ip=none",
             "privacy.user_agent=false",
             "privacy.honor_dnt=false",
             "geoip.city_db=/g/city.mmdb",
             "geoip.asn_db=/g/asn.mmdb",
             R"(tracking.image="/img/\u00e9t\u00e9\tpixel.gif\n")",
             "tracking.allowed_events=[\"open\", \"click\"]",
             "tracking.cors_origins=https://a.example",
             "redirect.allow_hosts=[\"example.com\"]",
             "tls.cert=/etc/a.pem",
             "tls.key=/etc/a.key",
             R"(tls.certificates=[{cert="/etc/b.pem", key="/etc/b.key"},)"
             R"( {cert="/etc/c \"q\".pem", key="/etc/c.key", names=["c.example", "*.c.example"]}])",
             "tls.acme_webroot=/var/lib/pixelring/acme",
             "collector.name=edge-1 # one"}),
        "");
    config expected = cfg;
    EXPECT_EQ(expected.tracking.image, "/img/\u00e9t\u00e9\tpixel.gif\n");
    EXPECT_EQ(expected.collector.name, "edge-1 # one");
    std::string text = to_toml(expected);
    ASSERT_EQ(load(write_file("round.toml", text), {}), "") << text;
    EXPECT_EQ(cfg, expected) << text;
    EXPECT_EQ(to_toml(cfg), text);
}

// [[tls.certificates]]: an array of tables, in a file or inline in --set and the environment.
TEST_F(config_test, tls_certificates) {
    ASSERT_EQ(load(write_file("tls.toml", R"(
[server]
tls_listen = ["127.0.0.1:8443"]

[[tls.certificates]]
cert = "/etc/pixelring/a.pem"
key = "/etc/pixelring/a.key"

[[tls.certificates]]
cert = "/etc/pixelring/b.pem"
key = "/etc/pixelring/b.key"
names = "b.example"
)"),
                   {}),
              "");
    ASSERT_EQ(cfg.tls.certificates.size(), 2u);
    EXPECT_EQ(cfg.tls.certificates[0].cert, "/etc/pixelring/a.pem");
    EXPECT_EQ(cfg.tls.certificates[0].names, std::vector<std::string>{});
    EXPECT_EQ(cfg.tls.certificates[1].key, "/etc/pixelring/b.key");
    EXPECT_EQ(cfg.tls.certificates[1].names, std::vector<std::string>{"b.example"});
    EXPECT_EQ(cfg.tls.cert, ""); // tls.cert may be left out when certificates are given

    ASSERT_EQ(load("", {R"(PIXELRING_TLS_CERTIFICATES=[{cert="e.pem", key="e.key"}])"}), "");
    ASSERT_EQ(cfg.tls.certificates.size(), 1u);
    EXPECT_EQ(cfg.tls.certificates[0].cert, "e.pem");

    std::string e = set({R"(tls.certificates=[{cert="a.pem"}])"});
    EXPECT_NE(e.find("certificate 1: cert and key are both required; expected an array of "
                     "tables with cert and key"),
              std::string::npos)
        << e;
    e = set({R"(tls.certificates=[{cert="a.pem", key="a.key"}, {cert="b.pem", key="b.key", )"
             R"(name="b.example"}])"});
    EXPECT_NE(e.find("certificate 2: unknown key \"name\""), std::string::npos) << e;
    e = set({R"(tls.certificates=["a.pem"])"});
    EXPECT_NE(e.find("certificate 1: not a table"), std::string::npos) << e;
    e = set({R"(tls.certificates=[{cert="a.pem", key="a.key", names=[1]}])"});
    EXPECT_NE(e.find("certificate 1: names holds a non-name"), std::string::npos) << e;
    e = set({"tls.certificates=a.pem"});
    EXPECT_NE(e.find("--set tls.certificates=a.pem: expected an array of tables"),
              std::string::npos)
        << e;
    e = set({"tls.cert=a.pem"});
    EXPECT_NE(e.find("--set tls.cert=a.pem: tls.cert and tls.key go together"), std::string::npos)
        << e;
    e = set({"server.tls_listen=127.0.0.1:8443"});
    EXPECT_NE(e.find("so tls.cert and tls.key must name"), std::string::npos) << e;
}

TEST_F(config_test, to_toml_comments_every_key_and_groups_sections) {
    ASSERT_EQ(set({"sink.kafka.properties.linger.ms=5"}), "");
    std::string text = to_toml(cfg);
    for (const char* section :
         {"\n[server]\n", "\n[admin]\n", "\n[sink]\n", "\n[sink.file]\n", "\n[sink.kafka]\n",
          "\n[sink.kafka.properties]\n", "\n[spool]\n", "\n[privacy]\n", "\n[geoip]\n",
          "\n[tracking]\n", "\n[redirect]\n", "\n[collector]\n"})
        EXPECT_NE(text.find(section), std::string::npos) << section;
    EXPECT_NE(text.find("\"linger.ms\" = \"5\"\n"), std::string::npos);
    // Every key line follows its comment (properties share their table's comment).
    std::istringstream lines(text);
    std::string previous, line;
    int keys = 0;
    while (std::getline(lines, line)) {
        if (!line.empty() && line[0] != '#' && line[0] != '[' && line[0] != '"') {
            ++keys;
            EXPECT_EQ(previous.rfind("# ", 0), 0u) << line;
        }
        previous = line;
    }
    EXPECT_EQ(keys, 54); // every key of the table but the properties table itself
}

TEST_F(config_test, to_toml_redacts_secrets) {
    ASSERT_EQ(set({"admin.password=hunter2", "privacy.visitor_secret=fleet-salt",
                   "redirect.secret=hmac-key"}),
              "");
    std::string text = to_toml(cfg);
    EXPECT_EQ(text.find("hunter2"), std::string::npos);
    EXPECT_EQ(text.find("fleet-salt"), std::string::npos);
    EXPECT_EQ(text.find("hmac-key"), std::string::npos);
    EXPECT_NE(text.find("password = \"<redacted>\"\n"), std::string::npos);
    EXPECT_NE(text.find("visitor_secret = \"<redacted>\"\n"), std::string::npos);
    EXPECT_NE(text.find("secret = \"<redacted>\"\n"), std::string::npos);

    // The placeholder is refused when read back, rather than becoming the secret; the secrets
    // may come from another source.
    std::string path = write_file("printed.toml", text);
    EXPECT_EQ(load(path, {}), path + ": admin.password = \"<redacted>\": this is the "
                                     "placeholder --print-config prints for a secret; give the "
                                     "secret itself");
    ASSERT_EQ(load(path, {}, {"admin.password=a", "privacy.visitor_secret=b", "redirect.secret=c"}),
              "");
    EXPECT_EQ(cfg.admin.password, "a");
}

} // namespace
} // namespace pixelring
