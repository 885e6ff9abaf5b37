#pragma once
// The certificates the HTTPS listeners serve, replaceable while the workers run (SIGHUP).
// The main thread installs a new tls_context; each worker takes it up on its next loop turn
// (one acquire load while nothing changed) and says which one it holds; a replaced context
// is destroyed once every worker has moved past it. No lock: a worker reads a generation
// number and, when it changed, the pointer published before it. Handshakes already under
// way finish with the certificate they started with (tls_context.hh: OpenSSL's reference
// counts keep it), new ones get the new certificate.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "tls/tls_context.hh"

namespace pixelring {

class tls_store {
public:
    tls_store(std::unique_ptr<tls_context> first, unsigned workers);
    ~tls_store();
    tls_store(const tls_store&) = delete;
    tls_store& operator=(const tls_store&) = delete;

    // Worker `worker`'s view: the context for new sessions. `held` is the worker's own
    // generation number (start it at 0); when the store has a newer one, current() is
    // re-read and the worker's acknowledgement stored.
    const tls_context* take(unsigned worker, uint64_t& held, const tls_context*& ctx) noexcept {
        const uint64_t now = generation_.load(std::memory_order_acquire);
        if (now != held) {
            ctx = current_.load(std::memory_order_acquire);
            held = now;
            acks_[worker].generation.store(now, std::memory_order_release);
        }
        return ctx;
    }

    // Main thread only. The context in use (for logs and metrics).
    const tls_context& current() const noexcept { return *owned_.back().ctx; }
    // Main thread only. Publishes next; the previous one is kept until every worker has
    // taken up next (collect).
    void install(std::unique_ptr<tls_context> next);
    // Main thread only. Destroys the replaced contexts no worker holds any more; returns how
    // many are still waiting for a worker.
    size_t collect();

private:
    struct alignas(64) ack {
        std::atomic<uint64_t> generation{0};
    };
    struct entry {
        std::unique_ptr<tls_context> ctx;
        uint64_t generation;
    };
    std::atomic<uint64_t> generation_{1};
    std::atomic<const tls_context*> current_{nullptr};
    std::unique_ptr<ack[]> acks_;
    unsigned workers_;
    std::vector<entry> owned_; // oldest first; the last is current_
};

} // namespace pixelring
