/*
 * idr_load: load generator and UDP echo peer for benchmarking indunet's identifier resolution node.
 *
 *   idr_load udp  HOST PORT SECONDS WINDOW SOCKETS     TEMPLATE_HEX  DIGITS_OFFSET NUM_IDS
 *   idr_load tcp  HOST PORT SECONDS WINDOW CONNECTIONS TEMPLATE_HEX  DIGITS_OFFSET NUM_IDS
 *   idr_load http HOST PORT SECONDS CONNECTIONS        PATH_TEMPLATE DIGITS_OFFSET NUM_IDS
 *   idr_load echo PORT RESPONSE_SIZE
 *
 * Build: gcc -O2 -Wall -Wextra -o idr_load idr_load.c
 *
 * Counting rule (why sent != answered + lost): every event is counted by the time it happens. The
 * clock starts before the first connection; events in the first second (warm-up) and at or after
 * 1 + SECONDS are not counted. So an answer inside the window to a request sent during warm-up counts,
 * and requests still in flight when the run ends count as sent but neither answered nor lost. This is
 * the closed-loop convention (as in wrk) and keeps "rate" equal to answers per measured second.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ULL
#define WARMUP_NS NS_PER_S
#define LOSS_NS NS_PER_S
/* Losses are found by scanning every slot; 10 ms keeps the scan cheap and the 1 s limit exact enough. */
#define LOSS_SCAN_NS 10000000ULL
#define CONNECT_NS NS_PER_S
#define ENVELOPE 20
#define RC_SUCCESS 1
#define FLAG_TC 0x2000
#define DIGITS 8
#define BATCH 64
#define MAX_DGRAM 65536
#define MAX_UDP_PAYLOAD 65507
#define MAX_FRAME (16u << 20)
#define MAX_HTTP_HEAD 65536
#define MAX_EVENTS 256
#define READ_CHUNK 65536
#define SOCK_BUF (4 << 20)

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("idr_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void usage(const char *why) __attribute__((noreturn));

static void usage(const char *why)
{
    fprintf(stderr,
            "idr_load: %s\n"
            "usage:\n"
            "  idr_load udp  HOST PORT SECONDS WINDOW SOCKETS     TEMPLATE_HEX  DIGITS_OFFSET NUM_IDS\n"
            "  idr_load tcp  HOST PORT SECONDS WINDOW CONNECTIONS TEMPLATE_HEX  DIGITS_OFFSET NUM_IDS\n"
            "  idr_load http HOST PORT SECONDS CONNECTIONS        PATH_TEMPLATE DIGITS_OFFSET NUM_IDS\n"
            "  idr_load echo PORT RESPONSE_SIZE\n"
            "TEMPLATE_HEX is one Handle request; the generator writes a unique request id at offset 8\n"
            "and a random number in [0, NUM_IDS) as 8 decimal digits at DIGITS_OFFSET.\n",
            why);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        die("out of memory (%zu bytes)", n);
    return q;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Milliseconds to wait for epoll/poll, rounded up so a wake-up is never early. */
static int ms_until(uint64_t deadline, uint64_t now)
{
    if (deadline <= now)
        return 0;
    uint64_t ms = (deadline - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- random identifiers ---- */

static uint64_t rng_state;

static uint64_t rng_next(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias (Lemire's multiply-and-reject). */
static uint32_t rng_below(uint32_t n)
{
    uint64_t m = (uint64_t)(uint32_t)rng_next() * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t limit = (uint32_t)(-n) % n;
        while (low < limit) {
            m = (uint64_t)(uint32_t)rng_next() * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

static void put_digits(uint8_t *p, uint32_t v)
{
    for (int i = DIGITS - 1; i >= 0; i--) {
        p[i] = (uint8_t)('0' + v % 10);
        v /= 10;
    }
}

/* ---- run clock and results ---- */

static uint64_t warm_end, run_end;

static bool counting(uint64_t t) { return t >= warm_end && t < run_end; }

static struct {
    uint64_t sent, answered, lost, errors, unmatched, reconnects, response_bytes;
    uint64_t *lat;
    size_t nlat, caplat;
} st;

static void record_sent(uint64_t t)
{
    if (counting(t))
        st.sent++;
}

static void record_lost(uint64_t t)
{
    if (counting(t))
        st.lost++;
}

static void record_unmatched(uint64_t t)
{
    if (counting(t))
        st.unmatched++;
}

static void record_answer(uint64_t sent_at, uint64_t t, bool error, uint64_t bytes)
{
    if (!counting(t))
        return;
    st.answered++;
    if (error)
        st.errors++;
    st.response_bytes = bytes;
    if (st.nlat == st.caplat) {
        st.caplat = st.caplat ? st.caplat * 2 : 1 << 16;
        st.lat = xrealloc(st.lat, st.caplat * sizeof *st.lat);
    }
    st.lat[st.nlat++] = t - sent_at;
}

/* LSD radix sort, 16 bits a pass and only as many passes as the largest value needs: millions of
 * latencies sort in tens of milliseconds, where qsort takes about a second. */
static void sort_latencies(void)
{
    uint64_t max = 0;
    for (size_t i = 0; i < st.nlat; i++)
        if (st.lat[i] > max)
            max = st.lat[i];
    uint64_t *tmp = xmalloc(st.nlat * sizeof *tmp);
    static size_t count[1 << 16];
    for (unsigned shift = 0; shift < 64 && (max >> shift) != 0; shift += 16) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < st.nlat; i++)
            count[(st.lat[i] >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < (1 << 16); d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < st.nlat; i++)
            tmp[count[(st.lat[i] >> shift) & 0xffff]++] = st.lat[i];
        uint64_t *swap = st.lat;
        st.lat = tmp;
        tmp = swap;
    }
    free(tmp);
}

/* Nearest-rank percentile, per_10000 of 10000; as "null" when nothing was answered. */
static void print_pct(const char *key, unsigned per_10000)
{
    if (st.nlat == 0) {
        printf(", \"%s\": null", key);
        return;
    }
    size_t rank = (st.nlat * per_10000 + 9999) / 10000;
    if (rank == 0)
        rank = 1;
    printf(", \"%s\": %.1f", key, (double)st.lat[rank - 1] / 1000.0);
}

static void report(const char *mode, uint64_t seconds)
{
    sort_latencies();
    printf("{\"mode\": \"%s\", \"seconds\": %" PRIu64 ", \"sent\": %" PRIu64 ", \"answered\": %" PRIu64
           ", \"lost\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"rate\": %.1f",
           mode, seconds, st.sent, st.answered, st.lost, st.errors, (double)st.answered / (double)seconds);
    print_pct("p50_us", 5000);
    print_pct("p90_us", 9000);
    print_pct("p99_us", 9900);
    print_pct("p999_us", 9990);
    print_pct("max_us", 10000);
    printf(", \"response_bytes\": %" PRIu64 ", \"unmatched\": %" PRIu64 ", \"reconnects\": %" PRIu64 "}\n",
           st.response_bytes, st.unmatched, st.reconnects);
    fflush(stdout);
}

/* ---- arguments ---- */

static uint64_t parse_num(const char *s, uint64_t lo, uint64_t hi, const char *what)
{
    char why[128];
    uint64_t v = 0;
    if (!*s)
        goto bad;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            goto bad;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < lo || v > hi)
        goto bad;
    return v;
bad:
    snprintf(why, sizeof why, "%s must be an integer in [%" PRIu64 ", %" PRIu64 "], got '%s'", what, lo, hi, s);
    usage(why);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static uint8_t *parse_hex(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (n == 0 || n % 2)
        usage("TEMPLATE_HEX must be a non-empty even number of hex digits");
    uint8_t *out = xmalloc(n / 2);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            usage("TEMPLATE_HEX has a character that is not a hex digit");
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

/* The digits the generator overwrites must already be digits: this catches a wrong offset. */
static void check_digits(const uint8_t *p, size_t len, uint64_t off, size_t min_off)
{
    if (off < min_off || off + DIGITS > len)
        usage("DIGITS_OFFSET does not leave 8 digits inside the template (or overlaps the envelope)");
    for (size_t i = 0; i < DIGITS; i++)
        if (p[off + i] < '0' || p[off + i] > '9')
            usage("the template does not hold 8 decimal digits at DIGITS_OFFSET");
}

/* ---- sockets ---- */

static struct sockaddr_storage peer;
static socklen_t peer_len;
static const char *peer_host, *peer_port;

static void resolve(const char *host, const char *port, int socktype)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        die("cannot resolve %s:%s: %s", host, port, gai_strerror(rc));
    memcpy(&peer, res->ai_addr, res->ai_addrlen);
    peer_len = res->ai_addrlen;
    freeaddrinfo(res);
    peer_host = host;
    peer_port = port;
}

static void set_buffers(int fd)
{
    int size = SOCK_BUF;
    /* Best effort: the kernel caps these at net.core.[rw]mem_max, which is fine. */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

/* A connected non-blocking TCP socket; -1 only when the run ends first. */
static int tcp_connect(uint64_t deadline)
{
    int fd = socket(peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        die("TCP_NODELAY: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&peer, peer_len) == 0)
        return fd;
    if (errno != EINPROGRESS)
        die("connect to %s:%s: %s", peer_host, peer_port, strerror(errno));
    for (;;) {
        uint64_t t = now_ns();
        if (t >= deadline) {
            close(fd);
            if (t >= run_end)
                return -1;
            die("connect to %s:%s: timed out", peer_host, peer_port);
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, ms_until(deadline, t));
        if (r < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (r <= 0)
            continue;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            die("getsockopt: %s", strerror(errno));
        if (err)
            die("connect to %s:%s: %s", peer_host, peer_port, strerror(err));
        return fd;
    }
}

static int ep;

static void ep_set(int op, int fd, uint32_t index, bool want_out)
{
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.u32 = index};
    if (epoll_ctl(ep, op, fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

static bool transient(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ENOBUFS; }

static bool peer_gone(int err) { return err == ECONNRESET || err == EPIPE || err == ECONNABORTED; }

/* ---- request slots shared by udp and tcp ---- */

/*
 * WINDOW slots, each holding at most one outstanding request. A slot's request id is
 * 1 + slot + WINDOW * generation, so an answer names its slot and a late answer to a request already
 * counted as lost (older generation) does not match.
 */
static uint32_t window;
static uint32_t *slot_id; /* 0: free */
static uint32_t *slot_gen;
static uint64_t *slot_at;
static uint32_t *slot_got; /* udp fragments: octets after the envelope received so far */
static uint32_t *slot_rc;

static void slots_init(uint32_t n)
{
    window = n;
    slot_id = xmalloc(n * sizeof *slot_id);
    slot_gen = xmalloc(n * sizeof *slot_gen);
    slot_at = xmalloc(n * sizeof *slot_at);
    slot_got = xmalloc(n * sizeof *slot_got);
    slot_rc = xmalloc(n * sizeof *slot_rc);
}

static uint32_t next_id(uint32_t slot)
{
    uint64_t gen = (uint64_t)slot_gen[slot] + 1;
    if (1 + slot + gen * window > UINT32_MAX)
        gen = 0;
    slot_gen[slot] = (uint32_t)gen;
    return (uint32_t)(1 + slot + gen * window);
}

/* The slot an answer belongs to, or -1 when no outstanding request has its id. */
static int64_t slot_of(uint32_t id)
{
    if (id == 0)
        return -1;
    uint32_t slot = (id - 1) % window;
    return slot_id[slot] == id ? (int64_t)slot : -1;
}

static struct {
    const uint8_t *bytes;
    size_t len;
    size_t digits;
    uint32_t num_ids;
} tmpl;

static void fill_request(uint8_t *buf, uint32_t id)
{
    memcpy(buf, tmpl.bytes, tmpl.len);
    put_be32(buf + 8, id);
    put_digits(buf + tmpl.digits, rng_below(tmpl.num_ids));
}

/* ---- udp ---- */

struct usock {
    int fd;
    uint32_t *free;
    uint32_t nfree;
    bool blocked; /* waiting for EPOLLOUT */
};

static struct usock *us;
static uint32_t nsock;
static uint8_t *utx;              /* BATCH requests */
static uint8_t *urx;              /* BATCH datagrams */
static struct mmsghdr umsg[BATCH];
static struct iovec uiov[BATCH];

static void udp_release(uint32_t slot)
{
    struct usock *u = &us[slot % nsock];
    slot_id[slot] = 0;
    u->free[u->nfree++] = slot;
}

static void udp_fill(uint32_t s)
{
    struct usock *u = &us[s];
    uint32_t ids[BATCH];
    while (u->nfree && !u->blocked) {
        uint32_t n = u->nfree < BATCH ? u->nfree : BATCH;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t *buf = utx + (size_t)i * tmpl.len;
            ids[i] = next_id(u->free[u->nfree - 1 - i]);
            fill_request(buf, ids[i]);
            uiov[i] = (struct iovec){.iov_base = buf, .iov_len = tmpl.len};
            memset(&umsg[i], 0, sizeof umsg[i]);
            umsg[i].msg_hdr.msg_iov = &uiov[i];
            umsg[i].msg_hdr.msg_iovlen = 1;
        }
        uint64_t t = now_ns();
        int r = sendmmsg(u->fd, umsg, n, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (!transient(errno))
                die("send to %s:%s: %s", peer_host, peer_port, strerror(errno));
            r = 0;
        }
        for (int i = 0; i < r; i++) {
            uint32_t slot = u->free[--u->nfree];
            slot_id[slot] = ids[i];
            slot_at[slot] = t;
            slot_got[slot] = 0;
            slot_rc[slot] = 0;
            record_sent(t);
        }
        if ((uint32_t)r < n) {
            u->blocked = true;
            ep_set(EPOLL_CTL_MOD, u->fd, s, true);
        }
    }
}

static void udp_answer(const uint8_t *p, size_t len, uint64_t t)
{
    if (len < 12) {
        record_unmatched(t);
        return;
    }
    int64_t found = slot_of(get_be32(p + 8));
    if (found < 0) {
        record_unmatched(t);
        return;
    }
    uint32_t slot = (uint32_t)found;
    uint32_t rc;
    uint64_t bytes;
    if (len >= ENVELOPE && (get_be16(p + 2) & FLAG_TC)) {
        /* One fragment of a larger answer: it is answered when all octets after the envelope are in. */
        uint32_t total = get_be32(p + 16);
        if (get_be32(p + 12) == 0 && len >= 28)
            slot_rc[slot] = get_be32(p + 24);
        slot_got[slot] += (uint32_t)(len - ENVELOPE);
        if (slot_got[slot] < total)
            return;
        rc = slot_rc[slot];
        bytes = (uint64_t)ENVELOPE + total;
    } else {
        rc = len >= 28 ? get_be32(p + 24) : 0;
        bytes = len;
    }
    record_answer(slot_at[slot], t, rc != RC_SUCCESS, bytes);
    udp_release(slot);
}

static void udp_drain(uint32_t s)
{
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            uiov[i] = (struct iovec){.iov_base = urx + (size_t)i * MAX_DGRAM, .iov_len = MAX_DGRAM};
            memset(&umsg[i], 0, sizeof umsg[i]);
            umsg[i].msg_hdr.msg_iov = &uiov[i];
            umsg[i].msg_hdr.msg_iovlen = 1;
        }
        int r = recvmmsg(us[s].fd, umsg, BATCH, MSG_DONTWAIT, NULL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            die("receive from %s:%s: %s", peer_host, peer_port, strerror(errno));
        }
        uint64_t t = now_ns();
        for (int i = 0; i < r; i++)
            udp_answer(urx + (size_t)i * MAX_DGRAM, umsg[i].msg_len, t);
        if (r < BATCH)
            return;
    }
}

static void udp_expire(uint64_t t)
{
    for (uint32_t slot = 0; slot < window; slot++)
        if (slot_id[slot] && t - slot_at[slot] >= LOSS_NS) {
            record_lost(t);
            udp_release(slot);
        }
}

static void run_udp(uint32_t win, uint32_t sockets)
{
    slots_init(win);
    nsock = sockets;
    us = xmalloc(sockets * sizeof *us);
    utx = xmalloc((size_t)BATCH * tmpl.len);
    urx = xmalloc((size_t)BATCH * MAX_DGRAM);
    for (uint32_t s = 0; s < sockets; s++) {
        struct usock *u = &us[s];
        u->fd = socket(peer.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (u->fd < 0)
            die("socket: %s", strerror(errno));
        set_buffers(u->fd);
        /* connect() gives each socket its own source port, so SO_REUSEPORT workers share the load. */
        if (connect(u->fd, (struct sockaddr *)&peer, peer_len) < 0)
            die("connect to %s:%s: %s", peer_host, peer_port, strerror(errno));
        u->free = xmalloc((win / sockets + 1) * sizeof *u->free);
        ep_set(EPOLL_CTL_ADD, u->fd, s, false);
    }
    for (uint32_t slot = win; slot-- > 0;)
        udp_release(slot);
    struct epoll_event evs[MAX_EVENTS];
    uint64_t next_scan = now_ns() + LOSS_SCAN_NS;
    uint64_t t;
    while ((t = now_ns()) < run_end) {
        if (t >= next_scan) {
            udp_expire(t);
            next_scan = t + LOSS_SCAN_NS;
        }
        for (uint32_t s = 0; s < sockets; s++)
            udp_fill(s);
        uint64_t wake = next_scan < run_end ? next_scan : run_end;
        int n = epoll_wait(ep, evs, MAX_EVENTS, ms_until(wake, now_ns()));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            uint32_t s = evs[i].data.u32;
            if (evs[i].events & (EPOLLIN | EPOLLERR))
                udp_drain(s);
            if ((evs[i].events & EPOLLOUT) && us[s].blocked) {
                us[s].blocked = false;
                ep_set(EPOLL_CTL_MOD, us[s].fd, s, false);
            }
        }
    }
}

/* ---- byte buffers for the stream modes ---- */

struct buf {
    uint8_t *p;
    size_t len, off, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
    if (b->off && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + more <= b->cap)
        return;
    if (b->off) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    while (b->len + more > b->cap)
        b->cap = b->cap ? b->cap * 2 : READ_CHUNK;
    b->p = xrealloc(b->p, b->cap);
}

static void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

/* ---- tcp ---- */

/* Stream I/O shared by the tcp and http modes. */
enum io { IO_DONE, IO_BLOCKED, IO_GONE };

/* Send what `out` holds; IO_GONE when the peer went away (the caller reconnects or counts it). */
static enum io send_out(int fd, struct buf *out)
{
    while (out->off < out->len) {
        ssize_t n = send(fd, out->p + out->off, out->len - out->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (transient(errno))
                return IO_BLOCKED;
            if (peer_gone(errno))
                return IO_GONE;
            die("send to %s:%s: %s", peer_host, peer_port, strerror(errno));
        }
        buf_consume(out, (size_t)n);
    }
    return IO_DONE;
}

/* Ask epoll for writability only while output waits. */
static void want_writable(int fd, uint32_t c, bool *want_out, const struct buf *out)
{
    bool want = out->off < out->len;
    if (want != *want_out) {
        *want_out = want;
        ep_set(EPOLL_CTL_MOD, fd, c, want);
    }
}

/* Append what one recv gives to `in`: IO_DONE with data, IO_BLOCKED when none waits, IO_GONE when
   the peer closed or failed. */
static enum io recv_in(int fd, struct buf *in)
{
    for (;;) {
        buf_reserve(in, READ_CHUNK);
        ssize_t n = recv(fd, in->p + in->len, in->cap - in->len, 0);
        if (n == 0)
            return IO_GONE;
        if (n > 0) {
            in->len += (size_t)n;
            return IO_DONE;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return IO_BLOCKED;
        if (peer_gone(errno))
            return IO_GONE;
        die("receive from %s:%s: %s", peer_host, peer_port, strerror(errno));
    }
}

struct tconn {
    int fd; /* -1: the run ended while reconnecting */
    uint32_t first, depth;
    uint32_t *free;
    uint32_t nfree;
    bool want_out;
    struct buf out, in;
};

static struct tconn *tc;

static void tcp_broken(uint32_t c, uint64_t t);

static void tcp_flush(uint32_t c)
{
    struct tconn *k = &tc[c];
    if (send_out(k->fd, &k->out) == IO_GONE) {
        tcp_broken(c, now_ns());
        return;
    }
    want_writable(k->fd, c, &k->want_out, &k->out);
}

static void tcp_fill(uint32_t c)
{
    struct tconn *k = &tc[c];
    if (k->fd < 0 || !k->nfree)
        return;
    buf_reserve(&k->out, (size_t)k->nfree * tmpl.len);
    uint64_t t = now_ns();
    while (k->nfree) {
        uint32_t slot = k->free[--k->nfree];
        slot_id[slot] = next_id(slot);
        slot_at[slot] = t;
        fill_request(k->out.p + k->out.len, slot_id[slot]);
        k->out.len += tmpl.len;
        record_sent(t);
    }
    tcp_flush(c);
}

/* The server closed or reset the connection: its outstanding requests are lost; connect again. */
static void tcp_broken(uint32_t c, uint64_t t)
{
    struct tconn *k = &tc[c];
    close(k->fd);
    k->nfree = 0;
    for (uint32_t slot = k->first; slot < k->first + k->depth; slot++) {
        if (slot_id[slot])
            record_lost(t);
        slot_id[slot] = 0;
        k->free[k->nfree++] = slot;
    }
    k->out.len = k->out.off = k->in.len = k->in.off = 0;
    k->want_out = false;
    st.reconnects++;
    uint64_t deadline = t + CONNECT_NS < run_end ? t + CONNECT_NS : run_end;
    k->fd = tcp_connect(deadline);
    if (k->fd >= 0)
        ep_set(EPOLL_CTL_ADD, k->fd, c, false);
}

static void tcp_frame(uint32_t c, const uint8_t *p, size_t len, uint64_t t)
{
    int64_t found = slot_of(get_be32(p + 8));
    struct tconn *k = &tc[c];
    if (found < 0 || (uint32_t)found < k->first || (uint32_t)found >= k->first + k->depth) {
        record_unmatched(t);
        return;
    }
    uint32_t slot = (uint32_t)found;
    uint32_t rc = len >= 28 ? get_be32(p + 24) : 0;
    record_answer(slot_at[slot], t, rc != RC_SUCCESS, len);
    slot_id[slot] = 0;
    k->free[k->nfree++] = slot;
}

static void tcp_read(uint32_t c)
{
    struct tconn *k = &tc[c];
    for (;;) {
        enum io got = recv_in(k->fd, &k->in);
        uint64_t t = now_ns();
        if (got == IO_GONE) {
            tcp_broken(c, t);
            return;
        }
        if (got == IO_BLOCKED)
            return;
        while (k->in.len - k->in.off >= ENVELOPE) {
            const uint8_t *p = k->in.p + k->in.off;
            uint32_t body = get_be32(p + 16);
            if (body > MAX_FRAME - ENVELOPE)
                die("tcp: a frame announces %" PRIu32 " octets; the stream is out of step", body);
            size_t frame = ENVELOPE + (size_t)body;
            if (k->in.len - k->in.off < frame)
                break;
            tcp_frame(c, p, frame, t);
            buf_consume(&k->in, frame);
        }
    }
}

static void run_tcp(uint32_t win, uint32_t conns)
{
    slots_init(win);
    tc = xmalloc(conns * sizeof *tc);
    uint32_t first = 0;
    for (uint32_t c = 0; c < conns; c++) {
        struct tconn *k = &tc[c];
        k->first = first;
        k->depth = win / conns + (c < win % conns ? 1 : 0);
        first += k->depth;
        k->free = xmalloc(k->depth * sizeof *k->free);
        for (uint32_t i = k->depth; i-- > 0;)
            k->free[k->nfree++] = k->first + i;
        k->fd = tcp_connect(warm_end);
        if (k->fd < 0)
            die("connect to %s:%s: timed out", peer_host, peer_port);
        ep_set(EPOLL_CTL_ADD, k->fd, c, false);
    }
    struct epoll_event evs[MAX_EVENTS];
    uint64_t t;
    while ((t = now_ns()) < run_end) {
        for (uint32_t c = 0; c < conns; c++)
            tcp_fill(c);
        int n = epoll_wait(ep, evs, MAX_EVENTS, ms_until(run_end, now_ns()));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            uint32_t c = evs[i].data.u32;
            if (tc[c].fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                tcp_read(c);
            /* After a reconnect in tcp_read this flushes the new socket, which is harmless. */
            if (tc[c].fd >= 0 && (evs[i].events & EPOLLOUT))
                tcp_flush(c);
        }
    }
}

/* ---- http ---- */

struct hconn {
    int fd;
    bool waiting;
    uint64_t at;
    struct buf out, in;
    bool want_out;
};

static struct hconn *hc;
static uint8_t *hreq; /* the GET request with the path template */
static size_t hreq_len, hreq_digits;

static void http_broken(uint32_t c, uint64_t t);

static void http_flush(uint32_t c)
{
    struct hconn *k = &hc[c];
    if (send_out(k->fd, &k->out) == IO_GONE) {
        http_broken(c, now_ns());
        return;
    }
    want_writable(k->fd, c, &k->want_out, &k->out);
}

static void http_send(uint32_t c)
{
    struct hconn *k = &hc[c];
    if (k->fd < 0 || k->waiting)
        return;
    buf_reserve(&k->out, hreq_len);
    uint8_t *p = k->out.p + k->out.len;
    memcpy(p, hreq, hreq_len);
    put_digits(p + hreq_digits, rng_below(tmpl.num_ids));
    k->out.len += hreq_len;
    k->waiting = true;
    k->at = now_ns();
    record_sent(k->at);
    http_flush(c);
}

static void http_connect(uint32_t c, uint64_t deadline)
{
    struct hconn *k = &hc[c];
    k->fd = tcp_connect(deadline);
    k->waiting = false;
    k->want_out = false;
    k->out.len = k->out.off = k->in.len = k->in.off = 0;
    if (k->fd >= 0)
        ep_set(EPOLL_CTL_ADD, k->fd, c, false);
}

/* The server closed the connection: a request it did not answer is lost; connect again. */
static void http_broken(uint32_t c, uint64_t t)
{
    struct hconn *k = &hc[c];
    close(k->fd);
    if (k->waiting)
        record_lost(t);
    st.reconnects++;
    http_connect(c, t + CONNECT_NS < run_end ? t + CONNECT_NS : run_end);
}

static bool header_is(const uint8_t *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && line[n] == ':' && strncasecmp((const char *)line, name, n) == 0;
}

static bool has_token(const uint8_t *v, size_t len, const char *token)
{
    size_t n = strlen(token);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp((const char *)v + i, token, n) == 0)
            return true;
    return false;
}

enum { PARSE_MORE, PARSE_DONE, PARSE_CLOSE };

/* One response from the head of the input; PARSE_MORE while incomplete. */
static int http_parse(uint32_t c, uint64_t t)
{
    struct hconn *k = &hc[c];
    for (;;) {
        const uint8_t *p = k->in.p + k->in.off;
        size_t avail = k->in.len - k->in.off;
        const uint8_t *end = memmem(p, avail, "\r\n\r\n", 4);
        if (!end) {
            if (avail > MAX_HTTP_HEAD)
                die("http: a response header is longer than %d octets", MAX_HTTP_HEAD);
            return PARSE_MORE;
        }
        size_t head = (size_t)(end - p) + 4;
        if (head < 16 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || p[9] < '0' || p[9] > '9' ||
            p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
            die("http: malformed status line");
        int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        bool have_length = false, close_after = false;
        uint64_t length = 0;
        const uint8_t *line = (const uint8_t *)memchr(p, '\n', head) + 1;
        while (line < end + 2) {
            const uint8_t *eol = memchr(line, '\r', (size_t)(end + 2 - line));
            size_t len = (size_t)(eol - line);
            const uint8_t *colon = memchr(line, ':', len);
            const uint8_t *v = colon ? colon + 1 : eol;
            size_t vlen = (size_t)(eol - v);
            if (header_is(line, len, "content-length")) {
                have_length = true;
                length = 0;
                size_t digits = 0;
                for (size_t i = 0; i < vlen; i++) {
                    if (v[i] >= '0' && v[i] <= '9') {
                        if (++digits > 10)
                            die("http: Content-Length too large");
                        length = length * 10 + (uint64_t)(v[i] - '0');
                    } else if (v[i] != ' ' && v[i] != '\t') {
                        die("http: malformed Content-Length");
                    }
                }
                if (!digits)
                    die("http: empty Content-Length");
            } else if (header_is(line, len, "transfer-encoding") && !has_token(v, vlen, "identity")) {
                die("http: the server sent Transfer-Encoding (chunked is not supported)");
            } else if (header_is(line, len, "connection") && has_token(v, vlen, "close")) {
                close_after = true;
            }
            line = eol + 2;
        }
        if (status < 200) { /* an interim answer; the real one follows */
            buf_consume(&k->in, head);
            continue;
        }
        if (status == 204 || status == 304)
            length = 0;
        else if (!have_length)
            die("http: a %d response without Content-Length", status);
        if (length > MAX_FRAME)
            die("http: a body of %" PRIu64 " octets is too large", length);
        size_t total = head + (size_t)length;
        if (avail < total)
            return PARSE_MORE;
        if (!k->waiting)
            die("http: the server sent a response nobody asked for");
        record_answer(k->at, t, status < 200 || status > 299, total);
        k->waiting = false;
        buf_consume(&k->in, total);
        return close_after ? PARSE_CLOSE : PARSE_DONE;
    }
}

static void http_read(uint32_t c)
{
    struct hconn *k = &hc[c];
    for (;;) {
        enum io got = recv_in(k->fd, &k->in);
        uint64_t t = now_ns();
        if (got == IO_GONE) {
            http_broken(c, t);
            return;
        }
        if (got == IO_BLOCKED)
            return;
        int r = http_parse(c, t);
        if (r == PARSE_CLOSE) {
            close(k->fd);
            st.reconnects++;
            http_connect(c, t + CONNECT_NS < run_end ? t + CONNECT_NS : run_end);
            return;
        }
        if (r == PARSE_DONE)
            return; /* one request in flight: nothing more can come before the next is sent */
    }
}

static void run_http(uint32_t conns, const char *host, const char *port)
{
    /* An IPv6 literal needs brackets in the Host header. */
    bool v6 = strchr(host, ':') != NULL;
    const char *path = (const char *)tmpl.bytes;
    int len = snprintf(NULL, 0, "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: idr_load\r\n\r\n", path,
                       v6 ? "[" : "", host, v6 ? "]" : "", port);
    hreq = xmalloc((size_t)len + 1);
    snprintf((char *)hreq, (size_t)len + 1, "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: idr_load\r\n\r\n",
             path, v6 ? "[" : "", host, v6 ? "]" : "", port);
    hreq_len = (size_t)len;
    hreq_digits = 4 + tmpl.digits;
    hc = xmalloc(conns * sizeof *hc);
    for (uint32_t c = 0; c < conns; c++) {
        http_connect(c, warm_end);
        if (hc[c].fd < 0)
            die("connect to %s:%s: timed out", peer_host, peer_port);
    }
    struct epoll_event evs[MAX_EVENTS];
    uint64_t t;
    while ((t = now_ns()) < run_end) {
        for (uint32_t c = 0; c < conns; c++)
            http_send(c);
        int n = epoll_wait(ep, evs, MAX_EVENTS, ms_until(run_end, now_ns()));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            uint32_t c = evs[i].data.u32;
            if (hc[c].fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                http_read(c);
            if (hc[c].fd >= 0 && (evs[i].events & EPOLLOUT))
                http_flush(c);
        }
    }
}

/* ---- echo ---- */

static void run_echo(uint16_t port, size_t size)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    set_buffers(fd);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind 127.0.0.1:%u: %s", port, strerror(errno));
    printf("ready\n");
    fflush(stdout);
    static struct mmsghdr rx[BATCH], tx[BATCH];
    static struct iovec rxv[BATCH], txv[BATCH];
    static struct sockaddr_storage from[BATCH];
    uint8_t *rbuf = xmalloc((size_t)BATCH * MAX_DGRAM);
    uint8_t *tbuf = xmalloc((size_t)BATCH * size);
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            rxv[i] = (struct iovec){.iov_base = rbuf + (size_t)i * MAX_DGRAM, .iov_len = MAX_DGRAM};
            memset(&rx[i], 0, sizeof rx[i]);
            rx[i].msg_hdr.msg_iov = &rxv[i];
            rx[i].msg_hdr.msg_iovlen = 1;
            rx[i].msg_hdr.msg_name = &from[i];
            rx[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        int r = recvmmsg(fd, rx, BATCH, MSG_WAITFORONE, NULL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("receive: %s", strerror(errno));
        }
        for (int i = 0; i < r; i++) {
            const uint8_t *in = rbuf + (size_t)i * MAX_DGRAM;
            size_t len = rx[i].msg_len;
            uint8_t *out = tbuf + (size_t)i * size;
            /* The envelope (so the request id matches), then the opcode and RC_SUCCESS where a real
             * answer has them, so the generator counts echo answers as successes. */
            uint8_t head[28] = {0};
            memcpy(head, in, len < 24 ? len : 24);
            put_be32(head + 24, RC_SUCCESS);
            memset(out, 0, size);
            memcpy(out, head, size < sizeof head ? size : sizeof head);
            txv[i] = (struct iovec){.iov_base = out, .iov_len = size};
            memset(&tx[i], 0, sizeof tx[i]);
            tx[i].msg_hdr.msg_iov = &txv[i];
            tx[i].msg_hdr.msg_iovlen = 1;
            tx[i].msg_hdr.msg_name = &from[i];
            tx[i].msg_hdr.msg_namelen = rx[i].msg_hdr.msg_namelen;
        }
        for (int done = 0; done < r;) {
            int s = sendmmsg(fd, tx + done, (unsigned)(r - done), 0);
            if (s < 0) {
                if (errno == EINTR)
                    continue;
                s = 1; /* this datagram cannot be sent (a client gone, a full queue): drop it */
            }
            done += s;
        }
    }
}

/* ---- main ---- */

static void watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "idr_load: the run overran its deadline\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage("no mode given");
    const char *mode = argv[1];
    if (strcmp(mode, "echo") == 0) {
        if (argc != 4)
            usage("echo takes PORT RESPONSE_SIZE");
        uint16_t port = (uint16_t)parse_num(argv[2], 1, 65535, "PORT");
        size_t size = (size_t)parse_num(argv[3], ENVELOPE, MAX_UDP_PAYLOAD, "RESPONSE_SIZE");
        run_echo(port, size);
        return 0;
    }
    bool udp = strcmp(mode, "udp") == 0, tcp = strcmp(mode, "tcp") == 0, http = strcmp(mode, "http") == 0;
    if (!udp && !tcp && !http)
        usage("the mode must be udp, tcp, http or echo");
    if (argc != (http ? 9 : 10))
        usage(http ? "http takes 7 arguments after the mode" : "udp and tcp take 8 arguments after the mode");
    const char *host = argv[2], *port = argv[3];
    parse_num(port, 1, 65535, "PORT");
    uint64_t seconds = parse_num(argv[4], 1, 86400, "SECONDS");
    uint32_t win = 0, conns;
    int a = 5;
    if (!http) {
        win = (uint32_t)parse_num(argv[a++], 1, 1000000, "WINDOW");
        conns = (uint32_t)parse_num(argv[a++], 1, 10000, udp ? "SOCKETS" : "CONNECTIONS");
        if (conns > win)
            usage(udp ? "SOCKETS must not exceed WINDOW" : "CONNECTIONS must not exceed WINDOW");
    } else {
        conns = (uint32_t)parse_num(argv[a++], 1, 10000, "CONNECTIONS");
    }
    const char *template = argv[a++];
    uint64_t digits = parse_num(argv[a++], 0, UINT32_MAX, "DIGITS_OFFSET");
    tmpl.num_ids = (uint32_t)parse_num(argv[a++], 1, 100000000, "NUM_IDS");
    if (http) {
        size_t len = strlen(template);
        if (template[0] != '/')
            usage("PATH_TEMPLATE must start with '/'");
        for (size_t i = 0; i < len; i++)
            if (template[i] <= ' ' || template[i] >= 0x7f)
                usage("PATH_TEMPLATE must be printable ASCII without spaces");
        tmpl.bytes = (const uint8_t *)template;
        tmpl.len = len;
        check_digits(tmpl.bytes, tmpl.len, digits, 1);
    } else {
        size_t len;
        uint8_t *bytes = parse_hex(template, &len);
        if (len < 28 || len > MAX_UDP_PAYLOAD)
            usage("TEMPLATE_HEX must be one request of 28 to 65507 octets");
        if (get_be32(bytes + 16) != len - ENVELOPE)
            usage("TEMPLATE_HEX is not one whole request: its envelope length does not match");
        tmpl.bytes = bytes;
        tmpl.len = len;
        check_digits(bytes, len, digits, ENVELOPE);
    }
    tmpl.digits = (size_t)digits;

    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, watchdog);
    alarm((unsigned)seconds + 3); /* last resort: the loops already stop at 1 + SECONDS */
    rng_state = now_ns() ^ ((uint64_t)getpid() << 32);
    uint64_t start = now_ns();
    warm_end = start + WARMUP_NS;
    run_end = warm_end + seconds * NS_PER_S;
    resolve(host, port, udp ? SOCK_DGRAM : SOCK_STREAM);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1: %s", strerror(errno));
    if (udp)
        run_udp(win, conns);
    else if (tcp)
        run_tcp(win, conns);
    else
        run_http(conns, host, port);
    alarm(0); /* the network part is over; what is left is bounded work on the recorded latencies */
    report(mode, seconds);
    return 0;
}
