#pragma once
// Fixed-size buffers for one worker thread: a buffer is allocated the first time the pool is
// empty and is reused for the worker's life, so a steady load allocates nothing. Used for
// request bodies (beacons) and dynamic answers (net/http/dynamic_response.hh).

#include <cstddef>
#include <memory>
#include <vector>

namespace pixelring {

class buffer_pool {
public:
    explicit buffer_pool(size_t buffer_size) : size_(buffer_size) {}
    buffer_pool(const buffer_pool&) = delete;
    buffer_pool& operator=(const buffer_pool&) = delete;

    // A buffer of size() bytes; throws std::bad_alloc only when the pool is empty and memory
    // is exhausted.
    char* take() {
        if (free_.empty()) {
            all_.push_back(std::make_unique_for_overwrite<char[]>(size_));
            if (free_.capacity() < all_.size()) free_.reserve(2 * all_.size());
            return all_.back().get();
        }
        char* b = free_.back();
        free_.pop_back();
        return b;
    }
    // Back to the pool; nullptr is ignored. Never allocates: take() reserved room for every
    // buffer ever handed out.
    void give(char* b) noexcept {
        if (b) free_.push_back(b);
    }
    size_t size() const noexcept { return size_; }
    size_t allocated() const noexcept { return all_.size(); }

private:
    size_t size_;
    std::vector<std::unique_ptr<char[]>> all_; // every buffer, freed with the pool
    std::vector<char*> free_;
};

} // namespace pixelring
