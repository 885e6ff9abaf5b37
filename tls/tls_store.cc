// tls_store: a tls_context replaced while the workers run.

#include "tls/tls_store.hh"

#include <algorithm>

namespace pixelring {

tls_store::tls_store(std::unique_ptr<tls_context> first, unsigned workers)
    : acks_(std::make_unique<ack[]>(workers)), workers_(workers) {
    current_.store(first.get(), std::memory_order_release);
    owned_.push_back({std::move(first), 1});
}

tls_store::~tls_store() = default;

void tls_store::install(std::unique_ptr<tls_context> next) {
    const uint64_t generation = owned_.back().generation + 1;
    current_.store(next.get(), std::memory_order_release);
    owned_.push_back({std::move(next), generation});
    generation_.store(generation, std::memory_order_release);
}

size_t tls_store::collect() {
    uint64_t oldest_held = UINT64_MAX;
    for (unsigned i = 0; i < workers_; ++i)
        oldest_held = std::min(oldest_held, acks_[i].generation.load(std::memory_order_acquire));
    // Every worker holds a context at least as new as oldest_held: older ones can go.
    auto held = std::find_if(owned_.begin(), owned_.end() - 1,
                             [&](const entry& e) { return e.generation >= oldest_held; });
    owned_.erase(owned_.begin(), held);
    return owned_.size() - 1;
}

} // namespace pixelring
