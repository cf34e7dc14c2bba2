#include <cblas.h>
// Declared by OpenBLAS's cblas.h on most builds; repeated here so the module compiles against any of them.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// glibc's mallopt, for the engine's allocation policy (large tensors stay in the heap between uses).
#include <malloc.h>
