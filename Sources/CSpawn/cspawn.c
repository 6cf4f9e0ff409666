#define _GNU_SOURCE
#include "cspawn.h"
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

int ttnm_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd, int stderr_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return result;
    }
    // The child starts with no signal blocked and every signal at its default action: a test process (or the
    // bench) may block or ignore some (SIGPIPE, SIGINT for its own handling), which exec would pass on.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if ((result = posix_spawnattr_setsigmask(&attributes, &none)) == 0
        && (result = posix_spawnattr_setsigdefault(&attributes, &all)) == 0
        && (result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) == 0
        && (result = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0)) == 0
        && (result = posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1)) == 0
        && (result = posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2)) == 0) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        // Nothing of this process leaks into the child, CLOEXEC or not (curl's sockets, a test's servers).
        result = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
        if (result == 0) result = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return result;
}
