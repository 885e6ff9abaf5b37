#pragma once
// The 64-bit user_data of every io_uring request a worker submits:
//   bits 56..63  op      what kind of completion this is
//   bits 32..55  gen     connection slot generation (24 bits): a completion that arrives
//                        after its slot was recycled carries an old gen and is ignored
//   bits  0..31  index   connection slot, or listener index for accepts

#include <cstdint>

namespace pixelring {

enum class op : uint8_t { accept = 1, recv, send, timer, wake, cancel };

constexpr uint64_t encode_user_data(op o, uint32_t gen, uint32_t index) noexcept {
    return (uint64_t(o) << 56) | (uint64_t(gen & 0xffffff) << 32) | index;
}
constexpr op user_data_op(uint64_t ud) noexcept {
    return op(ud >> 56);
}
constexpr uint32_t user_data_gen(uint64_t ud) noexcept {
    return uint32_t(ud >> 32) & 0xffffff;
}
constexpr uint32_t user_data_index(uint64_t ud) noexcept {
    return uint32_t(ud);
}

} // namespace pixelring
