/*
 * wsload.c - single-process, epoll-driven WebSocket / Socket.IO fan-out load generator.
 *
 * One process opens N subscriber connections (raw WebSocket or Socket.IO v4 over the
 * Engine.IO v4 websocket transport), optionally publishes at a fixed rate through HTTP POST,
 * Redis PUBLISH or a WebSocket publisher connection, and measures per-delivery latency by
 * finding a "SEQ<digits>" marker in every received frame.  Prints one JSON line at the end.
 *
 * Build:  gcc -O2 -Wall -pthread -o wsload wsload.c      (no external libraries)
 *
 * Origin: vendored from the project's shared benchmark kit (shared/bench/wsload.c, version 1.0) into the
 * gateway repository (bench/wsload/) so `pnpm bench` depends on nothing outside the repo. Local extensions,
 * marked "bench extension" below: repeatable --sub-msg, per-connection {value} (--values FILE), and a passive
 * measurement mode for source-driven traffic (--measure S with --count-match, --ts-key, --burst-gap-ms,
 * --item-key, repeatable --end-msg) where the server, not this tool, decides what is published; --ready-file and
 * --go-file so several runs against one server start their windows together; per_conn_p50 in the passive output.
 * Safety: only loopback targets (127.0.0.0/8) are accepted; every phase is time-bounded and
 *         the whole run is capped by --max-runtime.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define WSLOAD_VERSION "1.0"
#define MAX_FRAME (16u << 20)
#define MAX_HDRS 32

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "wsload: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}
static void *xmalloc(size_t n) { void *p = malloc(n ? n : 1); if (!p) die("out of memory"); return p; }
static void *xcalloc(size_t n, size_t s) { void *p = calloc(n ? n : 1, s ? s : 1); if (!p) die("out of memory"); return p; }
static void *xrealloc(void *p, size_t n) { p = realloc(p, n ? n : 1); if (!p) die("out of memory"); return p; }

/* ------------------------------------------------------------------ SHA-1 / base64 */
static inline uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static void sha1_block(uint32_t h[5], const uint8_t *p) {
  uint32_t w[80];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
    else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
    else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
    else { f = b ^ c ^ d; k = 0xCA62C1D6; }
    uint32_t t = rol32(a, 5) + f + e + k + w[i];
    e = d; d = c; c = rol32(b, 30); b = a; a = t;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}
static void sha1(const uint8_t *data, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  size_t i = 0;
  for (; i + 64 <= len; i += 64) sha1_block(h, data + i);
  uint8_t tail[128];
  size_t r = len - i;
  memset(tail, 0, sizeof tail);
  memcpy(tail, data + i, r);
  tail[r] = 0x80;
  size_t tl = (r + 1 + 8 <= 64) ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8;
  for (int k = 0; k < 8; k++) tail[tl - 1 - k] = (uint8_t)(bits >> (8 * k));
  sha1_block(h, tail);
  if (tl == 128) sha1_block(h, tail + 64);
  for (int k = 0; k < 5; k++) {
    out[4 * k] = h[k] >> 24; out[4 * k + 1] = h[k] >> 16; out[4 * k + 2] = h[k] >> 8; out[4 * k + 3] = h[k];
  }
}
static size_t b64enc(const uint8_t *in, size_t n, char *out) {
  static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = T[v >> 18]; out[o++] = T[(v >> 12) & 63]; out[o++] = T[(v >> 6) & 63]; out[o++] = T[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = T[v >> 18]; out[o++] = T[(v >> 12) & 63]; out[o++] = '='; out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = T[v >> 18]; out[o++] = T[(v >> 12) & 63]; out[o++] = T[(v >> 6) & 63]; out[o++] = '=';
  }
  out[o] = 0;
  return o;
}
static void ws_accept_for(const char *key, char out[32]) {
  char buf[128];
  int n = snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
  uint8_t d[20];
  sha1((const uint8_t *)buf, (size_t)n, d);
  b64enc(d, 20, out);
}

/* ------------------------------------------------------------------ histogram (log-linear, <0.2% error) */
#define HB (1024 + 33 * 512)
typedef struct { uint64_t *b; uint64_t n, max; } hist_t;
static void hist_init(hist_t *h) { h->b = xcalloc(HB, sizeof(uint64_t)); h->n = 0; h->max = 0; }
static inline int hidx(uint64_t v) {
  if (v < 1024) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  int sh = msb - 9;
  long i = 1024 + (long)(sh - 1) * 512 + (long)((v >> sh) - 512);
  return i >= HB ? HB - 1 : (int)i;
}
static inline uint64_t hval(int i) {
  if (i < 1024) return (uint64_t)i;
  int sh = (i - 1024) / 512 + 1;
  uint64_t m = (uint64_t)((i - 1024) % 512 + 512);
  return (m << sh) + ((1ull << sh) >> 1);
}
static inline void hist_add(hist_t *h, uint64_t v) { h->b[hidx(v)]++; h->n++; if (v > h->max) h->max = v; }
static uint64_t hist_pct(const hist_t *h, double p) {
  if (!h->n) return 0;
  if (p >= 1.0) return h->max;
  uint64_t target = (uint64_t)(p * (double)h->n + 0.999999);
  if (target < 1) target = 1;
  uint64_t c = 0;
  for (int i = 0; i < HB; i++) {
    c += h->b[i];
    if (c >= target) { uint64_t v = hval(i); return v > h->max ? h->max : v; }
  }
  return h->max;
}

/* ------------------------------------------------------------------ rng */
static __thread uint64_t rng_s = 88172645463325252ull;
static inline uint64_t rnd64(void) { rng_s ^= rng_s << 13; rng_s ^= rng_s >> 7; rng_s ^= rng_s << 17; return rng_s; }

/* ------------------------------------------------------------------ config */
typedef struct { char host[256]; uint32_t addr; int port; char path[4096]; } target_t;

enum { PUB_NONE = 0, PUB_HTTP, PUB_REDIS, PUB_WS };
static struct {
  target_t sub;
  int conns;
  double conn_rate;
  int max_pending;
  double connect_timeout, connect_phase_max;
  char *headers[MAX_HDRS]; int nheaders;
  char *sub_msgs[8]; int nsub_msgs;             /* bench extension: several subscribe frames */
  char **values; int nvalues;                    /* bench extension: {value} per connection */
  double measure;                                /* bench extension: passive measurement window (s) */
  char *count_match; size_t count_match_len;     /* frames containing this are data frames */
  char ts_key[64]; size_t ts_key_len; int ts_offset_min;
  double burst_gap_ms;
  char item_key[64]; size_t item_key_len;
  char *end_msgs[8]; int nend_msgs;
  char *end_ack; size_t end_ack_len;             /* a frame containing this answers one end message */
  int sio; char *sio_ns; char *sio_auth; char *sio_emit;
  char **tokens; int ntokens;
  int pub_kind; target_t pub; char *pub_headers[MAX_HDRS]; int npub_headers;
  char *pub_channel, *payload, *content_type;
  double pub_rate, pub_duration; int pub_conns;
  char marker[64]; size_t mlen;
  double settle, drain, max_runtime;
  long expect_per_msg;
  int spids[64]; int nspids; int server_children;
  char *label; int verbose;
  double rx_coalesce_us;
  double pub_grace;
  char *ready_file, *go_file;                    /* bench extension: start several runs' windows together */
} cfg;

static void parse_target(const char *url, target_t *t, int default_port) {
  const char *p = url;
  if (!strncmp(p, "ws://", 5)) p += 5;
  else if (!strncmp(p, "http://", 7)) p += 7;
  else if (!strncmp(p, "redis://", 8)) p += 8;
  else if (strstr(p, "://")) die("unsupported scheme (plain ws://, http://, redis:// only): %s", url);
  size_t hl = strcspn(p, ":/?");
  if (hl == 0 || hl >= sizeof t->host) die("bad host in %s", url);
  memcpy(t->host, p, hl); t->host[hl] = 0; p += hl;
  t->port = default_port;
  if (*p == ':') { t->port = (int)strtol(p + 1, (char **)&p, 10); }
  if (t->port <= 0 || t->port > 65535) die("bad port in %s", url);
  if (*p == '?') snprintf(t->path, sizeof t->path, "/%s", p);
  else snprintf(t->path, sizeof t->path, "%s", *p ? p : "/");
  const char *h = !strcmp(t->host, "localhost") ? "127.0.0.1" : t->host;
  struct in_addr a;
  if (inet_pton(AF_INET, h, &a) != 1) die("host must be a literal IPv4 loopback address: %s", t->host);
  if ((ntohl(a.s_addr) >> 24) != 127) die("refusing non-loopback target %s (only 127.0.0.0/8 allowed)", t->host);
  t->addr = a.s_addr;
}

/* per-connection template: {i} -> connection index, {token} -> tokens[i % ntokens] */
static size_t expand_conn(const char *tpl, int i, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = tpl; *p && o + 1 < cap;) {
    if (*p == '{' && !strncmp(p, "{i}", 3)) {
      int n = snprintf(out + o, cap - o, "%d", i);
      o += (n > 0 && (size_t)n < cap - o) ? (size_t)n : 0;
      p += 3;
      continue;
    }
    if (*p == '{' && !strncmp(p, "{value}", 7)) { /* bench extension */
      const char *v = cfg.nvalues ? cfg.values[i % cfg.nvalues] : "";
      size_t l = strlen(v);
      if (o + l < cap) { memcpy(out + o, v, l); o += l; }
      p += 7;
      continue;
    }
    if (*p == '{' && !strncmp(p, "{token}", 7)) {
      const char *tk = cfg.ntokens ? cfg.tokens[i % cfg.ntokens] : "";
      size_t l = strlen(tk);
      if (o + l < cap) { memcpy(out + o, tk, l); o += l; }
      p += 7;
      continue;
    }
    out[o++] = *p++;
  }
  out[o] = 0;
  return o;
}

/* publish payload template split at {seq} */
static char **pl_seg; static size_t *pl_seglen; static int pl_nseg;
static void payload_prepare(const char *tpl) {
  pl_seg = xcalloc(strlen(tpl) + 2, sizeof(char *));
  pl_seglen = xcalloc(strlen(tpl) + 2, sizeof(size_t));
  const char *p = tpl;
  for (;;) {
    const char *q = strstr(p, "{seq}");
    size_t l = q ? (size_t)(q - p) : strlen(p);
    pl_seg[pl_nseg] = strndup(p, l); pl_seglen[pl_nseg] = l; pl_nseg++;
    if (!q) break;
    p = q + 5;
  }
}
static size_t payload_build(uint64_t seq, char *out, size_t cap) {
  char num[32];
  int nl = snprintf(num, sizeof num, "%llu", (unsigned long long)seq);
  size_t o = 0;
  for (int s = 0; s < pl_nseg; s++) {
    if (s) { if (o + nl >= cap) break; memcpy(out + o, num, nl); o += nl; }
    if (o + pl_seglen[s] >= cap) break;
    memcpy(out + o, pl_seg[s], pl_seglen[s]); o += pl_seglen[s];
  }
  out[o] = 0;
  return o;
}

/* ------------------------------------------------------------------ connections */
enum { K_SUB = 0, K_PUBWS, K_PUBHTTP, K_PUBREDIS };
enum { S_FREE = 0, S_CONNECTING, S_HS_SENT, S_SIO_WAIT_OPEN, S_SIO_WAIT_NS, S_READY, S_HTTP_BUSY, S_CLOSED };

typedef struct conn {
  int fd, idx;
  uint8_t kind, state, epout, pad;
  uint64_t t0;
  char key[28];
  uint8_t *rbuf; uint32_t rlen, rcap;
  uint8_t *wbuf; uint32_t wlen, woff, wcap;
  int64_t last_seq;
  uint32_t win_frames; /* bench extension: data frames received inside the --measure window */
  uint8_t end_acks;    /* bench extension: answers to the --end-msg frames received */
} conn_t;

static __thread int epfd, tfd; /* each thread (receiver, publisher) has its own epoll + timerfd */
static conn_t *subs, *pubs;
static int npubs;

/* counters */
static long n_started, n_pending, n_open, n_failed, n_closed_after_open, n_open_at_pub;
static long end_targets, end_acked, end_lost; /* bench extension: sent the end messages / answered all / closed unanswered */
static int in_end_drain;
static uint64_t n_reads, n_waits;
static uint64_t frames_rx, frames_nomarker, frag_frames, pings_rx, pongs_tx, rx_bytes, pub_rx_frames;
static uint64_t received, dups, unknown_seq, ooo;
static uint64_t pub_total, pub_next, pub_head, pub_sent, pub_acked, pub_errors, pub_conn_resets, redis_receivers;
static uint64_t *send_t;
static uint8_t *bitmap;
static uint64_t first_send, last_send, last_rx;
static uint64_t pub_t0;
static hist_t h_lat, h_conn, h_lag;
static int http_status_err[8];
static volatile sig_atomic_t g_stop;

#define MAXFR 32
static struct { char name[40]; uint64_t n; } freason[MAXFR], creason[MAXFR];
static int nfreason, ncreason;
static void reason_add(int closed_after_open, const char *r) {
  __typeof__(freason[0]) *arr = closed_after_open ? creason : freason;
  int *n = closed_after_open ? &ncreason : &nfreason;
  for (int i = 0; i < *n; i++) if (!strcmp(arr[i].name, r)) { arr[i].n++; return; }
  if (*n < MAXFR) { snprintf(arr[*n].name, sizeof arr[*n].name, "%s", r); arr[*n].n = 1; (*n)++; }
}
static const char *errname(int e) {
  switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED"; case ECONNRESET: return "ECONNRESET";
    case ETIMEDOUT: return "ETIMEDOUT"; case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EMFILE: return "EMFILE"; case ENFILE: return "ENFILE"; case EPIPE: return "EPIPE";
    case ENOBUFS: return "ENOBUFS"; case EHOSTUNREACH: return "EHOSTUNREACH";
    default: return "errno_other";
  }
}

static void ep_mod(conn_t *c, int out) {
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  c->epout = (uint8_t)out;
}

static void conn_close(conn_t *c, const char *reason) {
  if (c->state == S_CLOSED || c->state == S_FREE) return;
  if (c->fd >= 0) { close(c->fd); c->fd = -1; }
  c->wlen = c->woff = 0;
  if (c->kind == K_SUB) {
    if (c->state == S_READY) {
      n_open--; n_closed_after_open++; reason_add(1, reason);
      if (in_end_drain && c->end_acks < cfg.nend_msgs) end_lost++;
    }
    else { n_pending--; n_failed++; reason_add(0, reason); }
  } else {
    pub_conn_resets++;
    if (cfg.verbose) fprintf(stderr, "wsload: publisher connection closed: %s\n", reason);
  }
  c->state = S_CLOSED;
}

static void conn_send(conn_t *c, const void *data, size_t len) {
  if (c->fd < 0) return;
  const uint8_t *d = data;
  if (c->wlen == c->woff) {
    c->wlen = c->woff = 0;
    ssize_t n = write(c->fd, d, len);
    if (n == (ssize_t)len) return;
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) { conn_close(c, errname(errno)); return; }
      n = 0;
    }
    d += n; len -= (size_t)n;
  }
  if (c->wlen + len > c->wcap) {
    if (c->woff) { memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff); c->wlen -= c->woff; c->woff = 0; }
    if (c->wlen + len > c->wcap) { c->wcap = (uint32_t)(c->wlen + len) * 2; c->wbuf = xrealloc(c->wbuf, c->wcap); }
  }
  memcpy(c->wbuf + c->wlen, d, len);
  c->wlen += (uint32_t)len;
  if (!c->epout) ep_mod(c, 1);
}

static void ws_send(conn_t *c, int opcode, const void *data, size_t len) {
  uint8_t stackbuf[4096];
  size_t need = len + 14;
  uint8_t *f = need <= sizeof stackbuf ? stackbuf : xmalloc(need);
  size_t h = 0;
  f[h++] = (uint8_t)(0x80 | opcode);
  if (len < 126) f[h++] = (uint8_t)(0x80 | len);
  else if (len < 65536) { f[h++] = 0x80 | 126; f[h++] = (uint8_t)(len >> 8); f[h++] = (uint8_t)len; }
  else { f[h++] = 0x80 | 127; for (int k = 7; k >= 0; k--) f[h++] = (uint8_t)((uint64_t)len >> (8 * k)); }
  uint32_t m = (uint32_t)rnd64();
  uint8_t mk[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};
  memcpy(f + h, mk, 4); h += 4;
  const uint8_t *s = data;
  for (size_t i = 0; i < len; i++) f[h + i] = s[i] ^ mk[i & 3];
  conn_send(c, f, h + len);
  if (f != stackbuf) free(f);
}

static int conn_start(conn_t *c, const target_t *t) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET; sa.sin_port = htons((uint16_t)t->port); sa.sin_addr.s_addr = t->addr;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) { int e = errno; close(fd); return -e; }
  c->fd = fd; c->state = S_CONNECTING; c->t0 = now_ns(); c->rlen = 0; c->wlen = c->woff = 0; c->last_seq = -1;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) { int e = errno; close(fd); c->fd = -1; return -e; }
  c->epout = 1;
  return 0;
}

static void send_ws_handshake(conn_t *c, const target_t *t, char **hdrs, int nh) {
  uint8_t rk[16];
  for (int k = 0; k < 16; k += 8) { uint64_t r = rnd64(); memcpy(rk + k, &r, 8); }
  b64enc(rk, 16, c->key);
  static __thread char req[65536];
  size_t o = (size_t)snprintf(req, sizeof req,
                              "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                              t->path, t->host, t->port, c->key);
  for (int h = 0; h < nh && o < sizeof req - 8; h++) {
    o += expand_conn(hdrs[h], c->idx, req + o, sizeof req - o - 4);
    req[o++] = '\r'; req[o++] = '\n';
  }
  req[o++] = '\r'; req[o++] = '\n';
  c->state = S_HS_SENT;
  conn_send(c, req, o);
}

static void sub_ready(conn_t *c, uint64_t t) {
  c->state = S_READY;
  n_pending--; n_open++;
  hist_add(&h_conn, (t - c->t0) / 1000);
  static __thread char buf[65536];
  if (cfg.sio && cfg.sio_emit) {
    size_t o = 2; memcpy(buf, "42", 2);
    if (cfg.sio_ns && strcmp(cfg.sio_ns, "/")) o += (size_t)snprintf(buf + o, sizeof buf - o, "%s,", cfg.sio_ns);
    o += expand_conn(cfg.sio_emit, c->idx, buf + o, sizeof buf - o);
    ws_send(c, 1, buf, o);
  }
  for (int m = 0; m < cfg.nsub_msgs; m++) { size_t l = expand_conn(cfg.sub_msgs[m], c->idx, buf, sizeof buf); ws_send(c, 1, buf, l); }
}

/* ------------------------------------------------------------------ receive path */
static inline void record_delivery(conn_t *c, uint64_t seq, uint64_t t) {
  uint64_t s = seq < pub_total ? __atomic_load_n(&send_t[seq], __ATOMIC_ACQUIRE) : 0;
  if (!s) { unknown_seq++; return; }
  if (bitmap) {
    uint64_t bi = (uint64_t)c->idx * pub_total + seq;
    uint8_t m = (uint8_t)(1u << (bi & 7));
    if (bitmap[bi >> 3] & m) { dups++; return; }
    bitmap[bi >> 3] |= m;
  }
  received++;
  hist_add(&h_lat, t > s ? (t - s) / 1000 : 0);
  if ((int64_t)seq < c->last_seq) ooo++; else c->last_seq = (int64_t)seq;
  if (t > last_rx) last_rx = t;
}

/* ------------------------------------------------------------------ bench extension: passive accounting
 * Source-driven traffic (stock prices, trading pushes) carries no SEQ marker: the server decides what is sent.
 * Frames containing --count-match are data frames; they are counted over the whole run (for an exact
 * comparison with the server's own sent counter once the traffic has been stopped with --end-msg) and per
 * connection inside the --measure window. Timing, all from the frame alone:
 *  - age: receipt wall time minus the LAST "<ts-key>":"YYYY-MM-DDTHH:mm:ss" of the frame (whole seconds at
 *    UTC+--ts-offset-min), so age is the true delay plus [0, 1) s; lateness = max(0, age - 1 s) is a sound
 *    lower bound of the delay (non-zero only for frames certainly delivered more than that late);
 *  - burst: frames of one server flush arrive together; a frame arriving more than --burst-gap-ms after the
 *    previous data frame starts a burst, and every frame records its time since the burst's first frame. */
static int passive_on, in_window;
static uint64_t data_frames_total, data_frames_window, items_total, dup_items, wall_minus_mono_ns;
static uint64_t last_data_rx, burst_start;

static hist_t h_age, h_late, h_burst;

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}
/* "YYYY-MM-DDTHH:mm:ss" (wall time at UTC+offset_min) -> epoch ms; -1 when it does not parse */
static int64_t parse_wall_ts(const uint8_t *s, size_t n, int offset_min) {
  if (n < 19) return -1;
  int v[6]; const int pos[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
  for (int k = 0; k < 6; k++) {
    int x = 0;
    for (int j = 0; j < len[k]; j++) { uint8_t ch = s[pos[k] + j]; if (ch < '0' || ch > '9') return -1; x = x * 10 + (ch - '0'); }
    v[k] = x;
  }
  if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31) return -1;
  int64_t days = days_from_civil(v[0], (unsigned)v[1], (unsigned)v[2]);
  int64_t secs = days * 86400 + v[3] * 3600 + v[4] * 60 + v[5] - (int64_t)offset_min * 60;
  return secs * 1000;
}

static void passive_frame(conn_t *c, const uint8_t *p, size_t len, uint64_t t) {
  if (cfg.end_ack_len && memmem(p, len, cfg.end_ack, cfg.end_ack_len)) {
    if (++c->end_acks == cfg.nend_msgs) end_acked++;
    return;
  }
  if (!memmem(p, len, cfg.count_match, cfg.count_match_len)) { frames_nomarker++; return; }
  data_frames_total++;
  if (!in_window) return;
  data_frames_window++;
  c->win_frames++;
  if (t > last_rx) last_rx = t;
  if (cfg.ts_key_len) {
    const uint8_t *q = p, *last = NULL, *end = p + len;
    while (q < end && (q = memmem(q, (size_t)(end - q), cfg.ts_key, cfg.ts_key_len)) != NULL) { last = q; q += cfg.ts_key_len; }
    if (last) {
      const uint8_t *v = last + cfg.ts_key_len;
      int64_t ts = parse_wall_ts(v, (size_t)(end - v), cfg.ts_offset_min);
      if (ts >= 0) {
        int64_t wall_ms = (int64_t)((t + wall_minus_mono_ns) / 1000000ull);
        int64_t age = wall_ms - ts;
        hist_add(&h_age, age > 0 ? (uint64_t)age * 1000 : 0);
        hist_add(&h_late, age > 1000 ? (uint64_t)(age - 1000) * 1000 : 0);
      }
    }
  }
  if (cfg.burst_gap_ms > 0) {
    if (!burst_start || t - last_data_rx > (uint64_t)(cfg.burst_gap_ms * 1e6)) burst_start = t;
    hist_add(&h_burst, (t - burst_start) / 1000);
  }
  last_data_rx = t;
  if (cfg.item_key_len) {
    /* items are "<item-key>VALUE" (a JSON string value); count them and any VALUE repeated within the frame */
    const uint8_t *starts[256]; size_t lens[256]; int n = 0;
    const uint8_t *q = p, *end = p + len;
    while (q < end && (q = memmem(q, (size_t)(end - q), cfg.item_key, cfg.item_key_len)) != NULL) {
      const uint8_t *v = q + cfg.item_key_len, *e = v;
      while (e < end && *e != '"') e++;
      items_total++;
      if (n < 256) {
        for (int k = 0; k < n; k++) if (lens[k] == (size_t)(e - v) && !memcmp(starts[k], v, lens[k])) { dup_items++; break; }
        starts[n] = v; lens[n] = (size_t)(e - v); n++;
      }
      q = e;
    }
  }
}

static void data_frame(conn_t *c, const uint8_t *p, size_t len, uint64_t t) {
  if (passive_on) { passive_frame(c, p, len, t); return; }
  const uint8_t *end = p + len, *q = p;
  while (q < end && (q = memmem(q, (size_t)(end - q), cfg.marker, cfg.mlen)) != NULL) {
    const uint8_t *d = q + cfg.mlen;
    if (d < end && *d >= '0' && *d <= '9') {
      uint64_t v = 0; int nd = 0;
      while (d < end && *d >= '0' && *d <= '9' && nd < 19) { v = v * 10 + (uint64_t)(*d - '0'); d++; nd++; }
      record_delivery(c, v, t);
      return;
    }
    q++;
  }
  frames_nomarker++;
}

static void sio_frame(conn_t *c, const uint8_t *p, size_t len, uint64_t t) {
  if (!len) return;
  switch (p[0]) {
    case '0': /* engine.io open */
      if (c->state == S_SIO_WAIT_OPEN) {
        static __thread char buf[65536];
        size_t o = 2; memcpy(buf, "40", 2);
        if (cfg.sio_ns && strcmp(cfg.sio_ns, "/")) o += (size_t)snprintf(buf + o, sizeof buf - o, "%s,", cfg.sio_ns);
        if (cfg.sio_auth) o += expand_conn(cfg.sio_auth, c->idx, buf + o, sizeof buf - o);
        c->state = S_SIO_WAIT_NS;
        ws_send(c, 1, buf, o);
      }
      break;
    case '2': /* engine.io ping -> pong */
      pings_rx++; pongs_tx++;
      { uint8_t b[256]; size_t l = len < sizeof b ? len : sizeof b; memcpy(b, p, l); b[0] = '3'; ws_send(c, 1, b, l); }
      break;
    case '1': conn_close(c, "eio_close"); break;
    case '4':
      if (len < 2) break;
      if (p[1] == '0') { if (c->state == S_SIO_WAIT_NS) sub_ready(c, t); }
      else if (p[1] == '4') conn_close(c, "sio_connect_error");
      else if (p[1] == '1') conn_close(c, "sio_disconnect");
      else data_frame(c, p, len, t);
      break;
    default: break; /* '3' pong, '6' noop, binary attachments... */
  }
}

static void handle_frame(conn_t *c, int op, int fin, uint8_t *p, size_t len, uint64_t t) {
  switch (op) {
    case 0x0: case 0x1: case 0x2:
      if (op == 0 || !fin) frag_frames++;
      if (c->kind != K_SUB) { pub_rx_frames++; break; }
      frames_rx++;
      if (cfg.sio && op == 0x1) sio_frame(c, p, len, t);
      else data_frame(c, p, len, t);
      break;
    case 0x8: {
      uint8_t code[2] = {0x03, 0xe8};
      if (len >= 2) { code[0] = p[0]; code[1] = p[1]; }
      ws_send(c, 0x8, code, 2);
      conn_close(c, "ws_close_frame");
      break;
    }
    case 0x9:
      pings_rx++; pongs_tx++;
      ws_send(c, 0xA, p, len > 125 ? 125 : len);
      break;
    case 0xA: break;
    default: conn_close(c, "bad_opcode"); break;
  }
}

static size_t parse_frame(conn_t *c, uint8_t *p, size_t len, uint64_t t) {
  if (len < 2) return 0;
  int fin = p[0] & 0x80, op = p[0] & 0x0f, masked = p[1] & 0x80;
  uint64_t pl = p[1] & 0x7f;
  size_t h = 2;
  if (pl == 126) { if (len < 4) return 0; pl = (uint64_t)p[2] << 8 | p[3]; h = 4; }
  else if (pl == 127) { if (len < 10) return 0; pl = 0; for (int k = 0; k < 8; k++) pl = pl << 8 | p[2 + k]; h = 10; }
  if (pl > MAX_FRAME) { conn_close(c, "frame_too_big"); return 0; }
  if (masked) h += 4;
  if (len < h + pl) return 0;
  uint8_t *pay = p + h;
  if (masked) { uint8_t *mk = p + h - 4; for (uint64_t i = 0; i < pl; i++) pay[i] ^= mk[i & 3]; }
  handle_frame(c, op, fin != 0, pay, (size_t)pl, t);
  return h + (size_t)pl;
}

static const uint8_t *memcase(const uint8_t *h, size_t hl, const char *n) {
  size_t nl = strlen(n);
  if (nl > hl) return NULL;
  for (size_t i = 0; i + nl <= hl; i++) if (!strncasecmp((const char *)h + i, n, nl)) return h + i;
  return NULL;
}

static size_t handle_handshake(conn_t *c, uint8_t *buf, size_t len, uint64_t t) {
  uint8_t *e = memmem(buf, len, "\r\n\r\n", 4);
  if (!e) { if (len > 65536) conn_close(c, "handshake_too_big"); return 0; }
  size_t hl = (size_t)(e - buf) + 4;
  int status = 0;
  if (len >= 12 && !memcmp(buf, "HTTP/1.", 7)) status = atoi((char *)buf + 9);
  if (status != 101) { char r[32]; snprintf(r, sizeof r, "http_%d", status); conn_close(c, r); return 0; }
  char want[32];
  ws_accept_for(c->key, want);
  const uint8_t *a = memcase(buf, hl, "\r\nsec-websocket-accept:");
  int ok = 0;
  if (a) {
    a += 23;
    while (*a == ' ' || *a == '\t') a++;
    size_t wl = strlen(want);
    ok = (size_t)(e - a) >= wl && !memcmp(a, want, wl);
  }
  if (!ok) { conn_close(c, "bad_accept"); return 0; }
  if (c->kind == K_SUB) {
    if (cfg.sio) c->state = S_SIO_WAIT_OPEN;
    else sub_ready(c, t);
  } else {
    c->state = S_READY;
  }
  return hl;
}

static void dispatch_pub(void);

/* HTTP/1.1 response parser for the publisher pool; returns bytes consumed for one response or 0 */
static size_t http_resp(conn_t *c, uint8_t *b, size_t len) {
  uint8_t *e = memmem(b, len, "\r\n\r\n", 4);
  if (!e) { if (len > 65536) conn_close(c, "http_resp_too_big"); return 0; }
  size_t hl = (size_t)(e - b) + 4;
  int status = (len >= 12 && !memcmp(b, "HTTP/1.", 7)) ? atoi((char *)b + 9) : 0;
  const uint8_t *cl = memcase(b, hl, "\r\ncontent-length:");
  int chunked = memcase(b, hl, "\r\ntransfer-encoding: chunked") != NULL;
  int close_after = memcase(b, hl, "\r\nconnection: close") != NULL;
  size_t total = hl;
  if (chunked) {
    size_t off = hl;
    for (;;) {
      uint8_t *le = memmem(b + off, len - off, "\r\n", 2);
      if (!le) return 0;
      unsigned long sz = strtoul((char *)b + off, NULL, 16);
      off = (size_t)(le - b) + 2;
      if (sz == 0) { if (len - off < 2) return 0; off += 2; break; }
      if (len - off < sz + 2) return 0;
      off += sz + 2;
    }
    total = off;
  } else if (cl) {
    size_t n = (size_t)strtoul((char *)cl + 17, NULL, 10);
    if (len - hl < n) return 0;
    total = hl + n;
  }
  if (status >= 200 && status < 300) pub_acked++;
  else { pub_errors++; int k = status / 100; if (k >= 0 && k < 8) http_status_err[k]++; }
  if (c->state == S_HTTP_BUSY) c->state = S_READY;
  if (close_after) { conn_close(c, "http_connection_close"); return total; }
  return total;
}

static size_t redis_resp(conn_t *c, uint8_t *b, size_t len) {
  uint8_t *le = memmem(b, len, "\r\n", 2);
  if (!le) return 0;
  size_t l = (size_t)(le - b) + 2;
  if (b[0] == ':') { pub_acked++; redis_receivers += strtoull((char *)b + 1, NULL, 10); }
  else if (b[0] == '-') { pub_errors++; if (cfg.verbose) fprintf(stderr, "wsload: redis error: %.*s\n", (int)(le - b), b); }
  else if (b[0] == '$') { long n = strtol((char *)b + 1, NULL, 10); if (n > 0) { if (len < l + (size_t)n + 2) return 0; l += (size_t)n + 2; } }
  (void)c;
  return l;
}

static size_t process(conn_t *c, uint8_t *buf, size_t len, uint64_t t) {
  size_t off = 0;
  if (c->state == S_HS_SENT) {
    size_t h = handle_handshake(c, buf, len, t);
    if (!h) return 0;
    off = h;
  }
  while (off < len && c->state != S_CLOSED) {
    size_t f;
    if (c->kind == K_PUBHTTP) f = http_resp(c, buf + off, len - off);
    else if (c->kind == K_PUBREDIS) f = redis_resp(c, buf + off, len - off);
    else f = parse_frame(c, buf + off, len - off, t);
    if (!f) break;
    off += f;
  }
  return off;
}

static __thread uint8_t gbuf[1 << 18];
static void on_read(conn_t *c) {
  ssize_t n = read(c->fd, gbuf, sizeof gbuf);
  if (n == 0) { conn_close(c, "eof"); goto out; }
  if (n < 0) { if (errno != EAGAIN && errno != EINTR) conn_close(c, errname(errno)); goto out; }
  rx_bytes += (uint64_t)n;
  n_reads++;
  uint64_t t = now_ns();
  if (c->rlen) {
    if (c->rlen + (size_t)n > c->rcap) { c->rcap = (uint32_t)(c->rlen + (size_t)n) * 2; c->rbuf = xrealloc(c->rbuf, c->rcap); }
    memcpy(c->rbuf + c->rlen, gbuf, (size_t)n);
    c->rlen += (uint32_t)n;
    size_t used = process(c, c->rbuf, c->rlen, t);
    if (c->state != S_CLOSED) { memmove(c->rbuf, c->rbuf + used, c->rlen - used); c->rlen -= (uint32_t)used; }
  } else {
    size_t used = process(c, gbuf, (size_t)n, t);
    if (c->state != S_CLOSED && used < (size_t)n) {
      size_t rest = (size_t)n - used;
      if (rest > c->rcap) { c->rcap = (uint32_t)(rest < 4096 ? 4096 : rest * 2); c->rbuf = xrealloc(c->rbuf, c->rcap); }
      memcpy(c->rbuf, gbuf + used, rest);
      c->rlen = (uint32_t)rest;
    }
  }
out:
  if (c->state == S_CLOSED) {
    free(c->rbuf); c->rbuf = NULL; c->rlen = c->rcap = 0;
    free(c->wbuf); c->wbuf = NULL; c->wlen = c->woff = c->wcap = 0;
  }
  if (c->kind != K_SUB) dispatch_pub();
}

static void on_connected(conn_t *c) {
  switch (c->kind) {
    case K_SUB: send_ws_handshake(c, &cfg.sub, cfg.headers, cfg.nheaders); break;
    case K_PUBWS: send_ws_handshake(c, &cfg.pub, cfg.pub_headers, cfg.npub_headers); break;
    default: c->state = S_READY; break;
  }
}

static void on_write(conn_t *c) {
  if (c->state == S_CONNECTING) {
    int err = 0; socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) { conn_close(c, errname(err)); return; }
    on_connected(c);
    if (c->state == S_CLOSED) return;
  }
  while (c->woff < c->wlen) {
    ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
    if (n < 0) { if (errno == EAGAIN || errno == EINTR) break; conn_close(c, errname(errno)); return; }
    c->woff += (uint32_t)n;
  }
  if (c->woff == c->wlen) { c->woff = c->wlen = 0; if (c->epout) ep_mod(c, 0); }
  if (c->kind != K_SUB) dispatch_pub();
}

/* ------------------------------------------------------------------ publisher */

static void pub_send(conn_t *pc, uint64_t seq) {
  static __thread char body[1 << 16], req[(1 << 16) + 8192];
  size_t bl = payload_build(seq, body, sizeof body);
  uint64_t t = now_ns();
  uint64_t sched = pub_t0 + (uint64_t)((double)seq * 1e9 / cfg.pub_rate);
  hist_add(&h_lag, t > sched ? (t - sched) / 1000 : 0);
  __atomic_store_n(&send_t[seq], t, __ATOMIC_RELEASE);
  if (!first_send) first_send = t;
  last_send = t;
  __atomic_store_n(&pub_sent, pub_sent + 1, __ATOMIC_RELEASE);
  if (pc->kind == K_PUBWS) { ws_send(pc, 1, body, bl); return; }
  size_t o;
  if (pc->kind == K_PUBREDIS) {
    size_t cl = strlen(cfg.pub_channel);
    o = (size_t)snprintf(req, sizeof req, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n", cl, cfg.pub_channel, bl);
  } else {
    o = (size_t)snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
                         cfg.pub.path, cfg.pub.host, cfg.pub.port, cfg.content_type, bl);
    for (int h = 0; h < cfg.npub_headers; h++) {
      o += expand_conn(cfg.pub_headers[h], 0, req + o, sizeof req - o - 4);
      req[o++] = '\r'; req[o++] = '\n';
    }
    req[o++] = '\r'; req[o++] = '\n';
    pc->state = S_HTTP_BUSY;
  }
  memcpy(req + o, body, bl); o += bl;
  if (pc->kind == K_PUBREDIS) { memcpy(req + o, "\r\n", 2); o += 2; }
  conn_send(pc, req, o);
}

static conn_t *pick_pub(void) {
  conn_t *closed = NULL;
  for (int i = 0; i < npubs; i++) {
    conn_t *c = &pubs[i];
    if (c->state == S_READY && (c->wlen - c->woff) < (1u << 20)) return c;
    if (c->state == S_CLOSED && !closed) closed = c;
  }
  if (closed && closed->kind == K_PUBHTTP) conn_start(closed, &cfg.pub); /* lazy reconnect (keep-alive timeouts) */
  return NULL;
}

static __thread int in_publish;
static void dispatch_pub(void) {
  if (!in_publish) return;
  while (pub_head < pub_next) {
    conn_t *c = pick_pub();
    if (!c) break;
    pub_send(c, pub_head++);
  }
}

static void arm_timer_abs(uint64_t t) {
  struct itimerspec its; memset(&its, 0, sizeof its);
  its.it_value.tv_sec = (time_t)(t / 1000000000ull); its.it_value.tv_nsec = (long)(t % 1000000000ull);
  if (!its.it_value.tv_sec && !its.it_value.tv_nsec) its.it_value.tv_nsec = 1;
  timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ------------------------------------------------------------------ publisher thread
 * Publishing runs in its own thread with its own epoll loop so the publish schedule stays
 * open-loop (fixed rate) even when the receiving loop is saturated. */
static volatile int pub_go, pub_stop, pub_done, pub_any_ready, pub_backlog_abort;
static uint64_t pub_t_end;
static double pub_thread_cpu;
static void *pub_thread_main(void *arg) {
  (void)arg;
  rng_s ^= now_ns() * 0x9E3779B97F4A7C15ull;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);
  for (int k = 0; k < npubs; k++) {
    int r = conn_start(&pubs[k], &cfg.pub);
    if (r < 0) { pubs[k].state = S_CLOSED; fprintf(stderr, "wsload: publisher connect failed: %s\n", errname(-r)); }
  }
  struct epoll_event evs[64];
  int started = 0;
  while (!__atomic_load_n(&pub_stop, __ATOMIC_ACQUIRE)) {
    int n = epoll_wait(epfd, evs, 64, 2);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (!c) { uint64_t x; while (read(tfd, &x, sizeof x) > 0) {} continue; }
      if (c->state == S_CLOSED || c->fd < 0) continue;
      uint32_t e = evs[i].events;
      if (c->state == S_CONNECTING) { if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_write(c); continue; }
      if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_read(c);
      if ((e & EPOLLOUT) && c->state != S_CLOSED && c->fd >= 0) on_write(c);
    }
    if (!pub_any_ready) {
      for (int k = 0; k < npubs; k++) if (pubs[k].state == S_READY) __atomic_store_n(&pub_any_ready, 1, __ATOMIC_RELEASE);
    }
    if (!started && __atomic_load_n(&pub_go, __ATOMIC_ACQUIRE)) { started = 1; in_publish = 1; }
    if (!started || pub_done) continue;
    uint64_t t = now_ns();
    while (pub_next < pub_total && pub_t0 + (uint64_t)((double)pub_next * 1e9 / cfg.pub_rate) <= t) pub_next++;
    dispatch_pub();
    if (pub_next < pub_total) arm_timer_abs(pub_t0 + (uint64_t)((double)pub_next * 1e9 / cfg.pub_rate));
    uint64_t sched_end = pub_t0 + (uint64_t)(cfg.pub_duration * 1e9);
    if (pub_head >= pub_total || t > sched_end + (uint64_t)(cfg.pub_grace * 1e9)) {
      if (pub_head < pub_total) pub_backlog_abort = 1;
      in_publish = 0; /* stop dispatching: responses arriving later must not release more queued messages */
      pub_t_end = now_ns();
      __atomic_store_n(&pub_done, 1, __ATOMIC_RELEASE);
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  pub_thread_cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  return NULL;
}

/* ------------------------------------------------------------------ server / self sampling */
typedef struct { double cpu_s, rss_mb; int alive; int npids; } srv_t;
static int collect_pids(int *out, int cap) {
  int n = 0;
  for (int i = 0; i < cfg.nspids && n < cap; i++) {
    out[n++] = cfg.spids[i];
    if (!cfg.server_children) continue;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", cfg.spids[i]);
    DIR *d = opendir(path);
    if (!d) continue;
    struct dirent *de;
    while ((de = readdir(d)) && n < cap) {
      if (de->d_name[0] == '.') continue;
      char cp[320];
      snprintf(cp, sizeof cp, "/proc/%d/task/%s/children", cfg.spids[i], de->d_name);
      FILE *f = fopen(cp, "r");
      if (!f) continue;
      int p;
      while (n < cap && fscanf(f, "%d", &p) == 1) out[n++] = p;
      fclose(f);
    }
    closedir(d);
  }
  return n;
}
static void srv_sample(srv_t *s) {
  memset(s, 0, sizeof *s);
  if (!cfg.nspids) return;
  int pids[256];
  int n = collect_pids(pids, 256);
  long tck = sysconf(_SC_CLK_TCK);
  uint64_t ticks = 0; long rss = 0; int alive = 0;
  for (int i = 0; i < n; i++) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pids[i]);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t r = fread(buf, 1, sizeof buf - 1, f); fclose(f); buf[r] = 0;
    char *p = strrchr(buf, ')');
    if (!p) continue;
    unsigned long ut = 0, st = 0;
    /* after ')' : state(3) ppid(4) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2) { ticks += ut + st; alive++; }
    snprintf(path, sizeof path, "/proc/%d/status", pids[i]);
    f = fopen(path, "r");
    if (!f) continue;
    while (fgets(buf, sizeof buf, f)) if (!strncmp(buf, "VmRSS:", 6)) { rss += strtol(buf + 6, NULL, 10); break; }
    fclose(f);
  }
  s->cpu_s = (double)ticks / (double)tck; s->rss_mb = (double)rss / 1024.0; s->alive = alive; s->npids = n;
}
/* machine-wide busy CPU seconds (all cores) from /proc/stat: lets readers see interference from
 * processes other than the server and this tool */
static double machine_busy_s(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  unsigned long long u = 0, n = 0, sy = 0, id = 0, io = 0, irq = 0, sirq = 0, st = 0;
  int k = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &sy, &id, &io, &irq, &sirq, &st);
  fclose(f);
  if (k < 4) return 0;
  return (double)(u + n + sy + irq + sirq + st) / (double)sysconf(_SC_CLK_TCK);
}
static double self_cpu(void) {
  struct rusage ru; getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}
static long self_rss_kb(void) { struct rusage ru; getrusage(RUSAGE_SELF, &ru); return ru.ru_maxrss; }

/* ------------------------------------------------------------------ main */
static void on_signal(int s) { (void)s; g_stop = 1; }


static void load_lines(const char *path, char ***out, int *count) {
  FILE *f = fopen(path, "r");
  if (!f) die("cannot open %s", path);
  char *line = NULL; size_t cap = 0; ssize_t n; int cap2 = 0;
  while ((n = getline(&line, &cap, f)) >= 0) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
    if (!n) continue;
    if (*count == cap2) { cap2 = cap2 ? cap2 * 2 : 1024; *out = xrealloc(*out, (size_t)cap2 * sizeof(char *)); }
    (*out)[(*count)++] = strdup(line);
  }
  free(line); fclose(f);
  if (!*count) die("%s is empty", path);
}
static void load_tokens(const char *path) { load_lines(path, &cfg.tokens, &cfg.ntokens); }

static void usage(void) {
  fprintf(stderr,
    "wsload " WSLOAD_VERSION " - WebSocket / Socket.IO fan-out load generator (loopback only)\n"
    "usage: wsload --url ws://127.0.0.1:PORT/PATH -c N [options]\n"
    " subscribers:\n"
    "  -u, --url URL            subscriber endpoint ws://127.x.x.x:PORT/PATH[?query]\n"
    "  -c, --conns N            number of subscriber connections (default 1)\n"
    "      --conn-rate R        max new connections per second (0 = unlimited, default 0)\n"
    "      --max-pending N      max handshakes in flight (default 128)\n"
    "      --connect-timeout S  per-connection handshake timeout (default 10)\n"
    "      --connect-phase-max S give up on the connect phase after S seconds (default 60)\n"
    "  -H, --header 'K: V'      extra upgrade header, repeatable; {i},{token} expanded\n"
    "      --tokens FILE        one token per line; connection i uses line i mod lines\n"
    "      --sub-msg TEXT       text frame sent once the connection is ready ({i},{token},{value}); repeatable (8)\n"
    "      --values FILE        one value per line; {value} in templates is line i mod lines (bench extension)\n"
    "      --sio                Socket.IO v4 / Engine.IO v4 websocket-transport mode\n"
    "      --sio-ns NS          namespace (default /)\n"
    "      --sio-auth JSON      auth object for the namespace CONNECT packet, e.g. '{\"token\":\"{token}\"}'\n"
    "      --sio-emit JSON      event array sent after namespace connect, e.g. '[\"subscribe\",{\"room\":\"all\"}]'\n"
    " publisher (choose one):\n"
    "      --pub-http URL       HTTP POST to http://127.0.0.1:PORT/PATH (keep-alive pool)\n"
    "      --pub-redis H:P      Redis PUBLISH to --pub-channel over RESP\n"
    "      --pub-ws URL         text frames on one WebSocket publisher connection\n"
    "      --pub-channel CH     Redis channel\n"
    "      --pub-header 'K: V'  extra header for the HTTP/WS publisher, repeatable\n"
    "      --pub-conns N        HTTP publisher pool size (default 4)\n"
    "      --content-type T     HTTP POST content type (default text/plain)\n"
    "  -r, --rate R             messages per second (default 100)\n"
    "  -d, --duration S         publish duration in seconds (default 10)\n"
    "      --payload TPL        payload template, {seq} -> integer (default 'SEQ{seq} hello')\n"
    "      --marker PFX         marker prefix searched in received frames (default SEQ)\n"
    "      --expect-per-msg N   expected deliveries per message (default: subscribers open)\n"
    " passive measurement (no publisher; bench extension):\n"
    "      --measure S          after --settle, measure S seconds of server-driven traffic\n"
    "      --count-match TEXT   frames containing TEXT are data frames (counted all run, and per connection in the window)\n"
    "      --ts-key KEY         age/lateness from the last \"KEY\":\"YYYY-MM-DDTHH:mm:ss\" of each data frame\n"
    "      --ts-offset-min M    that wall time is UTC+M minutes (default 0; Asia/Shanghai = 480)\n"
    "      --burst-gap-ms G     a data frame after a G ms pause starts a burst; record time since burst start\n"
    "      --item-key TEXT      count items \"TEXT<value>\" per data frame and values repeated within a frame\n"
    "      --end-msg TEXT       text frame sent to every open connection when the window ends (repeatable, 8);\n"
    "                           the run then drains until no data frame came for 1.5 s or --drain elapsed\n"
    "      --end-ack TEXT       a frame containing TEXT answers one end message: drain until every connection\n"
    "                           answered all of them (exact: the server writes its answer after earlier data)\n"
    " phases / measurement:\n"
    "      --settle S           idle time after connecting, before RSS sample + publish (default 2)\n"
    "      --ready-file PATH    when the connect phase ends, write the open connection count to PATH (bench extension)\n"
    "      --go-file PATH       stay in the settle phase until PATH exists, then --settle S more: several runs\n"
    "                           start their windows together (bench extension; --max-runtime still bounds it)\n"
    "      --drain S            max wait for deliveries after the last publish (default 5)\n"
    "      --pub-grace S        stop publishing S s after the schedule ends if the server cannot keep up;\n"
    "                           unsent messages count against delivery_ratio_offered (default 10)\n"
    "      --rx-coalesce-us U   during publishing, poll the receive loop at most every U us so reads\n"
    "                           batch more frames (cuts tool CPU; adds up to U us latency) (default 0)\n"
    "      --max-runtime S      hard cap on the whole run (default 180)\n"
    "      --server-pid P       sample CPU/RSS of P (repeatable or comma list)\n"
    "      --server-children    also sample direct children of each --server-pid\n"
    "      --label TEXT         label copied into the JSON output\n"
    "  -v, --verbose            progress on stderr once per second\n"
    "      --selftest           run internal checks (sha1/base64/histogram) and exit\n");
}

static int selftest(void) {
  char acc[32];
  ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);
  int ok = !strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  uint8_t d[20]; char hex[41];
  const char *m = "The quick brown fox jumps over the lazy dog";
  sha1((const uint8_t *)m, strlen(m), d);
  for (int i = 0; i < 20; i++) sprintf(hex + 2 * i, "%02x", d[i]);
  ok &= !strcmp(hex, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
  char big[200]; memset(big, 'a', sizeof big);
  sha1((const uint8_t *)big, 120, d); /* two-block padding path */
  for (int i = 0; i < 20; i++) sprintf(hex + 2 * i, "%02x", d[i]);
  ok &= !strcmp(hex, "f34c1488385346a55709ba056ddd08280dd4c6d6");
  hist_t h; hist_init(&h);
  for (uint64_t v = 1; v <= 1000000; v++) hist_add(&h, v);
  uint64_t p50 = hist_pct(&h, 0.5), p99 = hist_pct(&h, 0.99);
  ok &= p50 > 499000 && p50 < 501000 && p99 > 988000 && p99 < 992000 && hist_pct(&h, 1.0) == 1000000;
  target_t t;
  parse_target("ws://127.0.0.1:8080/socket.io/?EIO=4&transport=websocket", &t, 80);
  ok &= t.port == 8080 && !strcmp(t.path, "/socket.io/?EIO=4&transport=websocket");
  cfg.pub_rate = 1;
  payload_prepare("a{seq}b{seq}");
  char out[64]; payload_build(42, out, sizeof out);
  ok &= !strcmp(out, "a42b42");
  ok &= parse_wall_ts((const uint8_t *)"2024-02-29T08:00:01", 19, 480) == 1709164801000ll; /* bench extension */
  ok &= parse_wall_ts((const uint8_t *)"1970-01-01T00:00:00", 19, 0) == 0 && parse_wall_ts((const uint8_t *)"2024-13-01T00:00:00", 19, 0) == -1;
  printf("selftest %s: accept=%s p50=%llu p99=%llu\n", ok ? "ok" : "FAILED", acc, (unsigned long long)p50, (unsigned long long)p99);
  return ok ? 0 : 1;
}

static void add_pids(const char *s) {
  char *dup = strdup(s), *save = NULL;
  for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    if (cfg.nspids < 64 && atoi(tok) > 0) cfg.spids[cfg.nspids++] = atoi(tok);
  free(dup);
}

static void json_str(FILE *o, const char *s) {
  fputc('"', o);
  for (; s && *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') { fputc('\\', o); fputc(ch, o); }
    else if (ch < 0x20) fprintf(o, "\\u%04x", ch);
    else fputc(ch, o);
  }
  fputc('"', o);
}
static void json_hist(FILE *o, const char *name, const hist_t *h, int full) {
  fprintf(o, "\"%s\":{\"n\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,", name, (unsigned long long)h->n,
          (unsigned long long)hist_pct(h, 0.50), (unsigned long long)hist_pct(h, 0.90), (unsigned long long)hist_pct(h, 0.99));
  if (full) fprintf(o, "\"p999\":%llu,", (unsigned long long)hist_pct(h, 0.999));
  fprintf(o, "\"max\":%llu}", (unsigned long long)h->max);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

enum { PH_CONNECT, PH_SETTLE, PH_PUBLISH, PH_DRAIN, PH_MEASURE, PH_END_DRAIN, PH_DONE };

int main(int argc, char **argv) {
  cfg.conns = 1; cfg.max_pending = 128; cfg.connect_timeout = 10; cfg.connect_phase_max = 60;
  cfg.pub_rate = 100; cfg.pub_duration = 10; cfg.pub_conns = 4; cfg.settle = 2; cfg.drain = 5; cfg.max_runtime = 180; cfg.pub_grace = 10;
  cfg.content_type = "text/plain"; cfg.payload = "SEQ{seq} hello";
  snprintf(cfg.marker, sizeof cfg.marker, "SEQ");
  const char *url = NULL, *pub_url = NULL;
  enum { O_RATE = 1000, O_MAXP, O_CTO, O_CPM, O_TOK, O_SUBMSG, O_SIO, O_SIONS, O_SIOAUTH, O_SIOEMIT, O_PHTTP, O_PREDIS,
         O_PWS, O_PCH, O_PHDR, O_PCONNS, O_CTYPE, O_PAYLOAD, O_MARKER, O_EXP, O_SETTLE, O_DRAIN, O_MAXRT, O_SPID,
         O_SCHILD, O_LABEL, O_SELFTEST, O_COAL, O_GRACE, O_VALUES, O_MEASURE, O_CMATCH, O_TSKEY, O_TSOFF, O_BURST,
         O_ITEM, O_ENDMSG, O_ENDACK, O_READYF, O_GOF };
  static struct option lo[] = {
    {"url", 1, 0, 'u'}, {"conns", 1, 0, 'c'}, {"conn-rate", 1, 0, O_RATE}, {"max-pending", 1, 0, O_MAXP},
    {"connect-timeout", 1, 0, O_CTO}, {"connect-phase-max", 1, 0, O_CPM}, {"header", 1, 0, 'H'}, {"tokens", 1, 0, O_TOK},
    {"sub-msg", 1, 0, O_SUBMSG}, {"sio", 0, 0, O_SIO}, {"sio-ns", 1, 0, O_SIONS}, {"sio-auth", 1, 0, O_SIOAUTH},
    {"sio-emit", 1, 0, O_SIOEMIT}, {"pub-http", 1, 0, O_PHTTP}, {"pub-redis", 1, 0, O_PREDIS}, {"pub-ws", 1, 0, O_PWS},
    {"pub-channel", 1, 0, O_PCH}, {"pub-header", 1, 0, O_PHDR}, {"pub-conns", 1, 0, O_PCONNS},
    {"content-type", 1, 0, O_CTYPE}, {"rate", 1, 0, 'r'}, {"duration", 1, 0, 'd'}, {"payload", 1, 0, O_PAYLOAD},
    {"marker", 1, 0, O_MARKER}, {"expect-per-msg", 1, 0, O_EXP}, {"settle", 1, 0, O_SETTLE}, {"drain", 1, 0, O_DRAIN},
    {"max-runtime", 1, 0, O_MAXRT}, {"server-pid", 1, 0, O_SPID}, {"server-children", 0, 0, O_SCHILD},
    {"label", 1, 0, O_LABEL}, {"rx-coalesce-us", 1, 0, O_COAL}, {"pub-grace", 1, 0, O_GRACE},
    {"values", 1, 0, O_VALUES}, {"measure", 1, 0, O_MEASURE}, {"count-match", 1, 0, O_CMATCH}, {"ts-key", 1, 0, O_TSKEY},
    {"ts-offset-min", 1, 0, O_TSOFF}, {"burst-gap-ms", 1, 0, O_BURST}, {"item-key", 1, 0, O_ITEM}, {"end-msg", 1, 0, O_ENDMSG}, {"end-ack", 1, 0, O_ENDACK}, {"ready-file", 1, 0, O_READYF}, {"go-file", 1, 0, O_GOF}, {"verbose", 0, 0, 'v'}, {"selftest", 0, 0, O_SELFTEST}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "u:c:H:r:d:vh", lo, NULL)) != -1) {
    switch (ch) {
      case 'u': url = optarg; break;
      case 'c': cfg.conns = atoi(optarg); break;
      case O_RATE: cfg.conn_rate = atof(optarg); break;
      case O_MAXP: cfg.max_pending = atoi(optarg); break;
      case O_CTO: cfg.connect_timeout = atof(optarg); break;
      case O_CPM: cfg.connect_phase_max = atof(optarg); break;
      case 'H': if (cfg.nheaders < MAX_HDRS) cfg.headers[cfg.nheaders++] = optarg; break;
      case O_TOK: load_tokens(optarg); break;
      case O_SUBMSG: if (cfg.nsub_msgs < 8) cfg.sub_msgs[cfg.nsub_msgs++] = optarg; else die("at most 8 --sub-msg"); break;
      case O_VALUES: load_lines(optarg, &cfg.values, &cfg.nvalues); break;
      case O_MEASURE: cfg.measure = atof(optarg); break;
      case O_CMATCH: cfg.count_match = optarg; cfg.count_match_len = strlen(optarg); break;
      case O_TSKEY: snprintf(cfg.ts_key, sizeof cfg.ts_key, "\"%s\":\"", optarg); cfg.ts_key_len = strlen(cfg.ts_key); break;
      case O_TSOFF: cfg.ts_offset_min = atoi(optarg); break;
      case O_BURST: cfg.burst_gap_ms = atof(optarg); break;
      case O_ITEM: snprintf(cfg.item_key, sizeof cfg.item_key, "%s", optarg); cfg.item_key_len = strlen(cfg.item_key); break;
      case O_ENDACK: cfg.end_ack = optarg; cfg.end_ack_len = strlen(optarg); break;
      case O_ENDMSG: if (cfg.nend_msgs < 8) cfg.end_msgs[cfg.nend_msgs++] = optarg; else die("at most 8 --end-msg"); break;
      case O_SIO: cfg.sio = 1; break;
      case O_SIONS: cfg.sio_ns = optarg; break;
      case O_SIOAUTH: cfg.sio_auth = optarg; break;
      case O_SIOEMIT: cfg.sio_emit = optarg; break;
      case O_PHTTP: cfg.pub_kind = PUB_HTTP; pub_url = optarg; break;
      case O_PREDIS: cfg.pub_kind = PUB_REDIS; pub_url = optarg; break;
      case O_PWS: cfg.pub_kind = PUB_WS; pub_url = optarg; break;
      case O_PCH: cfg.pub_channel = optarg; break;
      case O_PHDR: if (cfg.npub_headers < MAX_HDRS) cfg.pub_headers[cfg.npub_headers++] = optarg; break;
      case O_PCONNS: cfg.pub_conns = atoi(optarg); break;
      case O_CTYPE: cfg.content_type = optarg; break;
      case 'r': cfg.pub_rate = atof(optarg); break;
      case 'd': cfg.pub_duration = atof(optarg); break;
      case O_PAYLOAD: cfg.payload = optarg; break;
      case O_MARKER: snprintf(cfg.marker, sizeof cfg.marker, "%s", optarg); break;
      case O_EXP: cfg.expect_per_msg = atol(optarg); break;
      case O_SETTLE: cfg.settle = atof(optarg); break;
      case O_DRAIN: cfg.drain = atof(optarg); break;
      case O_MAXRT: cfg.max_runtime = atof(optarg); break;
      case O_SPID: add_pids(optarg); break;
      case O_SCHILD: cfg.server_children = 1; break;
      case O_LABEL: cfg.label = optarg; break;
      case O_COAL: cfg.rx_coalesce_us = atof(optarg); break;
      case O_GRACE: cfg.pub_grace = atof(optarg); break;
      case O_READYF: cfg.ready_file = optarg; break;
      case O_GOF: cfg.go_file = optarg; break;
      case 'v': cfg.verbose = 1; break;
      case O_SELFTEST: return selftest();
      default: usage(); return ch == 'h' ? 0 : 2;
    }
  }
  if (!url) { usage(); return 2; }
  cfg.mlen = strlen(cfg.marker);
  if (!cfg.mlen) die("empty --marker");
  if (cfg.conns < 0 || cfg.conns > 1000000) die("bad --conns");
  if (cfg.max_pending < 1) cfg.max_pending = 1;
  if (cfg.max_runtime <= 0 || cfg.max_runtime > 3600) die("--max-runtime must be in (0, 3600]");
  parse_target(url, &cfg.sub, 80);
  if (cfg.pub_kind) {
    parse_target(pub_url, &cfg.pub, cfg.pub_kind == PUB_REDIS ? 6379 : 80);
    if (cfg.pub_kind == PUB_REDIS && !cfg.pub_channel) die("--pub-redis needs --pub-channel");
    if (cfg.pub_rate <= 0 || cfg.pub_duration <= 0) die("--rate and --duration must be > 0");
    double tot = cfg.pub_rate * cfg.pub_duration;
    if (tot > 1e8) die("rate*duration too large");
    pub_total = (uint64_t)(tot + 0.5);
    if (!pub_total) pub_total = 1;
    if (cfg.pub_kind != PUB_HTTP) cfg.pub_conns = 1;
    if (cfg.pub_conns < 1) cfg.pub_conns = 1;
    payload_prepare(cfg.payload);
    send_t = xcalloc(pub_total, sizeof(uint64_t));
    uint64_t bits = (uint64_t)cfg.conns * pub_total;
    if (bits <= (8ull << 30)) bitmap = xcalloc((size_t)(bits / 8 + 1), 1); /* <=1 GiB: exact duplicate detection */
  }
  rng_s ^= ((uint64_t)getpid() << 32) ^ now_ns();
  if (cfg.measure > 0) { /* bench extension */
    if (cfg.pub_kind) die("--measure is for server-driven traffic: no publisher with it");
    if (!cfg.count_match || !cfg.count_match_len) die("--measure needs --count-match");
    if (cfg.measure > 3600) die("--measure must be at most 3600");
    passive_on = 1;
    struct timespec rt; clock_gettime(CLOCK_REALTIME, &rt);
    wall_minus_mono_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec - now_ns();
    hist_init(&h_age); hist_init(&h_late); hist_init(&h_burst);
  } else if (cfg.nend_msgs) die("--end-msg needs --measure");

  /* raise RLIMIT_NOFILE */
  struct rlimit rl; getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t want = (rlim_t)cfg.conns + (rlim_t)cfg.pub_conns + 64;
  if (rl.rlim_cur < want) {
    struct rlimit nr = rl;
    nr.rlim_cur = want;
    if (nr.rlim_max < want) nr.rlim_max = want;
    if (setrlimit(RLIMIT_NOFILE, &nr) < 0) { nr.rlim_cur = rl.rlim_max; nr.rlim_max = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &nr); }
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want) fprintf(stderr, "wsload: warning: RLIMIT_NOFILE %llu < %llu needed\n", (unsigned long long)rl.rlim_cur, (unsigned long long)want);
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  hist_init(&h_lat); hist_init(&h_conn); hist_init(&h_lag);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);

  subs = xcalloc((size_t)cfg.conns + 1, sizeof(conn_t));
  for (int i = 0; i < cfg.conns; i++) { subs[i].fd = -1; subs[i].idx = i; subs[i].kind = K_SUB; }
  npubs = cfg.pub_kind ? cfg.pub_conns : 0;
  pubs = xcalloc((size_t)npubs + 1, sizeof(conn_t));
  for (int i = 0; i < npubs; i++) {
    pubs[i].fd = -1; pubs[i].idx = i;
    pubs[i].kind = cfg.pub_kind == PUB_HTTP ? K_PUBHTTP : cfg.pub_kind == PUB_REDIS ? K_PUBREDIS : K_PUBWS;
  }

  srv_t s_before, s_idle, s_pub, s_after, s_mend;
  double tool_c0 = self_cpu(), tool_cpub = 0, tool_cend, tool_cmend = 0;
  double mach0 = machine_busy_s(), mach_pub = 0, mach_end, mach_mend = 0;
  memset(&s_mend, 0, sizeof s_mend);
  srv_sample(&s_before);
  memset(&s_idle, 0, sizeof s_idle); memset(&s_pub, 0, sizeof s_pub);
  uint64_t t_start = now_ns(), t_conn_end = 0, t_settle_end = 0, t_pub_end = 0, t_drain_deadline = 0, t_end;
  uint64_t deadline = t_start + (uint64_t)(cfg.max_runtime * 1e9);
  uint64_t conn_deadline = t_start + (uint64_t)(cfg.connect_phase_max * 1e9);
  uint64_t last_scan = t_start, last_prog = t_start;
  int phase = PH_CONNECT, aborted = 0, pub_not_ready = 0, pub_thread_started = 0;
  int go_seen = cfg.go_file == NULL; uint64_t last_go_check = 0; /* bench extension */
  pthread_t pub_tid;
  const char *abort_reason = "";
  struct epoll_event evs[1024];

  while (phase != PH_DONE) {
    int timeout_ms = 5;
    if (cfg.rx_coalesce_us > 0 && phase >= PH_PUBLISH) {
      /* optional receive coalescing: let frames accumulate so one read() returns more of them */
      static uint64_t last_iter;
      uint64_t t0 = now_ns(), gap = (uint64_t)(cfg.rx_coalesce_us * 1000);
      if (t0 - last_iter < gap) { struct timespec ts = {0, (long)(gap - (t0 - last_iter))}; nanosleep(&ts, NULL); }
      last_iter = now_ns();
    }
    int n = epoll_wait(epfd, evs, 1024, timeout_ms);
    n_waits++;
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (!c) { uint64_t x; while (read(tfd, &x, sizeof x) > 0) {} continue; }
      if (c->state == S_CLOSED || c->fd < 0) continue;
      uint32_t e = evs[i].events;
      if (c->state == S_CONNECTING) { if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_write(c); continue; }
      if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_read(c);
      if ((e & EPOLLOUT) && c->state != S_CLOSED && c->fd >= 0) on_write(c);
    }
    uint64_t t = now_ns();
    if (g_stop) { aborted = 1; abort_reason = "signal"; break; }
    if (t > deadline) { aborted = 1; abort_reason = "max_runtime"; break; }

    if (cfg.verbose && t - last_prog >= 1000000000ull) {
      last_prog = t;
      fprintf(stderr, "wsload: t=%.1fs phase=%d open=%ld pending=%ld failed=%ld sent=%llu recv=%llu\n", (t - t_start) / 1e9,
              phase, n_open, n_pending, n_failed, (unsigned long long)pub_sent, (unsigned long long)received);
    }

    switch (phase) {
      case PH_CONNECT: {
        long allowed = cfg.conns;
        if (cfg.conn_rate > 0) { allowed = (long)((double)(t - t_start) / 1e9 * cfg.conn_rate) + 1; if (allowed > cfg.conns) allowed = cfg.conns; }
        while (n_started < allowed && n_pending < cfg.max_pending) {
          conn_t *c = &subs[n_started++];
          int r = conn_start(c, &cfg.sub);
          if (r < 0) { c->state = S_CLOSED; n_failed++; reason_add(0, errname(-r)); }
          else n_pending++;
        }
        if (cfg.conn_rate > 0 && n_started < cfg.conns) {
          uint64_t nxt = t_start + (uint64_t)((double)n_started / cfg.conn_rate * 1e9);
          arm_timer_abs(nxt);
        }
        if (t - last_scan > 100000000ull) {
          last_scan = t;
          uint64_t lim = (uint64_t)(cfg.connect_timeout * 1e9);
          for (long k = 0; k < n_started; k++) {
            conn_t *c = &subs[k];
            if (c->state != S_READY && c->state != S_CLOSED && c->state != S_FREE && t > c->t0 && t - c->t0 > lim)
              conn_close(c, "timeout");
          }
        }
        if ((n_started == cfg.conns && n_pending == 0) || t > conn_deadline) {
          if (n_pending) for (long k = 0; k < n_started; k++) {
            conn_t *c = &subs[k];
            if (c->state != S_READY && c->state != S_CLOSED && c->state != S_FREE) conn_close(c, "connect_phase_timeout");
          }
          if (n_started < cfg.conns) { n_failed += cfg.conns - n_started; reason_add(0, "not_started"); n_started = cfg.conns; }
          t_conn_end = t;
          phase = PH_SETTLE;
          if (npubs && pthread_create(&pub_tid, NULL, pub_thread_main, NULL) == 0) pub_thread_started = 1;
          t_settle_end = t + (uint64_t)(cfg.settle * 1e9);
          if (cfg.ready_file) { /* bench extension: written whole (rename), so a reader never sees half of it */
            char tmp[4200]; snprintf(tmp, sizeof tmp, "%s.tmp", cfg.ready_file);
            FILE *rf = fopen(tmp, "w");
            if (rf) { fprintf(rf, "%ld\n", n_open); fclose(rf); rename(tmp, cfg.ready_file); }
            else fprintf(stderr, "wsload: cannot write --ready-file %s\n", cfg.ready_file);
          }
        }
        break;
      }
      case PH_SETTLE: {
        /* keep idle; connections closed by the server after open are tracked */
        if (!go_seen) { /* bench extension: wait for --go-file (checked every 20 ms), then settle */
          if (t - last_go_check < 20000000ull) break;
          last_go_check = t;
          if (access(cfg.go_file, F_OK) != 0) break;
          go_seen = 1;
          t_settle_end = t + (uint64_t)(cfg.settle * 1e9);
          break;
        }
        if (t < t_settle_end) break;
        if (npubs && !__atomic_load_n(&pub_any_ready, __ATOMIC_ACQUIRE)) {
          if (t < t_settle_end + 5000000000ull) break;
          pub_not_ready = 1;
        }
        srv_sample(&s_idle);
        if (passive_on) { /* bench extension: measure server-driven traffic */
          srv_sample(&s_pub);
          tool_cpub = self_cpu();
          mach_pub = machine_busy_s();
          n_open_at_pub = n_open;
          pub_t0 = now_ns();
          in_window = 1;
          phase = PH_MEASURE;
          break;
        }
        if (!cfg.pub_kind || pub_not_ready) { phase = PH_DONE; break; }
        srv_sample(&s_pub);
        tool_cpub = self_cpu();
        mach_pub = machine_busy_s();
        n_open_at_pub = n_open;
        pub_t0 = now_ns();
        __atomic_store_n(&pub_go, 1, __ATOMIC_RELEASE);
        phase = PH_PUBLISH;
        break;
      }
      case PH_PUBLISH: {
        if (__atomic_load_n(&pub_done, __ATOMIC_ACQUIRE)) {
          t_pub_end = pub_t_end;
          t_drain_deadline = t + (uint64_t)(cfg.drain * 1e9);
          phase = PH_DRAIN;
        }
        break;
      }
      case PH_MEASURE: {
        if (t < pub_t0 + (uint64_t)(cfg.measure * 1e9)) break;
        in_window = 0;
        t_pub_end = t;
        srv_sample(&s_mend);
        tool_cmend = self_cpu();
        mach_mend = machine_busy_s();
        for (long k = 0; k < cfg.conns; k++) {
          conn_t *c = &subs[k];
          if (c->state != S_READY) continue;
          end_targets++;
          for (int m = 0; m < cfg.nend_msgs; m++) { char buf[4096]; size_t l = expand_conn(cfg.end_msgs[m], c->idx, buf, sizeof buf); ws_send(c, 1, buf, l); }
        }
        t_drain_deadline = t + (uint64_t)(cfg.drain * 1e9);
        in_end_drain = cfg.nend_msgs > 0;
        phase = cfg.nend_msgs ? PH_END_DRAIN : PH_DONE;
        break;
      }
      case PH_END_DRAIN: {
        /* with --end-ack: until every connection answered (the server sends each answer after what it wrote
         * before it, so nothing is in flight then); otherwise until data stopped for 1.5 s */
        uint64_t quiet = last_data_rx > t_pub_end ? last_data_rx : t_pub_end;
        if (t >= t_drain_deadline) phase = PH_DONE;
        else if (cfg.end_ack_len ? end_acked + end_lost >= end_targets : t - quiet > 1500000000ull) phase = PH_DONE;
        break;
      }
      case PH_DRAIN: {
        uint64_t exp = __atomic_load_n(&pub_sent, __ATOMIC_ACQUIRE) * (uint64_t)(cfg.expect_per_msg > 0 ? cfg.expect_per_msg : n_open_at_pub);
        if (received >= exp || t >= t_drain_deadline) phase = PH_DONE;
        break;
      }
    }
  }
  t_end = now_ns();
  if (pub_thread_started) { __atomic_store_n(&pub_stop, 1, __ATOMIC_RELEASE); pthread_join(pub_tid, NULL); }
  if (pub_backlog_abort) { aborted = 1; abort_reason = "publisher_backlog"; }
  if (!t_conn_end) t_conn_end = t_end;
  srv_sample(&s_after);
  if (!s_idle.npids && s_after.npids) s_idle = s_after;
  tool_cend = self_cpu();
  mach_end = machine_busy_s();
  if (passive_on && s_mend.npids) {
    /* bench extension: every per-window figure covers the --measure window only, not the end drain */
    s_after = s_mend; tool_cend = tool_cmend; mach_end = mach_mend; t_end = t_pub_end; received = data_frames_window;
    first_send = pub_t0;
  } else if (passive_on && tool_cmend > 0) {
    tool_cend = tool_cmend; mach_end = mach_mend; t_end = t_pub_end; received = data_frames_window; first_send = pub_t0;
  }

  uint64_t per = (uint64_t)(cfg.expect_per_msg > 0 ? cfg.expect_per_msg : n_open_at_pub);
  uint64_t expected = pub_sent * per;
  double ratio = expected ? (double)received / (double)expected : 0;
  double dspan = (last_rx > first_send) ? (double)(last_rx - first_send) / 1e9 : 0;
  double pubspan = (t_pub_end > pub_t0 && pub_t0) ? (double)(t_pub_end - pub_t0) / 1e9 : 0;
  double srv_cpu_pub = (s_pub.npids && s_after.npids) ? s_after.cpu_s - s_pub.cpu_s : 0;
  double srv_cpu_conn = (s_before.npids && s_idle.npids) ? s_idle.cpu_s - s_before.cpu_s : 0;
  long open_conns = cfg.pub_kind ? n_open_at_pub : n_open;
  double pub_wall = (pub_t0 ? (double)(t_end - pub_t0) / 1e9 : 0);

  FILE *o = stdout;
  fprintf(o, "{\"tool\":\"wsload\",\"version\":\"" WSLOAD_VERSION "\",\"label\":");
  json_str(o, cfg.label ? cfg.label : "");
  fprintf(o, ",\"mode\":\"%s\",\"url\":", cfg.sio ? "socketio" : "ws");
  json_str(o, url);
  fprintf(o, ",\"conns_requested\":%d,\"conns_open\":%ld,\"conns_failed\":%ld,\"conns_closed_after_open\":%ld,\"fail_reasons\":{",
          cfg.conns, open_conns, n_failed, n_closed_after_open);
  for (int i = 0; i < nfreason; i++) fprintf(o, "%s\"%s\":%llu", i ? "," : "", freason[i].name, (unsigned long long)freason[i].n);
  fprintf(o, "},\"close_reasons\":{");
  for (int i = 0; i < ncreason; i++) fprintf(o, "%s\"%s\":%llu", i ? "," : "", creason[i].name, (unsigned long long)creason[i].n);
  fprintf(o, "},\"connect_phase_s\":%.3f,", (double)(t_conn_end - t_start) / 1e9);
  json_hist(o, "connect_us", &h_conn, 0);
  fprintf(o, ",\"pub_via\":\"%s\",\"pub_rate\":%.3f,\"pub_duration_s\":%.3f,\"publish_count\":%llu,\"pub_acked\":%llu,"
             "\"pub_errors\":%llu,\"pub_conn_resets\":%llu,\"pub_not_ready\":%s,",
          cfg.pub_kind == PUB_HTTP ? "http" : cfg.pub_kind == PUB_REDIS ? "redis" : cfg.pub_kind == PUB_WS ? "ws" : "none",
          cfg.pub_kind ? cfg.pub_rate : 0, cfg.pub_kind ? cfg.pub_duration : 0, (unsigned long long)pub_sent,
          (unsigned long long)pub_acked, (unsigned long long)pub_errors, (unsigned long long)pub_conn_resets,
          pub_not_ready ? "true" : "false");
  if (cfg.pub_kind == PUB_REDIS) fprintf(o, "\"redis_receivers\":%llu,", (unsigned long long)redis_receivers);
  json_hist(o, "pub_lag_us", &h_lag, 0);
  fprintf(o, ",\"pub_actual_span_s\":%.3f,\"pub_achieved_rate\":%.1f,\"scheduled_count\":%llu,\"delivery_ratio_offered\":%.6f,\"subscribers\":%ld,\"expected_deliveries\":%llu,\"received_deliveries\":%llu,"
             "\"delivery_ratio\":%.6f,\"duplicates\":%llu,\"unknown_seq\":%llu,\"out_of_order\":%llu,\"dedupe\":%s,"
             "\"reads\":%llu,\"epoll_waits\":%llu,\"frames_rx\":%llu,\"frames_no_marker\":%llu,\"fragmented_frames\":%llu,\"pings_answered\":%llu,\"rx_bytes\":%llu,",
          pubspan, (pubspan > 0 && pub_sent > 1) ? (double)(pub_sent - 1) / pubspan : 0, (unsigned long long)(cfg.pub_kind ? pub_total : 0),
          (cfg.pub_kind && per) ? (double)received / ((double)pub_total * (double)per) : 0, (long)per, (unsigned long long)expected, (unsigned long long)received, ratio, (unsigned long long)dups,
          (unsigned long long)unknown_seq, (unsigned long long)ooo, bitmap ? "true" : "false", (unsigned long long)n_reads, (unsigned long long)n_waits, (unsigned long long)frames_rx,
          (unsigned long long)frames_nomarker, (unsigned long long)frag_frames, (unsigned long long)pongs_tx,
          (unsigned long long)rx_bytes);
  fprintf(o, "\"deliveries_per_s\":%.1f,\"offered_deliveries_per_s\":%.1f,", dspan > 0 ? (double)received / dspan : 0,
          cfg.pub_kind ? cfg.pub_rate * (double)per : 0);
  json_hist(o, "latency_us", &h_lat, 1);
  fprintf(o, ",\"server_pids\":[");
  { int pids[256]; int np = cfg.nspids ? collect_pids(pids, 256) : 0; for (int i = 0; i < np; i++) fprintf(o, "%s%d", i ? "," : "", pids[i]); }
  fprintf(o, "],\"server_alive\":%s,\"server_cpu_seconds\":%.3f,\"server_cpu_seconds_connect\":%.3f,\"server_cpu_s_per_million\":%.3f,"
             "\"server_rss_mb\":%.2f,\"server_rss_mb_before\":%.2f,\"server_rss_mb_idle\":%.2f,\"rss_per_conn_kb\":%.2f,",
          (!cfg.nspids || s_after.alive) ? "true" : "false", srv_cpu_pub, srv_cpu_conn,
          received ? srv_cpu_pub / ((double)received / 1e6) : 0, s_after.rss_mb, s_before.rss_mb, s_idle.rss_mb,
          (open_conns > 0 && s_idle.npids) ? (s_idle.rss_mb - s_before.rss_mb) * 1024.0 / (double)open_conns : 0);
  fprintf(o, "\"window_s\":%.3f,", pub_wall); /* bench extension: the publish (or --measure) window, drain included */
  fprintf(o, "\"tool_pub_thread_cpu_seconds\":%.3f,\"tool_saturated\":%s,", pub_thread_cpu,
          (tool_cpub && pub_wall > 0 && (tool_cend - tool_cpub - pub_thread_cpu) / pub_wall > 0.85) ? "true" : "false");
  fprintf(o, "\"tool_cpu_seconds\":%.3f,\"tool_cpu_seconds_publish\":%.3f,\"tool_cpu_util_publish\":%.3f,\"tool_maxrss_mb\":%.1f,",
          tool_cend - tool_c0, tool_cpub ? tool_cend - tool_cpub : 0,
          (tool_cpub && pub_wall > 0) ? (tool_cend - tool_cpub) / pub_wall : 0, self_rss_kb() / 1024.0);
  {
    /* window: publish+drain when publishing, else the whole run */
    int pw = tool_cpub > 0;
    double mb = mach_end - (pw ? mach_pub : mach0);
    double sv = pw ? srv_cpu_pub : ((s_before.npids && s_after.npids) ? s_after.cpu_s - s_before.cpu_s : 0);
    double tl = pw ? tool_cend - tool_cpub : tool_cend - tool_c0;
    double win = (double)(t_end - (pw ? pub_t0 : t_start)) / 1e9;
    fprintf(o, "\"machine_cpu_busy_s\":%.3f,\"other_cpu_seconds\":%.3f,\"other_cpu_cores\":%.3f,", mb, mb - sv - tl,
            win > 0 ? (mb - sv - tl) / win : 0);
  }
  if (passive_on) { /* bench extension */
    uint32_t mn = UINT32_MAX, mx = 0; uint64_t sum = 0; long nready = 0, zero = 0;
    for (long k = 0; k < cfg.conns; k++) {
      const conn_t *c = &subs[k];
      if (c->state != S_READY) continue;
      nready++; sum += c->win_frames;
      if (c->win_frames < mn) mn = c->win_frames;
      if (c->win_frames > mx) mx = c->win_frames;
      if (!c->win_frames) zero++;
    }
    if (!nready) mn = 0;
    /* bench extension: the median connection's count in the window */
    uint32_t *wf = xcalloc((size_t)nready + 1, sizeof(uint32_t)); long nw = 0;
    for (long k = 0; k < cfg.conns; k++) if (subs[k].state == S_READY) wf[nw++] = subs[k].win_frames;
    qsort(wf, (size_t)nw, sizeof(uint32_t), cmp_u32);
    uint32_t med = nw ? wf[nw / 2] : 0;
    free(wf);
    fprintf(o, "\"passive\":{\"measure_s\":%.3f,\"data_frames_total\":%llu,\"data_frames_window\":%llu,\"window_deliveries_per_s\":%.1f,"
               "\"conns_measured\":%ld,\"per_conn_min\":%u,\"per_conn_p50\":%u,\"per_conn_max\":%u,\"per_conn_mean\":%.3f,\"conns_without_data\":%ld,"
               "\"items_total\":%llu,\"dup_items\":%llu,\"end_sent\":%ld,\"end_acked\":%ld,\"end_lost\":%ld,",
            cfg.measure, (unsigned long long)data_frames_total, (unsigned long long)data_frames_window,
            cfg.measure > 0 ? (double)data_frames_window / cfg.measure : 0, nready, mn, med, mx, nready ? (double)sum / (double)nready : 0,
            zero, (unsigned long long)items_total, (unsigned long long)dup_items, end_targets, end_acked, end_lost);
    json_hist(o, "age_us", &h_age, 1); fputc(',', o);
    json_hist(o, "lateness_us", &h_late, 1); fputc(',', o);
    json_hist(o, "burst_us", &h_burst, 1);
    fprintf(o, "},");
  }
  fprintf(o, "\"duration_s\":%.3f,\"aborted\":%s,\"abort_reason\":\"%s\"}\n", (double)(t_end - t_start) / 1e9,
          aborted ? "true" : "false", abort_reason);
  fflush(o);
  return aborted ? 3 : 0;
}
