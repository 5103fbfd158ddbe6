/*
 * Loaded by JavaCPP before libsevnet (and so before libgomp reads its environment).
 *
 * libgomp's default lets an idle thread spin ~300k iterations at every barrier. The model issues
 * hundreds of short parallel regions per step; on a machine with any other load one of our threads
 * is often descheduled, and its partner then burns its whole time slice spinning — measured here:
 * a training step 4x slower with 2 threads than with 1. A short spin (then sleep) keeps the
 * quiet-machine speed and removes the collapse. A user's own OMP_WAIT_POLICY/GOMP_SPINCOUNT wins.
 */
#include <stdlib.h>

__attribute__((constructor)) static void sevnet_short_omp_spin(void) {
  if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) setenv("GOMP_SPINCOUNT", "10000", 0);
}

/* JavaCPP preloads a library by name; this symbol makes the object non-empty and greppable. */
int sevnet_env_loaded(void) { return 1; }
