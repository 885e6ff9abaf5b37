#pragma once
// Space-Saving (Metwally, Agrawal and El Abbadi, "Efficient Computation of Frequent and Top-k
// Elements in Data Streams", 2005): the most frequent keys of a stream, counted in a fixed
// number of entries whatever the number of distinct keys. A key that is counted keeps its
// entry; a new key takes the entry of the least counted one and inherits its count, recorded
// as the new entry's possible overcount (error). So every count is an upper bound, exact
// while fewer distinct keys than entries were seen, and a key that occurs more often than
// (stream length / entries) is always among the entries.
//
// Entries live in one array; a min-heap orders them by count (the least counted is evicted)
// and a linear-probing table with backward-shift deletion finds a key. Nothing allocates after
// construction. One thread.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pixelring {

class top_counter {
public:
    // Keys longer than this are cut (callers cut them where a character or escape ends).
    static constexpr size_t max_key = 64;

    explicit top_counter(uint32_t capacity, uint64_t seed = 0);

    void add(std::string_view key, uint64_t count = 1) noexcept;
    // Adds every entry of other (its counts and errors).
    void merge(const top_counter& other) noexcept;
    void clear() noexcept;

    uint32_t size() const noexcept { return size_; }
    uint32_t capacity() const noexcept { return capacity_; }
    // Sum of every add() since clear(): the stream length.
    uint64_t total() const noexcept { return total_; }

    struct entry {
        std::string_view key;
        uint64_t count; // upper bound
        uint64_t error; // count - error is a lower bound
    };
    template <class F> void for_each(F&& f) const {
        for (uint32_t i = 0; i < size_; ++i)
            f(entry{{slots_[i].key, slots_[i].len}, slots_[i].count, slots_[i].error});
    }

private:
    struct slot {
        uint64_t count;
        uint64_t error;
        uint64_t hash;
        uint32_t heap_pos;
        uint8_t len;
        char key[max_key];
    };
    static constexpr uint32_t empty = UINT32_MAX;

    void add(std::string_view key, uint64_t count, uint64_t error) noexcept;
    uint64_t hash(std::string_view key) const noexcept;
    uint32_t find(std::string_view key, uint64_t h) const noexcept;
    void index_insert(uint32_t slot_index) noexcept;
    void index_erase(uint32_t slot_index) noexcept;
    void sift_down(uint32_t pos) noexcept;
    void heap_swap(uint32_t a, uint32_t b) noexcept;

    uint32_t capacity_;
    uint32_t size_ = 0;
    uint32_t last_ = empty; // the entry added to last
    uint64_t total_ = 0;
    uint64_t seed_;
    uint32_t mask_;               // index_.size() - 1
    std::vector<slot> slots_;     // capacity_
    std::vector<uint32_t> heap_;  // slot indices, min-heap by count
    std::vector<uint32_t> index_; // slot index or empty; power of two >= 2 * capacity_
};

// Where to cut s to at most max bytes without splitting a UTF-8 sequence or a JSON escape
// (s is the escaped text of a JSON string).
size_t cut_escaped(std::string_view s, size_t max) noexcept;

} // namespace pixelring
