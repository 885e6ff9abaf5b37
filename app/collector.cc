#include "app/collector.hh"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "app/dashboard_setup.hh"
#include "app/service_status.hh"
#include "app/sink_thread.hh"
#include "app/tls_setup.hh"
#include "core/base/clock.hh"
#include "core/metrics.hh"
#include "core/policy/action_allowlist.hh"
#include "core/sink_gate.hh"
#include "core/spsc_ring.hh"
#include "dashboard/basic_auth.hh"
#include "dashboard/event_stats.hh"
#include "net/admin_server.hh"
#include "net/listener.hh"
#include "net/uring/uring_setup.hh"
#include "net/worker/worker.hh"
#include "sinks/file/file_sink.hh"
#include "sinks/kafka/kafka_sink.hh"
#include "sinks/stdout_sink.hh"
#include "systemd/service_manager.hh"
#include "tls/kernel_tls.hh"
#include "tls/tls_context.hh"
#include "tls/tls_status.hh"
#include "tls/tls_store.hh"

namespace pixelring {

namespace {

// CPUs this process may run on, in order: worker i is pinned to cpus[i % size].
std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int i = 0; i < CPU_SETSIZE; ++i)
            if (CPU_ISSET(i, &set)) cpus.push_back(i);
    return cpus;
}

// Every connection is a file descriptor: raise the soft limit to the hard one, and say so
// when even that is short of server.max_connections (plus room for listeners, files, Kafka).
void raise_descriptor_limit(uint32_t max_connections) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    if (lim.rlim_cur < lim.rlim_max) {
        rlimit want = lim;
        want.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) lim = want;
    }
    constexpr rlim_t reserve = 1024;
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < rlim_t(max_connections) + reserve)
        fmt::print(stderr,
                   "pixelring: warning: server.max_connections = {} but the process may open "
                   "only {} file descriptors (RLIMIT_NOFILE; systemd: LimitNOFILE=); beyond "
                   "about {} connections accepting pauses and pixelring_accept_errors_total "
                   "counts it\n",
                   max_connections, uint64_t(lim.rlim_cur),
                   lim.rlim_cur > reserve ? uint64_t(lim.rlim_cur - reserve) : 0);
}

// The collector's objects, declared in the order they are made: they are destroyed in the
// reverse order, after every thread that uses them has stopped.
struct collector_parts {
    sigset_t signals{};
    inherited_sockets inherited;
    bool activated = false;
    service_notifier notifier;
    std::unique_ptr<sink> out;
    enrichment_setup enrichment;
    tracking_image image;
    redirect_policy redirects;
    action_allowlist allowed_events;
    // The ticket keys outlive every context (and so every session) made with them.
    std::unique_ptr<ticket_keys> tickets;
    std::unique_ptr<tls_store> tls;
    tls_status tls_state;
    public_listeners listeners;
    public_listeners tls_listeners;
    int admin_fd = -1;
    std::string admin_bound;
    std::vector<std::unique_ptr<spsc_byte_ring>> rings;
    std::unique_ptr<worker_counters[]> counters;
    drain_counters drain;
    sink_gate gate;
    std::vector<std::unique_ptr<worker>> pool;
    std::vector<std::thread> threads;
    std::vector<std::string> worker_errors;
    std::string dashboard_off; // dashboard_off_reason; empty: on, and stats counts
    std::unique_ptr<event_stats> stats;
    stats_board board;
    std::unique_ptr<sink_thread> drainer;
    metrics_view view;
    std::atomic<uint64_t> auth_failures{0};
    std::unique_ptr<basic_auth> auth;
    std::unique_ptr<admin_server> admin;
};

// SIGTERM, SIGINT and SIGHUP are blocked before any thread exists (the file sink starts one),
// so every thread inherits the mask and only the main thread takes them, with sigtimedwait.
void block_stop_signals(collector_parts& p) {
    sigemptyset(&p.signals);
    sigaddset(&p.signals, SIGTERM);
    sigaddset(&p.signals, SIGINT);
    sigaddset(&p.signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &p.signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

// io_uring as the workers need it, descriptors for server.max_connections, and the sockets
// systemd hands over (pixelring.socket: listening sockets that outlive this process, so that
// a restart refuses no connection). 0, or the exit code.
int check_machine(const config& cfg, collector_parts& p) {
    if (std::string err = probe_io_uring(); !err.empty()) {
        fmt::print(stderr, "pixelring: this kernel cannot run pixelring: {}\n", err);
        return 1;
    }
    raise_descriptor_limit(cfg.server.max_connections);
    if (std::string err = take_inherited_sockets(p.inherited); !err.empty()) {
        fmt::print(stderr, "pixelring: {}\n", err);
        return 1;
    }
    p.activated = !p.inherited.public_fds.empty();
    return 0;
}

// The sink of sink.type: the event file, Kafka with its spool, or stdout.
int build_sink(const config& cfg, collector_parts& p) {
    std::string error;
    if (cfg.sink.type == "file") {
        p.out = make_file_sink(cfg.sink.file, error);
        if (p.out) {
            std::error_code ec;
            auto abs = std::filesystem::absolute(cfg.sink.file.path, ec);
            fmt::print(stderr, "pixelring: writing events to {} (sink.file.path)\n",
                       ec ? cfg.sink.file.path : abs.string());
        }
    } else if (cfg.sink.type == "stdout") {
        p.out = make_stdout_sink();
    } else if (cfg.sink.type == "kafka") {
        spool_settings ss;
        ss.dir = cfg.spool.dir;
        ss.max_bytes = cfg.spool.max_bytes;
        ss.fsync_ms = cfg.spool.fsync_ms;
        std::unique_ptr<spool> sp = spool::open(ss, error);
        if (sp)
            p.out = make_kafka_sink(cfg.sink.kafka, std::move(sp), error, cfg.spool.max_memory_ms);
        if (p.out) {
            std::error_code ec;
            auto abs = std::filesystem::absolute(cfg.spool.dir, ec);
            fmt::print(stderr,
                       "pixelring: producing events to Kafka topic {} at {}; undelivered events "
                       "wait in {} (spool.dir)\n",
                       cfg.sink.kafka.topic, fmt::join(cfg.sink.kafka.brokers, ","),
                       ec ? cfg.spool.dir : abs.string());
        }
    } else {
        error = fmt::format("sink.type = \"{}\": accepted: file, kafka, stdout", cfg.sink.type);
    }
    if (!p.out) {
        fmt::print(stderr, "pixelring: {}\n", error);
        return 1;
    }
    return 0;
}

// What a request may become: enrichment, the tracking image, the /r/ policy and
// tracking.allowed_events, each built once and read by every worker.
int build_request_policy(const config& cfg, collector_parts& p) {
    std::string err = make_enrichment_setup(cfg, p.enrichment);
    if (err.empty() && !cfg.tracking.image.empty())
        err = load_tracking_image(cfg.tracking.image, p.image);
    if (err.empty())
        err = make_redirect_policy(cfg.redirect.secret, cfg.redirect.allow_hosts, p.redirects);
    if (err.empty()) err = action_allowlist::build(cfg.tracking.allowed_events, p.allowed_events);
    if (!err.empty()) {
        fmt::print(stderr, "pixelring: configuration error: {}\n", err);
        return 2;
    }
    return 0;
}

// With server.tls_listen: the ticket keys, the first TLS context and the store the workers
// read it from.
int build_tls(const config& cfg, collector_parts& p) {
    if (!cfg.server.tls_listen.empty()) {
        loaded_tls loaded;
        if (!load_tls(cfg.tls, monotonic_ms(), loaded)) return 2;
        p.tickets = std::move(loaded.tickets);
        std::unique_ptr<tls_context> first = std::move(loaded.context);
        log_certificates(*first, "");
        fmt::print(stderr, "pixelring: tls: {}\n", p.tickets->describe());
        const kernel_tls_probe ktls = probe_kernel_tls();
        fmt::print(stderr, "pixelring: tls: {}\n", ktls.log_line);
        p.tls_state.set_kernel_tls(ktls.offered);
        p.tls_state.set(first->certificates());
        p.tls_state.set_tickets(p.tickets.get());
        p.tls = std::make_unique<tls_store>(std::move(first), cfg.server.workers);
    }
    if (std::error_code ec;
        !cfg.tls.acme_webroot.empty() && !std::filesystem::is_directory(cfg.tls.acme_webroot, ec))
        fmt::print(stderr,
                   "pixelring: warning: tls.acme_webroot = {}: not a directory; ACME challenges "
                   "are answered 404 until it is (certbot --webroot -w {} writes into it)\n",
                   cfg.tls.acme_webroot, cfg.tls.acme_webroot);
    return 0;
}

// The public listeners (inherited from systemd or opened here, one per worker with
// SO_REUSEPORT), the HTTPS listeners (always pixelring's own) and the admin listener.
int open_listeners(const config& cfg, collector_parts& p) {
    const unsigned workers = cfg.server.workers;
    std::string err = p.activated
                          ? adopt_public_listeners(p.inherited.public_fds, workers, p.listeners)
                          : open_public_listeners(cfg.server.listen, workers, 4096, p.listeners);
    if (err.empty())
        err = open_public_listeners(cfg.server.tls_listen, workers, 4096, p.tls_listeners);
    p.admin_fd = p.inherited.admin_fd;
    if (err.empty()) {
        if (p.admin_fd >= 0)
            p.admin_bound = local_address_text(p.admin_fd);
        else
            err = open_admin_listener(cfg.admin.listen, p.admin_fd, p.admin_bound);
    }
    if (!err.empty()) {
        fmt::print(stderr, "pixelring: {}\n", err);
        return 1;
    }
    return 0;
}

// What each worker is given: its listeners, the limits, the privacy and encoding options and
// the objects every worker reads.
worker_settings settings_for(const config& cfg, collector_parts& p, unsigned i,
                             const std::vector<int>& cpus) {
    const unsigned workers = cfg.server.workers;
    worker_settings s;
    s.index = i;
    s.cpu = cpus.empty() ? -1 : cpus[i % cpus.size()];
    s.listen_fds = p.listeners.fds[i];
    if (p.tls) {
        s.first_tls_listener = uint32_t(s.listen_fds.size());
        s.listen_fds.insert(s.listen_fds.end(), p.tls_listeners.fds[i].begin(),
                            p.tls_listeners.fds[i].end());
        s.tls = p.tls.get();
    }
    s.limits.max_header_bytes = cfg.server.max_header_bytes;
    s.limits.max_body_bytes = cfg.server.max_body_bytes;
    s.encode.ip = cfg.privacy.ip == "full"   ? ip_privacy::full
                  : cfg.privacy.ip == "none" ? ip_privacy::none
                                             : ip_privacy::truncate;
    s.encode.user_agent = cfg.privacy.user_agent;
    s.encode.collector = cfg.collector.name;
    s.max_connections = (cfg.server.max_connections + workers - 1) / workers;
    s.max_requests_per_connection = cfg.server.max_requests_per_connection;
    s.header_timeout_ms = cfg.server.header_timeout_ms;
    s.idle_timeout_ms = cfg.server.idle_timeout_ms;
    s.enrichment = &p.enrichment;
    s.image = cfg.tracking.image.empty() ? nullptr : &p.image;
    s.redirect = &p.redirects;
    s.allowed_events = &p.allowed_events;
    s.cors_origins = &cfg.tracking.cors_origins;
    s.acme_webroot = &cfg.tls.acme_webroot;
    s.beacon_batch = cfg.tracking.beacon_batch;
    s.rate_limit = cfg.server.rate_limit;
    s.proxy_protocol = cfg.server.proxy_protocol;
    s.shared_listeners = p.activated;
    s.gate = &p.gate;
    return s;
}

void stop_workers(collector_parts& p) {
    for (auto& w : p.pool)
        w->request_stop();
    for (auto& t : p.threads)
        t.join();
}

// One event ring and one worker thread per server.workers, then the sink thread that drains
// the rings; returns once every worker listens (or 1 when one could not start).
int start_workers(const config& cfg, collector_parts& p) {
    const unsigned workers = cfg.server.workers;
    p.counters.reset(new worker_counters[workers]);
    p.worker_errors.resize(workers);
    const std::vector<int> cpus = allowed_cpus();
    for (unsigned i = 0; i < workers; ++i) {
        p.rings.push_back(std::make_unique<spsc_byte_ring>(cfg.server.ring_bytes));
        p.pool.push_back(std::make_unique<worker>(settings_for(cfg, p, i, cpus), *p.rings.back(),
                                                  p.counters[i]));
    }
    for (unsigned i = 0; i < workers; ++i)
        p.threads.emplace_back([&p, i] {
            // "pixelring-w<N>" (15 bytes at most): top -H, ps -L and bench/load tell them apart.
            const std::string name = "pixelring-w" + std::to_string(i % 10000);
            pthread_setname_np(pthread_self(), name.c_str());
            p.worker_errors[i] = p.pool[i]->run();
        });

    p.dashboard_off = dashboard_off_reason(cfg, p.admin_bound);
    if (p.dashboard_off.empty())
        p.stats = std::make_unique<event_stats>(realtime_ms(), cfg.tracking.enrich);
    p.drainer =
        std::make_unique<sink_thread>(p.rings, *p.out, p.drain, p.gate, p.stats.get(), p.board);
    p.drainer->start();

    for (unsigned i = 0; i < workers; ++i) {
        while (p.pool[i]->state() == 0) {
            timespec ts{0, 1'000'000};
            nanosleep(&ts, nullptr);
        }
        if (p.pool[i]->state() < 0) {
            stop_workers(p);
            p.drainer->stop_and_join();
            fmt::print(stderr, "pixelring: worker {} could not start: {}\n", i, p.worker_errors[i]);
            return 1;
        }
    }
    return 0;
}

// What /metrics reads: the workers' and the sink thread's counters, the rings' fill and the
// sink's own figures.
void make_metrics_view(const config& cfg, const std::string& version, collector_parts& p) {
    sink* sink_ptr = p.out.get();
    metrics_view& view = p.view;
    view.workers = p.counters.get();
    view.worker_count = cfg.server.workers;
    view.events_written = &sink_ptr->counters().written;
    view.events_failed = &sink_ptr->counters().failed;
    view.sink_bytes = &sink_ptr->counters().bytes;
    view.sink_rotations = &sink_ptr->counters().rotations;
    view.sink_queued = &sink_ptr->counters().queued;
    view.drain = &p.drain;
    view.ring_ctx = &p.rings;
    view.ring_used_bytes = [](const void* ctx, size_t w) {
        return (*static_cast<const std::vector<std::unique_ptr<spsc_byte_ring>>*>(ctx))[w]
            ->used_bytes();
    };
    view.ring_capacity = p.rings.front()->capacity();
    view.sink_type = cfg.sink.type;
    view.version = version;
    view.sink_ctx = sink_ptr;
    // healthy() is read without the sink thread's involvement: implementations keep it in
    // an atomic or a plain flag whose torn read is harmless for a health probe.
    view.sink_healthy = [](const void* ctx) { return static_cast<const sink*>(ctx)->healthy(); };
    view.delivery_outcomes = cfg.sink.type == "kafka";
    view.events_spooled = &sink_ptr->counters().spooled;
    view.dropped_spool_full = &sink_ptr->counters().dropped_spool_full;
    view.dropped_spool_error = &sink_ptr->counters().dropped_spool_error;
    view.sink_metrics = [](const void* ctx, std::string& body) {
        static_cast<const sink*>(ctx)->write_metrics(body);
    };
}

// The admin server on its own thread: /healthz, /readyz, /metrics and the dashboard.
void start_admin(const config& cfg, const std::string& version, collector_parts& p) {
    make_metrics_view(cfg, version, p);
    sink* sink_ptr = p.out.get();
    admin_handlers handlers;
    handlers.ready = [sink_ptr, &p] { return sink_ptr->healthy() && p.gate.is_open(); };
    p.auth = std::make_unique<basic_auth>(cfg.admin.user, cfg.admin.password);
    set_dashboard(handlers, cfg, version, p.admin_bound, p.dashboard_off, *p.auth, p.auth_failures,
                  p.board, *sink_ptr, p.gate);
    handlers.metrics = [&p](std::string& body) {
        write_prometheus(p.view, body);
        if (p.tls) p.tls_state.write_metrics(body);
        fmt::format_to(std::back_inserter(body),
                       "# HELP pixelring_admin_auth_failures_total Requests for the dashboard "
                       "refused because their credentials were wrong.\n"
                       "# TYPE pixelring_admin_auth_failures_total counter\n"
                       "pixelring_admin_auth_failures_total {}\n",
                       p.auth_failures.load(std::memory_order_relaxed));
    };
    p.admin = std::make_unique<admin_server>(p.admin_fd, std::move(handlers));
    p.admin->start();

    fmt::print(stderr, "pixelring {} listening on {}{}{} admin {} workers {} sink {}{}\n", version,
               fmt::join(p.listeners.bound, ", "), p.tls ? " https " : "",
               fmt::join(p.tls_listeners.bound, ", "), p.admin_bound, cfg.server.workers,
               cfg.sink.type,
               p.activated ? p.inherited.admin_fd >= 0 ? " (sockets from systemd)"
                                                       : " (public sockets from systemd)"
                           : "");
}

// Listeners, sink (and spool), workers and admin are up: READY=1. Then, until a stop signal:
// SIGHUP reopens the sink and reloads the certificates (RELOADING=1 ... READY=1), a STATUS=
// line every status_ms, and WATCHDOG=1 while every worker's loop and the sink thread turn.
void serve_until_stop(const config& cfg, collector_parts& p, service_status& status) {
    p.notifier.ready(status.summary(monotonic_ms()));
    constexpr uint64_t status_ms = 5000;
    // Every worker's loop turns at least every 250 ms (its timer): checking at most every
    // 500 ms sees each turn, and checking four times per WatchdogSec= leaves room for a late
    // check.
    const uint64_t watchdog_ms = p.notifier.watchdog_usec() / 1000;
    const uint64_t check_ms = std::max<uint64_t>(500, watchdog_ms / 4);
    uint64_t next_status = monotonic_ms() + status_ms;
    uint64_t next_check = watchdog_ms ? monotonic_ms() + check_ms : UINT64_MAX;
    std::string stuck_before;
    for (;;) {
        siginfo_t info;
        const uint64_t now = monotonic_ms(), next = std::min(next_status, next_check);
        const uint64_t wait_ms = next > now ? next - now : 0;
        timespec timeout{time_t(wait_ms / 1000), long(wait_ms % 1000) * 1'000'000};
        int sig = sigtimedwait(&p.signals, &info, &timeout);
        if (sig == SIGHUP) {
            p.notifier.reloading();
            p.drainer->reopen_and_wait(10'000);
            if (p.tls) reload_certificates(cfg.tls, *p.tls, p.tls_state, *p.tickets);
            p.notifier.ready(status.summary(monotonic_ms()));
            continue;
        }
        if (p.tls) {
            p.tls->collect(); // the certificates a reload replaced, once no worker holds them
            p.tickets->rotate_if_due(monotonic_ms());
        }
        if (sig == SIGTERM || sig == SIGINT) break;
        const uint64_t at = monotonic_ms();
        if (at >= next_check) {
            std::string stuck;
            if (status.all_turned(stuck))
                p.notifier.watchdog();
            else if (stuck != stuck_before)
                fmt::print(stderr,
                           "pixelring: {} has not turned for {} ms; the watchdog is not fed\n",
                           stuck, check_ms);
            stuck_before = stuck;
            next_check = at + check_ms;
        }
        if (at >= next_status) {
            p.notifier.status(status.summary(at));
            next_status = at + status_ms;
        }
    }
}

// The stop, in this order: the workers answer what they read and return; then the sink
// thread drains the rings and closes the sink (Kafka: delivers or spools); then the admin
// server. systemd is asked for time while it lasts.
void stop_in_order(const config& cfg, collector_parts& p, const service_status& status) {
    fmt::print(stderr, "pixelring: stopping: answering what was read, draining the rings\n");
    p.notifier.stopping("stopping: answering what was read, draining the rings");
    {
        const uint64_t kafka_ms = cfg.sink.type == "kafka" ? cfg.sink.kafka.stop_timeout_ms : 0;
        stop_extender extend(p.notifier, status, worker_settings{}.stop_grace_ms + kafka_ms + 1000);
        stop_workers(p);
        p.drainer->stop_and_join();
    }
    p.admin->stop();
}

// The stop line: what was accepted and where it went; every event accounted for.
void log_stop_summary(const config& cfg, const collector_parts& p) {
    uint64_t accepted = 0, ring_full = 0, unavailable = 0;
    for (unsigned i = 0; i < cfg.server.workers; ++i) {
        accepted += p.counters[i].events_accepted.get();
        ring_full += p.counters[i].events_dropped_ring_full.get();
        unavailable += p.counters[i].events_dropped_sink_unavailable.get();
    }
    const sink_counters& sc = p.out->counters();
    uint64_t failed = sc.failed.load(), spool_full = sc.dropped_spool_full.load(),
             spool_error = sc.dropped_spool_error.load();
    if (cfg.sink.type == "kafka") {
        fmt::print(stderr,
                   "pixelring: stopped: {} events accepted, {} delivered, {} spooled, {} dropped "
                   "(ring_full {}, sink_error {}, spool_full {}, spool_error {}); {} refused "
                   "(sink_unavailable)\n",
                   accepted, sc.written.load(), sc.spooled.load(),
                   ring_full + failed + spool_full + spool_error, ring_full, failed, spool_full,
                   spool_error, unavailable);
    } else {
        fmt::print(stderr,
                   "pixelring: stopped: {} events accepted, {} written, {} dropped (ring_full {}, "
                   "sink_error {}); {} refused (sink_unavailable)\n",
                   accepted, sc.written.load(), ring_full + failed, ring_full, failed, unavailable);
    }
}

} // namespace

int run_collector(const config& cfg, const std::string& version) {
    collector_parts p;
    block_stop_signals(p);
    if (int rc = check_machine(cfg, p)) return rc;
    if (int rc = build_sink(cfg, p)) return rc;
    if (int rc = build_request_policy(cfg, p)) return rc;
    if (int rc = build_tls(cfg, p)) return rc;
    if (int rc = open_listeners(cfg, p)) return rc;
    if (int rc = start_workers(cfg, p)) return rc;
    start_admin(cfg, version, p);
    service_status status(p.view, monotonic_ms());
    serve_until_stop(cfg, p, status);
    stop_in_order(cfg, p, status);
    log_stop_summary(cfg, p);
    return 0;
}

} // namespace pixelring
