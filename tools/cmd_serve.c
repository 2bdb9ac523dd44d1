/*
 * cmd_serve.c - `gpumem serve`: GET /metrics answers an exposition
 * (exposition.h) begun after the request arrived, on libmicrohttpd; nothing
 * is kept from one scrape to a later one. A thread per connection (at most
 * MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS from one address, each
 * closed after --timeout idle seconds), so a slow or hostile client holds
 * only its own thread; renderings are one at a time and shared by the
 * requests that were waiting for one (see answer()). SIGTERM or SIGINT stop
 * it with status 0.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "emit.h"
#include "exposition.h"
#include "view.h"

#define DEFAULT_LISTEN "127.0.0.1:9400"

#ifndef GPUMEM_HAVE_MICROHTTPD

int gpumem__cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "gpumem: serve is not available: this gpumem was built without libmicrohttpd "
                    "(install libmicrohttpd-dev and pkg-config, then build again); "
                    "gpumem export --textfile works without it\n");
    return GPUMEM_EXIT_USAGE;
}

#else

#include <arpa/inet.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#define MAX_CONNECTIONS 64
#define MAX_CONNECTIONS_PER_ADDRESS 32
#define THREAD_STACK_BYTES (256u << 10)

#if MHD_VERSION < 0x00097100
typedef int gpumem_mhd_result; /* before 0.9.71, handlers returned int */
#else
typedef enum MHD_Result gpumem_mhd_result;
#endif

static int usage(const char *why)
{
    if (why) fprintf(stderr, "gpumem: %s\n", why);
    fputs("usage: gpumem serve [--listen ADDR:PORT] [--timeout SECONDS] [--prefix NAME] [--no-pid-label]\n"
          "  --listen   where to listen (default " DEFAULT_LISTEN ", loopback only; 0.0.0.0:9400 for every\n"
          "             interface, [::]:9400 for IPv6; port 0 picks a free one)\n"
          "  --timeout  seconds a connection may stay idle (default 10)\n",
          stderr);
    return GPUMEM_EXIT_USAGE;
}

static gpumem_mhd_result answer_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    gpumem_mhd_result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* One rendering at a time, shared by every request that arrived before it
 * began: each answer is a snapshot begun after its request came in (never
 * an older one), and a burst of concurrent scrapes costs one rendering, not
 * one each in turn while the last in line waits. */
static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t renders_begun;           /* under render_lock, read atomically */
static struct MHD_Response *last_render; /* the rendering numbered renders_begun */

static struct MHD_Response *render(const struct gpumem_exposition_options *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int ok = f && gpumem__exposition_write(f, o) == 0;
    if (f && fclose(f) != 0) ok = 0;
    struct MHD_Response *r = ok ? MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!r) {
        free(buf);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, GPUMEM_EXPOSITION_CONTENT_TYPE);
    return r;
}

static gpumem_mhd_result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    const struct gpumem_exposition_options *o = cls;
    if (*state == NULL) { /* headers only: note which renderings began before this request */
        *state = (void *)(uintptr_t)(__atomic_load_n(&renders_begun, __ATOMIC_ACQUIRE) + 1);
        return MHD_YES;
    }
    if (*upload_size) { /* a body is read and ignored; the method is refused below */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET /metrics\n");
    if (strcmp(url, "/metrics") != 0) return answer_text(c, MHD_HTTP_NOT_FOUND, "not found: GET /metrics\n");

    uint64_t arrived = (uint64_t)(uintptr_t)*state - 1;
    pthread_mutex_lock(&render_lock);
    if (renders_begun == arrived || !last_render) {
        __atomic_store_n(&renders_begun, renders_begun + 1, __ATOMIC_RELEASE);
        struct MHD_Response *r = render(o);
        if (last_render) MHD_destroy_response(last_render);
        last_render = r;
    }
    struct MHD_Response *r = last_render;
    gpumem_mhd_result queued = r ? MHD_queue_response(c, MHD_HTTP_OK, r)
                                 : answer_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                               "gpumem: the exposition could not be written\n");
    pthread_mutex_unlock(&render_lock);
    return queued;
}

/* ADDR:PORT, ADDR an IPv4 address or [an IPv6 one]. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, int *ipv6)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host) return -1;
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || port > 65535) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(ss, 0, sizeof *ss);
    size_t n = strlen(host);
    *ipv6 = host[0] == '[';
    if (*ipv6) {
        if (n < 3 || host[n - 1] != ']') return -1;
        host[n - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int gpumem__cmd_serve(int argc, char **argv)
{
    struct gpumem_exposition_options o;
    gpumem__exposition_defaults(&o);
    const char *listen = DEFAULT_LISTEN;
    unsigned timeout = 10;
    for (int i = 1; i < argc; i++) {
        int r = gpumem__exposition_option(&o, argc, argv, &i);
        if (r < 0) return usage(NULL);
        if (r > 0) continue;
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) listen = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            char *end;
            unsigned long t = strtoul(argv[++i], &end, 10);
            if (*end || t < 1 || t > 3600) return usage("--timeout takes seconds from 1 to 3600");
            timeout = (unsigned)t;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(NULL);
            return GPUMEM_EXIT_OK;
        } else {
            char msg[300];
            gpumem__emitter_snprintf(msg, sizeof msg, "unknown argument '%.200s'", argv[i]);
            return usage(msg);
        }
    }
    struct sockaddr_storage ss;
    int ipv6;
    if (parse_listen(listen, &ss, &ipv6) != 0)
        return usage("--listen takes ADDR:PORT, e.g. 0.0.0.0:9400 or [::1]:9400");

    /* One heap for every connection's thread, and large blocks (a view, an
     * exposition) given back when freed: gpumem's main() keeps them for
     * the one-shot commands, which a server that renders all day cannot. */
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    mallopt(M_TRIM_THRESHOLD, 1 << 20);

    /* The daemon's thread inherits this mask: the signals come to sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | (ipv6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
        answer, &o, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS_PER_ADDRESS,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)THREAD_STACK_BYTES, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "gpumem: cannot listen on %s (in use, or not an address of this machine)\n", listen);
        return GPUMEM_EXIT_SKIPPED;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char where[80];
    gpumem__emitter_snprintf(where, sizeof where, "%.*s:%u", (int)(strrchr(listen, ':') - listen), listen,
                             info ? (unsigned)info->port : 0u);
    fprintf(stderr, "gpumem: serving http://%s/metrics (segments %s/%s.*)\n", where, o.dir, o.prefix);
    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {}
    MHD_stop_daemon(d);
    if (last_render) MHD_destroy_response(last_render);
    fprintf(stderr, "gpumem: stopped by signal %d\n", sig);
    return GPUMEM_EXIT_OK;
}

#endif
