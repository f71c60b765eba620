/*
 * vmm's version.  VMM_VERSION_BASE is the fixed version a build outside git
 * reports; in a git checkout the Makefile passes -DVMM_VERSION with what
 * scripts/version derives from `git describe` (the .deb uses the same).
 */
#ifndef VMM_VERSION_H
#define VMM_VERSION_H

#define VMM_VERSION_BASE "0.1.0"

/* The version --version prints and --stats=json reports. */
extern const char vmm_version[];

#endif
