// Non-variadic wrappers around libcurl's variadic setopt/getinfo (Swift cannot call C variadics;
// reference/swift-notes.md "libcurl from Swift").
#ifndef TTN_MIGRATE_CCURL_SHIM_H
#define TTN_MIGRATE_CCURL_SHIM_H
#include <curl/curl.h>

typedef size_t (*ttnm_curl_write_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);

static inline CURLcode ttnm_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_setopt_write_cb(CURL *h, CURLoption o, ttnm_curl_write_cb v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ttnm_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode ttnm_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLcode ttnm_easy_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }

typedef int (*ttnm_socket_cb)(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
static inline CURLMcode ttnm_multi_setopt_socket_cb(CURLM *m, ttnm_socket_cb v) { return curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, v); }
static inline CURLMcode ttnm_multi_setopt_pointer(CURLM *m, CURLMoption o, void *v) { return curl_multi_setopt(m, o, v); }

// A readiness poller for the HTTP loop's sockets (curl_multi_socket_action), with a wake-up that any
// thread may trigger. Linux: epoll and an eventfd (glibc's packed `struct epoll_event` stays in C).
// Elsewhere: poll(2) over the watched descriptors and a pipe.
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>

#if defined(__linux__) && !defined(TTNM_POLLER_USE_POLL)
#include <sys/epoll.h>
#include <sys/eventfd.h>

// `state` holds, per descriptor (grown as needed), what the epoll set has of it: the events watched
// (TTNM_WATCH_IN/OUT; 0 = not in the set), whether libcurl has stopped asking for it (TTNM_IDLE), and
// whether it is a connection libcurl opened and will close through this poller (TTNM_OWNED). libcurl
// removes a connection's socket after every response and adds it back for the next request: an owned
// socket watched for reading only stays in the set while idle, so that pair costs no system call. An
// event on an idle socket (the server closed it, say) takes it out of the set then; closing an owned
// socket (`ttnm_close_socket`) forgets its state, so its number can be reused safely.
enum { TTNM_WATCH_IN = 1, TTNM_WATCH_OUT = 2, TTNM_IDLE = 4, TTNM_OWNED = 8 };
typedef struct ttnm_poller { int epfd; int wake; unsigned char *state; int capacity; } ttnm_poller;

static inline ttnm_poller *ttnm_poller_create(void) {
    ttnm_poller *p = (ttnm_poller *)calloc(1, sizeof *p);
    if (!p) return NULL;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event event = {0};
    event.events = EPOLLIN;
    event.data.fd = p->wake;
    if (p->epfd < 0 || p->wake < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wake, &event) != 0) {
        if (p->epfd >= 0) close(p->epfd);
        if (p->wake >= 0) close(p->wake);
        free(p);
        return NULL;
    }
    return p;
}
static inline void ttnm_poller_destroy(ttnm_poller *p) { close(p->epfd); close(p->wake); free(p->state); free(p); }
static inline void ttnm_poller_wake(ttnm_poller *p) { uint64_t one = 1; ssize_t n = write(p->wake, &one, sizeof one); (void)n; }
// Makes room for the state of `fd`; 0 on success.
static inline int ttnm_poller_reserve(ttnm_poller *p, int fd) {
    if (fd < p->capacity) return 0;
    int capacity = p->capacity ? p->capacity : 256;
    while (capacity <= fd) capacity *= 2;
    unsigned char *grown = (unsigned char *)realloc(p->state, (size_t)capacity);
    if (!grown) return -1;
    for (int i = p->capacity; i < capacity; i++) grown[i] = 0;
    p->state = grown;
    p->capacity = capacity;
    return 0;
}
// Takes `fd` out of the epoll set, keeping only whether it is owned.
static inline int ttnm_poller_remove(ttnm_poller *p, int fd) {
    p->state[fd] &= TTNM_OWNED;
    return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
}
// Watches `fd` for reading and/or writing (adding it if new); `in` and `out` both 0 stops watching it.
// A state can be stale (a descriptor libcurl closed itself leaves the epoll set on its own): then the
// other operation is tried.
static inline int ttnm_poller_watch(ttnm_poller *p, int fd, int in, int out) {
    if (fd < 0) { errno = EBADF; return -1; }
    if (ttnm_poller_reserve(p, fd) != 0) return -1;
    unsigned char state = p->state[fd];
    int watched = state & (TTNM_WATCH_IN | TTNM_WATCH_OUT);
    if (!in && !out) {
        if (!watched) return 0;
        if ((state & TTNM_OWNED) && watched == TTNM_WATCH_IN) {
            p->state[fd] = state | TTNM_IDLE;
            return 0;
        }
        return ttnm_poller_remove(p, fd);
    }
    int wanted = (in ? TTNM_WATCH_IN : 0) | (out ? TTNM_WATCH_OUT : 0);
    if (watched == wanted) {
        p->state[fd] = (unsigned char)(state & ~TTNM_IDLE);
        return 0;
    }
    struct epoll_event event = {0};
    event.events = (in ? EPOLLIN : 0) | (out ? EPOLLOUT : 0);
    event.data.fd = fd;
    int first = watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(p->epfd, first, fd, &event) != 0) {
        if (errno != (first == EPOLL_CTL_MOD ? ENOENT : EEXIST)) return -1;
        if (epoll_ctl(p->epfd, first == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event) != 0) return -1;
    }
    p->state[fd] = (unsigned char)((state & TTNM_OWNED) | wanted);
    return 0;
}
// libcurl's CURLOPT_OPENSOCKETFUNCTION: a connection's socket (close-on-exec), marked as owned.
static inline curl_socket_t ttnm_open_socket(void *context, curlsocktype purpose, struct curl_sockaddr *address) {
    (void)purpose;
    ttnm_poller *p = (ttnm_poller *)context;
    int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd >= 0 && ttnm_poller_reserve(p, fd) == 0) p->state[fd] = TTNM_OWNED;
    return fd >= 0 ? fd : CURL_SOCKET_BAD;
}
// Takes `fd` out of the set and forgets its state, before it is closed.
static inline void ttnm_poller_forget(ttnm_poller *p, int fd) {
    if (fd < 0 || fd >= p->capacity) return;
    if (p->state[fd] & (TTNM_WATCH_IN | TTNM_WATCH_OUT)) ttnm_poller_remove(p, fd);
    p->state[fd] = 0;
}
// libcurl's CURLOPT_CLOSESOCKETFUNCTION.
static inline int ttnm_close_socket(void *context, curl_socket_t fd) {
    ttnm_poller_forget((ttnm_poller *)context, fd);
    return close(fd);
}
// Waits up to `timeout_ms` for ready descriptors: their fds and CURL_CSELECT_* masks go to the arrays (at
// most `max`); a wake-up is consumed and not reported. Returns how many, or -1 (EINTR: 0).
static inline int ttnm_poller_wait(ttnm_poller *p, int *fds, int *masks, int max, int timeout_ms) {
    struct epoll_event events[128];
    if (max > 128) max = 128;
    int n = epoll_wait(p->epfd, events, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (events[i].data.fd == p->wake) {
            uint64_t value;
            ssize_t r = read(p->wake, &value, sizeof value);
            (void)r;
            continue;
        }
        int fd = events[i].data.fd;
        if (fd < p->capacity && (p->state[fd] & TTNM_IDLE)) {
            // Nobody waits on an idle connection: out of the set until libcurl asks for it again.
            ttnm_poller_remove(p, fd);
            continue;
        }
        int mask = 0;
        if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
        fds[count] = fd;
        masks[count] = mask;
        count++;
    }
    return count;
}
#else
#include <poll.h>

// Slot 0 is the wake-up pipe's read end; the watched sockets follow.
typedef struct ttnm_poller { int wake_write; nfds_t count; nfds_t capacity; struct pollfd *fds; } ttnm_poller;

static inline ttnm_poller *ttnm_poller_create(void) {
    ttnm_poller *p = (ttnm_poller *)calloc(1, sizeof *p);
    int ends[2];
    if (!p || pipe(ends) != 0) { free(p); return NULL; }
    for (int i = 0; i < 2; i++) {
        fcntl(ends[i], F_SETFL, fcntl(ends[i], F_GETFL) | O_NONBLOCK);
        fcntl(ends[i], F_SETFD, FD_CLOEXEC);
    }
    p->capacity = 16;
    p->fds = (struct pollfd *)calloc(p->capacity, sizeof *p->fds);
    if (!p->fds) { close(ends[0]); close(ends[1]); free(p); return NULL; }
    p->fds[0].fd = ends[0];
    p->fds[0].events = POLLIN;
    p->count = 1;
    p->wake_write = ends[1];
    return p;
}
static inline void ttnm_poller_destroy(ttnm_poller *p) { close(p->fds[0].fd); close(p->wake_write); free(p->fds); free(p); }
static inline void ttnm_poller_wake(ttnm_poller *p) { char one = 1; ssize_t n = write(p->wake_write, &one, 1); (void)n; }
static inline int ttnm_poller_watch(ttnm_poller *p, int fd, int in, int out) {
    nfds_t i = 1;
    while (i < p->count && p->fds[i].fd != fd) i++;
    if (!in && !out) {
        if (i < p->count) p->fds[i] = p->fds[--p->count];
        return 0;
    }
    if (i == p->count) {
        if (p->count == p->capacity) {
            struct pollfd *grown = (struct pollfd *)realloc(p->fds, 2 * p->capacity * sizeof *p->fds);
            if (!grown) return -1;
            p->fds = grown;
            p->capacity *= 2;
        }
        p->fds[i].fd = fd;
        p->count++;
    }
    p->fds[i].events = (short)((in ? POLLIN : 0) | (out ? POLLOUT : 0));
    p->fds[i].revents = 0;
    return 0;
}
static inline curl_socket_t ttnm_open_socket(void *context, curlsocktype purpose, struct curl_sockaddr *address) {
    (void)context; (void)purpose;
    int fd = socket(address->family, address->socktype, address->protocol);
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd >= 0 ? fd : CURL_SOCKET_BAD;
}
static inline void ttnm_poller_forget(ttnm_poller *p, int fd) { ttnm_poller_watch(p, fd, 0, 0); }
static inline int ttnm_close_socket(void *context, curl_socket_t fd) {
    ttnm_poller_forget((ttnm_poller *)context, fd);
    return close(fd);
}
static inline int ttnm_poller_wait(ttnm_poller *p, int *fds, int *masks, int max, int timeout_ms) {
    int n = poll(p->fds, p->count, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    if (p->fds[0].revents & POLLIN) {
        char buffer[64];
        while (read(p->fds[0].fd, buffer, sizeof buffer) > 0) {}
    }
    int count = 0;
    for (nfds_t i = 1; i < p->count && count < max; i++) {
        short revents = p->fds[i].revents;
        if (!revents) continue;
        int mask = 0;
        if (revents & POLLIN) mask |= CURL_CSELECT_IN;
        if (revents & POLLOUT) mask |= CURL_CSELECT_OUT;
        if (revents & (POLLERR | POLLHUP | POLLNVAL)) mask |= CURL_CSELECT_ERR;
        fds[count] = p->fds[i].fd;
        masks[count] = mask;
        count++;
    }
    return count;
}
#endif

// Opens and closes the connections of `h` through the poller (see `ttnm_open_socket`).
static inline void ttnm_easy_use_poller_sockets(CURL *h, ttnm_poller *p) {
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, ttnm_open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, (void *)p);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, ttnm_close_socket);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, (void *)p);
}
#endif
