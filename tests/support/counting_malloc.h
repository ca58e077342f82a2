// Counting malloc/open/socket/stat/send for the steady-tick tests (counting_malloc.cpp says which).
#pragma once

#include <cstdint>

namespace guardian::test {

// Count the calls made by this thread from now (true) or stop (false).
void count_calls_on_this_thread(bool on);
// Totals since the process started, of every thread's counted calls.
uint64_t counted_allocations();  // malloc, calloc, realloc, memalign, aligned_alloc, posix_memalign
uint64_t counted_opens();        // open, open64, openat, openat64, socket
// Of those, the opens of a memory.pressure file for writing: a PSI trigger being armed.
uint64_t counted_trigger_arms();
uint64_t counted_path_lookups();  // stat, lstat, fstatat (and their *64), statx, access
uint64_t counted_sends();         // sendmsg, sendto, send, sendmmsg

}  // namespace guardian::test
