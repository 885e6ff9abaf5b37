#pragma once
// Counts the heap allocations of each thread, so that a test can assert that a call allocated
// nothing. Test code only: a test that includes this links pixelring_counting_allocator
// (tests/support/CMakeLists.txt), an OBJECT library, so counting_allocator.cc's object is in
// the executable itself and hooks the allocator of that one executable.

#include <atomic>
#include <cstddef>

namespace pixelring::test {

// Heap allocations made so far by the calling thread: every malloc, calloc, realloc and aligned
// allocation, and so every operator new, from any library. Compare two readings around the
// code under test; reading allocates nothing. Allocations of other threads are not counted.
size_t thread_allocations() noexcept;

// The calling thread's count as an object that any thread may read, for as long as the calling
// thread lives: a test reads the count of a thread it started (a worker) from its own thread.
// Only the owning thread writes it; a reading taken while that thread is quiet (blocked, its
// work answered) is exact. thread_allocations() reads the same count.
const std::atomic<size_t>& thread_allocation_counter() noexcept;

} // namespace pixelring::test
