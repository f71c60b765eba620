/* The version string, alone in its file so only it rebuilds when it changes. */
#include "vmm/version.h"

#ifndef VMM_VERSION
#define VMM_VERSION VMM_VERSION_BASE
#endif

const char vmm_version[] = VMM_VERSION;
