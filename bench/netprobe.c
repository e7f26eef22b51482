/* Request/response probes through the lab's firewall, in C so that the probe is not what
 * is measured. Built and run by bench/datapath-throughput.ts. Every mode stops by itself
 * after MAX_SECONDS (bounded, DESIGN §6).
 *
 *   netprobe udp-echo PORT MAX_SECONDS
 *       answers every UDP datagram with itself
 *   netprobe rtt HOST PORT COUNT MAX_SECONDS
 *       COUNT ping-pongs of a 32-byte datagram, one at a time (low load); prints
 *       "p50_us p99_us lost"
 *   netprobe tcp-serve PORT NPORTS MAX_SECONDS
 *       listens on PORT..PORT+NPORTS-1; reads a request, writes one byte back, closes
 *   netprobe udp-sink PORT MAX_SECONDS
 *       counts the UDP datagrams it receives (recvmmsg); stops 500 ms after the last one
 *       and prints "packets"
 *   netprobe udp-flood HOST PORT SECONDS
 *       sends 36-byte UDP payloads (64-byte IPv4 packets) as fast as sendmmsg can, for
 *       SECONDS; prints "sent seconds"
 *   netprobe cps HOST PORT NPORTS PARALLEL SECONDS
 *       keeps PARALLEL connections in flight for SECONDS: connect, send one byte, read
 *       the answer and the server's close, close, start the next (destination ports in
 *       turn, so the client's ports are not the limit); prints "conns_per_s errors"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static struct sockaddr_in addr_of(const char *host, int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", host); exit(2); }
  return a;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int udp_echo(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = addr_of("0.0.0.0", port);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
  printf("ready\n");
  fflush(stdout);
  char buf[2048];
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n > 0) sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
  }
}

static int rtt(const char *host, int port, int count) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = addr_of(host, port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
  struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  double *t = calloc((size_t)count, sizeof *t);
  char buf[32] = { 0 }, in[64];
  int got = 0, lost = 0;
  /* A few round trips first: the flow's first packet creates the connection entry. */
  for (int i = 0; i < 20; i++) { send(fd, buf, sizeof buf, 0); recv(fd, in, sizeof in, 0); }
  for (int i = 0; i < count; i++) {
    memcpy(buf, &i, sizeof i);
    double t0 = now_us();
    if (send(fd, buf, sizeof buf, 0) < 0) { lost++; continue; }
    for (;;) {
      ssize_t n = recv(fd, in, sizeof in, 0);
      if (n < 0) { lost++; break; }
      int seq;
      memcpy(&seq, in, sizeof seq);
      if (n == sizeof buf && seq == i) { t[got++] = now_us() - t0; break; }
    }
  }
  if (got == 0) { printf("0 0 %d\n", lost); return 1; }
  qsort(t, (size_t)got, sizeof *t, cmp_double);
  printf("%.1f %.1f %d\n", t[got / 2], t[(int)(got * 0.99)], lost);
  return 0;
}

#define BATCH 64

static int udp_sink(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int size = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  struct sockaddr_in a = addr_of("0.0.0.0", port);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
  struct timeval tv = { .tv_sec = 0, .tv_usec = 500000 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  static char bufs[BATCH][64];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  long got = 0;
  for (;;) {
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) { iov[i].iov_base = bufs[i]; iov[i].iov_len = sizeof bufs[i]; msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1; }
    int n = recvmmsg(fd, msgs, BATCH, 0, NULL);
    if (n > 0) got += n;
    else if (got > 0) break; /* 500 ms without a packet after the flood: done */
  }
  printf("%ld\n", got);
  return 0;
}

static int udp_flood(const char *host, int port, double seconds) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = addr_of(host, port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
  static char payload[36];
  struct mmsghdr msgs[BATCH];
  struct iovec iov = { .iov_base = payload, .iov_len = sizeof payload };
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) { msgs[i].msg_hdr.msg_iov = &iov; msgs[i].msg_hdr.msg_iovlen = 1; }
  long sent = 0;
  double t0 = now_us(), end = t0 + seconds * 1e6, now = t0;
  while ((now = now_us()) < end) {
    int n = sendmmsg(fd, msgs, BATCH, 0);
    if (n > 0) sent += n;
  }
  printf("%ld %.3f\n", sent, (now - t0) / 1e6);
  return 0;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* epoll data: listeners are tagged with the high bit so they are told apart from clients. */
#define LISTENER (1ULL << 63)

static int tcp_serve(int port, int nports) {
  int ep = epoll_create1(0);
  for (int p = 0; p < nports; p++) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = addr_of("0.0.0.0", port + p);
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4096) < 0) { perror("bind/listen"); return 1; }
    set_nonblock(l);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTENER | (unsigned)l };
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  }
  printf("ready\n");
  fflush(stdout);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = (int)(evs[i].data.u64 & 0xffffffff);
      if (evs[i].data.u64 & LISTENER) {
        int c;
        while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (unsigned)c };
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      char buf[256];
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0 && errno == EAGAIN) continue;
      if (r > 0) {
        char answer = 'a';
        if (write(fd, &answer, 1) < 0) { /* the client is gone: close */ }
      }
      close(fd);
    }
  }
}

struct conn { int fd; int stage; /* 0 connecting, 1 waiting for answer and close */ };

static int cps(const char *host, int port, int nports, int parallel, double seconds) {
  int ep = epoll_create1(0);
  struct conn *cs = calloc((size_t)parallel, sizeof *cs);
  long done = 0, errors = 0, next_port = 0;
  double end = now_us() + seconds * 1e6;
  for (int i = 0; i < parallel; i++) cs[i].fd = -1;
  for (;;) {
    double now = now_us();
    if (now >= end) break;
    for (int i = 0; i < parallel; i++) {
      if (cs[i].fd >= 0) continue;
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      struct sockaddr_in a = addr_of(host, port + (int)(next_port++ % nports));
      if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) { errors++; close(fd); continue; }
      cs[i].fd = fd;
      cs[i].stage = 0;
      struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (unsigned)i };
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, 10);
    for (int k = 0; k < n; k++) {
      struct conn *c = &cs[evs[k].data.u32];
      if (c->fd < 0) continue;
      int failed = 0;
      if (c->stage == 0) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        char req = 'q';
        if (err != 0 || write(c->fd, &req, 1) != 1) failed = 1;
        else {
          c->stage = 1;
          struct epoll_event ev = { .events = EPOLLIN, .data.u32 = evs[k].data.u32 };
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
          continue;
        }
      } else {
        char buf[64];
        ssize_t r;
        int eof = 0;
        while ((r = read(c->fd, buf, sizeof buf)) > 0) { }
        if (r == 0) eof = 1;
        else if (errno != EAGAIN) failed = 1;
        if (!eof && !failed) continue;
        if (eof) done++;
      }
      if (failed) errors++;
      close(c->fd); /* closing the fd removes it from the epoll set */
      c->fd = -1;
    }
  }
  printf("%.0f %ld\n", done / seconds, errors);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) goto usage;
  if (!strcmp(argv[1], "udp-echo") && argc == 4) { alarm((unsigned)atoi(argv[3])); return udp_echo(atoi(argv[2])); }
  if (!strcmp(argv[1], "rtt") && argc == 6) { alarm((unsigned)atoi(argv[5])); return rtt(argv[2], atoi(argv[3]), atoi(argv[4])); }
  if (!strcmp(argv[1], "tcp-serve") && argc == 5) { alarm((unsigned)atoi(argv[4])); return tcp_serve(atoi(argv[2]), atoi(argv[3])); }
  if (!strcmp(argv[1], "udp-sink") && argc == 4) { alarm((unsigned)atoi(argv[3])); return udp_sink(atoi(argv[2])); }
  if (!strcmp(argv[1], "udp-flood") && argc == 5) { alarm((unsigned)atoi(argv[4]) + 5); return udp_flood(argv[2], atoi(argv[3]), atof(argv[4])); }
  if (!strcmp(argv[1], "cps") && argc == 7) { alarm((unsigned)atoi(argv[6]) + 5); return cps(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atof(argv[6])); }
usage:
  fprintf(stderr, "usage: netprobe udp-echo PORT MAX_SECONDS | rtt HOST PORT COUNT MAX_SECONDS | udp-sink PORT MAX_SECONDS | udp-flood HOST PORT SECONDS | tcp-serve PORT NPORTS MAX_SECONDS | cps HOST PORT NPORTS PARALLEL SECONDS\n");
  return 2;
}
