#include "net/worker/connection_table.hh"

namespace pixelring {

connection_table::connection_table(const http_limits& limits, uint32_t max_slots,
                                   size_t stage_capacity)
    : limits_(limits), stage_capacity_(stage_capacity) {
    // reserve() keeps slot addresses stable; untouched pages stay unallocated by the kernel.
    slots_.reserve(max_slots);
    stage_pool_.reserve(2 * size_t(max_slots)); // a stage and a beacon being read per slot
}

connection_table::~connection_table() {
    for (char* p : stage_pool_)
        delete[] p;
    for (connection& c : slots_) {
        delete[] c.stage;
        if (!c.body_big) delete[] c.body_buf;
    }
}

uint32_t connection_table::alloc() {
    if (free_head_ != no_slot) {
        uint32_t index = free_head_;
        free_head_ = slots_[index].next_free;
        return index;
    }
    slots_.emplace_back(limits_);
    return uint32_t(slots_.size() - 1);
}

void connection_table::free(uint32_t index) noexcept {
    connection& c = slots_[index];
    c.gen = (c.gen + 1) & 0xffffff;
    c.next_free = free_head_;
    free_head_ = index;
}

char* connection_table::take_stage() {
    if (!stage_pool_.empty()) {
        char* p = stage_pool_.back();
        stage_pool_.pop_back();
        return p;
    }
    return new char[stage_capacity_];
}

void connection_table::give_stage(connection& c) noexcept {
    if (!c.stage) return;
    give_stage_buffer(c.stage);
    c.stage = nullptr;
    c.stage_len = 0;
}

void connection_table::give_stage_buffer(char* buffer) noexcept {
    stage_pool_.push_back(buffer); // never reallocates: reserved for two per slot
}

void connection_table::link_tail(uint32_t index, timer_list list, uint64_t deadline_ms) noexcept {
    connection& c = slots_[index];
    list_head& h = head_of(list);
    c.list = list;
    c.deadline_ms = deadline_ms;
    c.prev = h.last;
    c.next = no_slot;
    if (h.last != no_slot)
        slots_[h.last].next = index;
    else
        h.first = index;
    h.last = index;
}

void connection_table::unlink(uint32_t index) noexcept {
    connection& c = slots_[index];
    if (c.list == timer_list::none) return;
    list_head& h = head_of(c.list);
    if (c.prev != no_slot)
        slots_[c.prev].next = c.next;
    else
        h.first = c.next;
    if (c.next != no_slot)
        slots_[c.next].prev = c.prev;
    else
        h.last = c.prev;
    c.prev = c.next = no_slot;
    c.list = timer_list::none;
}

} // namespace pixelring
