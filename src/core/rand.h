/* rand.h: fast non-cryptographic random numbers for load spreading and ids.
 *
 * Each thread has its own xorshift64* state, seeded from getrandom() on its first call,
 * so a request costs no system call. Never use it for secrets. */
#ifndef PT_CORE_RAND_H
#define PT_CORE_RAND_H

#include <stdint.h>

uint64_t pt_rand64(void);

#endif
