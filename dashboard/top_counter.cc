#include "dashboard/top_counter.hh"

#include <bit>
#include <cstring>

namespace pixelring {

namespace {

inline uint64_t mix(uint64_t a, uint64_t b) noexcept {
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

constexpr uint64_t k0 = 0x9e3779b97f4a7c15ull;
constexpr uint64_t k1 = 0xbf58476d1ce4e5b9ull;
constexpr uint64_t k2 = 0x94d049bb133111ebull;

} // namespace

size_t cut_escaped(std::string_view s, size_t max) noexcept {
    if (s.size() <= max) return s.size();
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t len = 1;
        if (c == '\\')
            len = i + 1 < s.size() && s[i + 1] == 'u' ? 6 : 2;
        else if (c >= 0xf0)
            len = 4;
        else if (c >= 0xe0)
            len = 3;
        else if (c >= 0xc0)
            len = 2;
        if (i + len > max) break;
        i += len;
    }
    return i;
}

top_counter::top_counter(uint32_t capacity, uint64_t seed)
    : capacity_(capacity ? capacity : 1), seed_(seed ^ k0), slots_(capacity_), heap_(capacity_) {
    const uint32_t index_size = std::bit_ceil(2 * capacity_);
    mask_ = index_size - 1;
    index_.assign(index_size, empty);
}

uint64_t top_counter::hash(std::string_view key) const noexcept {
    uint64_t h = seed_ ^ (key.size() * k1);
    const char* p = key.data();
    size_t n = key.size();
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h = mix(h ^ w, k1);
    }
    if (n) {
        uint64_t w = 0;
        std::memcpy(&w, p, n);
        h = mix(h ^ w, k2);
    }
    return mix(h, k0);
}

uint32_t top_counter::find(std::string_view key, uint64_t h) const noexcept {
    for (uint32_t i = uint32_t(h) & mask_;; i = (i + 1) & mask_) {
        const uint32_t s = index_[i];
        if (s == empty) return empty;
        const slot& e = slots_[s];
        if (e.hash == h && e.len == key.size() && std::memcmp(e.key, key.data(), key.size()) == 0)
            return s;
    }
}

void top_counter::index_insert(uint32_t slot_index) noexcept {
    uint32_t i = uint32_t(slots_[slot_index].hash) & mask_;
    while (index_[i] != empty)
        i = (i + 1) & mask_;
    index_[i] = slot_index;
}

// Linear probing without tombstones: after emptying a position, later members of the probe
// run whose home lies at or before the hole move back into it.
void top_counter::index_erase(uint32_t slot_index) noexcept {
    uint32_t hole = uint32_t(slots_[slot_index].hash) & mask_;
    while (index_[hole] != slot_index)
        hole = (hole + 1) & mask_;
    index_[hole] = empty;
    for (uint32_t j = (hole + 1) & mask_; index_[j] != empty; j = (j + 1) & mask_) {
        const uint32_t home = uint32_t(slots_[index_[j]].hash) & mask_;
        // Distance from home to j versus from home to the hole, both going forward.
        if (((j - home) & mask_) >= ((j - hole) & mask_)) {
            index_[hole] = index_[j];
            index_[j] = empty;
            hole = j;
        }
    }
}

void top_counter::heap_swap(uint32_t a, uint32_t b) noexcept {
    std::swap(heap_[a], heap_[b]);
    slots_[heap_[a]].heap_pos = a;
    slots_[heap_[b]].heap_pos = b;
}

void top_counter::sift_down(uint32_t pos) noexcept {
    for (;;) {
        const uint32_t left = 2 * pos + 1, right = left + 1;
        uint32_t least = pos;
        if (left < size_ && slots_[heap_[left]].count < slots_[heap_[least]].count) least = left;
        if (right < size_ && slots_[heap_[right]].count < slots_[heap_[least]].count) least = right;
        if (least == pos) return;
        heap_swap(pos, least);
        pos = least;
    }
}

void top_counter::add(std::string_view key, uint64_t count) noexcept {
    add(key, count, 0);
}

void top_counter::add(std::string_view key, uint64_t count, uint64_t error) noexcept {
    if (key.size() > max_key) key = key.substr(0, cut_escaped(key, max_key));
    total_ += count;
    // Runs of one key are common (one action, one agent label for most events): the entry
    // added last is compared before hashing.
    uint32_t s = last_;
    if (s != empty && slots_[s].len == key.size() &&
        std::memcmp(slots_[s].key, key.data(), key.size()) == 0) {
        slots_[s].count += count;
        slots_[s].error += error;
        sift_down(slots_[s].heap_pos);
        return;
    }
    const uint64_t h = hash(key);
    s = find(key, h);
    last_ = s;
    if (s != empty) {
        slots_[s].count += count;
        slots_[s].error += error;
        sift_down(slots_[s].heap_pos);
        return;
    }
    uint64_t inherited = 0;
    if (size_ < capacity_) {
        s = size_;
        heap_[size_] = s;
        slots_[s].heap_pos = size_;
        ++size_;
    } else {
        s = heap_[0];
        inherited = slots_[s].count;
        index_erase(s);
    }
    slot& e = slots_[s];
    e.hash = h;
    e.len = static_cast<uint8_t>(key.size());
    std::memcpy(e.key, key.data(), key.size());
    e.count = inherited + count;
    e.error = inherited + error;
    index_insert(s);
    last_ = s;
    // A new entry (count >= 1) among fewer than capacity may be below its parent: sift up.
    for (uint32_t pos = e.heap_pos; pos > 0;) {
        const uint32_t parent = (pos - 1) / 2;
        if (slots_[heap_[parent]].count <= e.count) break;
        heap_swap(pos, parent);
        pos = parent;
    }
    sift_down(e.heap_pos);
}

void top_counter::merge(const top_counter& other) noexcept {
    other.for_each([this](const entry& e) { add(e.key, e.count, e.error); });
}

void top_counter::clear() noexcept {
    if (size_ == 0 && total_ == 0) return;
    size_ = 0;
    total_ = 0;
    last_ = empty;
    std::fill(index_.begin(), index_.end(), empty);
}

} // namespace pixelring
