// posix_spawn with the child's standard descriptors given and every other descriptor closed.
#ifndef TTN_MIGRATE_CSPAWN_H
#define TTN_MIGRATE_CSPAWN_H
#include <sys/types.h>

/// Starts `path` with `argv` and `envp` (both NULL-terminated); the child gets `stdin_fd`, `stdout_fd` and
/// `stderr_fd` as 0, 1 and 2 and no other descriptor of this process. Returns 0 and the child's pid, or an
/// errno value.
int ttnm_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd, int stderr_fd);
#endif
