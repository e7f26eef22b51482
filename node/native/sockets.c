/* Raw IP sockets (VRRP, IP protocol 112), AF_PACKET sockets (gratuitous ARP, unsolicited
 * neighbour advertisements, sniffing) and a generic readable-fd watcher. Node's own
 * sockets cannot do any of these. Control-plane rates only: plain calls, small copies. */
#define _GNU_SOURCE /* struct in6_pktinfo */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "common.h"

static int get_string(napi_env env, napi_value v, char *out, size_t cap, const char *name) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok || len == 0 || len >= cap - 1) {
    char msg[96];
    snprintf(msg, sizeof msg, "argument %s must be a non-empty string", name);
    napi_throw_type_error(env, NULL, msg);
    return -1;
  }
  return 0;
}

static napi_value int_value(napi_env env, int v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

/* packetOpen(ifname, promisc) -> fd: AF_PACKET/SOCK_RAW bound to one interface, all
 * protocols; with promisc the interface also delivers frames not addressed to it (sniff
 * mode on a hub or mirror port). */
napi_value hafw_packet_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char ifname[IFNAMSIZ + 1];
  if (argc < 2 || get_string(env, argv[0], ifname, sizeof ifname, "ifname")) return NULL;
  bool promisc = false;
  napi_get_value_bool(env, argv[1], &promisc);
  unsigned idx = if_nametoindex(ifname);
  if (idx == 0) { hafw_throw_errno(env, "if_nametoindex", errno); return NULL; }
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (fd < 0) { hafw_throw_errno(env, "socket(AF_PACKET)", errno); return NULL; }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)idx;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int e = errno; close(fd); hafw_throw_errno(env, "bind(AF_PACKET)", e); return NULL;
  }
  if (promisc) {
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = (int)idx;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
      int e = errno; close(fd); hafw_throw_errno(env, "PACKET_ADD_MEMBERSHIP promisc", e); return NULL;
    }
    /* A sniffer wants what others sent, not its own frames (Linux >= 4.20). */
    int one = 1;
    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  }
  return int_value(env, fd);
}

/* rawIpOpen(family 4|6, protocol, ifname, group|null) -> fd: a raw IP socket for one
 * protocol bound to one interface, multicast sent out of that interface with TTL/hop
 * limit 255 (RFC 5798 §5.1.1.3 / §5.1.2.3), our own multicast not looped back, and the
 * group joined when given. IPv6 asks for the received hop limit (the receiver must check
 * it is 255) and lets the kernel fill the VRRP checksum (offset 6, pseudo-header). */
napi_value hafw_raw_ip_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int family, proto;
  char ifname[IFNAMSIZ + 1];
  if (argc < 4 || hafw_get_int(env, argv[0], "family", &family) || hafw_get_int(env, argv[1], "protocol", &proto) ||
      get_string(env, argv[2], ifname, sizeof ifname, "ifname"))
    return NULL;
  char group[INET6_ADDRSTRLEN + 1] = "";
  napi_valuetype t;
  napi_typeof(env, argv[3], &t);
  if (t == napi_string && get_string(env, argv[3], group, sizeof group, "group")) return NULL;
  unsigned idx = if_nametoindex(ifname);
  if (idx == 0) { hafw_throw_errno(env, "if_nametoindex", errno); return NULL; }
  int af = family == 6 ? AF_INET6 : AF_INET;
  int fd = socket(af, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
  if (fd < 0) { hafw_throw_errno(env, "socket(SOCK_RAW)", errno); return NULL; }
  int one = 1, zero = 0, ttl = 255;
  int rc = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname));
  if (rc == 0 && af == AF_INET) {
    struct ip_mreqn mreq;
    memset(&mreq, 0, sizeof mreq);
    mreq.imr_ifindex = (int)idx;
    rc = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof zero);
    if (rc == 0 && group[0]) {
      if (inet_pton(AF_INET, group, &mreq.imr_multiaddr) != 1) { close(fd); hafw_throw(env, "rawIpOpen: bad IPv4 group"); return NULL; }
      rc = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq);
    }
  } else if (rc == 0) {
    int offset = 6;
    rc = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    if (rc == 0 && proto == 112) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof offset);
    if (rc == 0 && group[0]) {
      struct ipv6_mreq m6;
      memset(&m6, 0, sizeof m6);
      m6.ipv6mr_interface = idx;
      if (inet_pton(AF_INET6, group, &m6.ipv6mr_multiaddr) != 1) { close(fd); hafw_throw(env, "rawIpOpen: bad IPv6 group"); return NULL; }
      rc = setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m6, sizeof m6);
    }
  }
  if (rc < 0) { int e = errno; close(fd); hafw_throw_errno(env, "rawIpOpen setsockopt", e); return NULL; }
  return int_value(env, fd);
}

/* sendTo(fd, family, bytes, offset, length, address) -> bytes sent. */
napi_value hafw_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd, family, offset, length;
  void *data;
  size_t len;
  char addr[INET6_ADDRSTRLEN + 1];
  if (argc < 6 || hafw_get_int(env, argv[0], "fd", &fd) || hafw_get_int(env, argv[1], "family", &family) ||
      hafw_get_bytes(env, argv[2], "bytes", &data, &len) || hafw_get_int(env, argv[3], "offset", &offset) ||
      hafw_get_int(env, argv[4], "length", &length) || get_string(env, argv[5], addr, sizeof addr, "address"))
    return NULL;
  if (offset < 0 || length < 0 || (size_t)offset + (size_t)length > len) {
    napi_throw_range_error(env, NULL, "sendTo: offset/length outside the buffer");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  if (family == 6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1) { hafw_throw(env, "sendTo: bad IPv6 address"); return NULL; }
    sl = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1) { hafw_throw(env, "sendTo: bad IPv4 address"); return NULL; }
    sl = sizeof *s4;
  }
  ssize_t n = sendto(fd, (uint8_t *)data + offset, (size_t)length, 0, (struct sockaddr *)&ss, sl);
  if (n < 0) { hafw_throw_errno(env, "sendto", errno); return NULL; }
  return int_value(env, (int)n);
}

/* recvFrom(fd, bytes) -> null when nothing is waiting, else {length, from, to, hopLimit}.
 * IPv4 raw sockets deliver the IP header too (TTL and source are read from it in JS);
 * IPv6 ones do not, so the source and hop limit come from the address and ancillary data. */
napi_value hafw_recv_from(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  void *data;
  size_t len;
  if (argc < 2 || hafw_get_int(env, argv[0], "fd", &fd) || hafw_get_bytes(env, argv[1], "bytes", &data, &len)) return NULL;
  struct sockaddr_storage ss;
  char cbuf[CMSG_SPACE(sizeof(int)) * 2 + CMSG_SPACE(sizeof(struct in6_pktinfo)) * 2];
  struct iovec iov = {data, len};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = &ss;
  mh.msg_namelen = sizeof ss;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  ssize_t n;
  do { n = recvmsg(fd, &mh, MSG_DONTWAIT); } while (n < 0 && errno == EINTR);
  napi_value out;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) { napi_get_null(env, &out); return out; }
    hafw_throw_errno(env, "recvmsg", errno);
    return NULL;
  }
  int hop = -1;
  char to[INET6_ADDRSTRLEN] = "";
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) memcpy(&hop, CMSG_DATA(c), sizeof hop);
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      inet_ntop(AF_INET6, &pi.ipi6_addr, to, sizeof to);
    }
  }
  char addr[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
  else if (ss.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "length", int_value(env, (int)n));
  napi_set_named_property(env, out, "hopLimit", int_value(env, hop));
  napi_value from;
  napi_create_string_utf8(env, addr, NAPI_AUTO_LENGTH, &from);
  napi_set_named_property(env, out, "from", from);
  napi_value tov;
  napi_create_string_utf8(env, to, NAPI_AUTO_LENGTH, &tov);
  napi_set_named_property(env, out, "to", tov);
  return out;
}

/* ---- generic readable-fd watcher: calls JS (no arguments) whenever fd is readable ---- */
typedef struct {
  napi_env env;
  uv_poll_t poll;
  napi_ref cb;
  napi_async_context actx;
  int closed;
} watcher_t;

static void watcher_closed(uv_handle_t *h) { free(h->data); }

static void watcher_close(watcher_t *w) {
  if (w->closed) return;
  w->closed = 1;
  uv_poll_stop(&w->poll);
  napi_delete_reference(w->env, w->cb);
  napi_async_destroy(w->env, w->actx);
  uv_close((uv_handle_t *)&w->poll, watcher_closed);
}

static void watcher_cleanup(void *arg) { watcher_close(arg); }

static void watcher_on_poll(uv_poll_t *h, int status, int events) {
  watcher_t *w = h->data;
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  napi_value cb, global, result;
  napi_get_reference_value(w->env, w->cb, &cb);
  napi_get_global(w->env, &global);
  napi_make_callback(w->env, w->actx, global, cb, 0, NULL, &result);
  napi_close_handle_scope(w->env, scope);
}

static napi_value watcher_close_js(napi_env env, napi_callback_info info) {
  void *data;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  watcher_t *w = data;
  if (!w->closed) {
    napi_remove_env_cleanup_hook(env, watcher_cleanup, w);
    watcher_close(w);
  }
  return NULL;
}

/* watchReadable(fd, onReadable) -> {close}. The callback must drain the fd (level-triggered). */
napi_value hafw_watch_readable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 2 || hafw_get_int(env, argv[0], "fd", &fd)) return NULL;
  watcher_t *w = calloc(1, sizeof *w);
  if (!w) { hafw_throw_errno(env, "calloc", ENOMEM); return NULL; }
  w->env = env;
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) { free(w); hafw_throw_errno(env, "uv_poll_init", -rc); return NULL; }
  w->poll.data = w;
  napi_create_reference(env, argv[1], 1, &w->cb);
  napi_value name;
  napi_create_string_utf8(env, "hafw.fdWatcher", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->actx);
  uv_poll_start(&w->poll, UV_READABLE, watcher_on_poll);
  napi_add_env_cleanup_hook(env, watcher_cleanup, w);
  napi_value obj, fn;
  napi_create_object(env, &obj);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, watcher_close_js, w, &fn);
  napi_set_named_property(env, obj, "close", fn);
  return obj;
}

/* interfaceInfo(ifname) -> {index, mac: Uint8Array(6)} for building frames. */
napi_value hafw_interface_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char ifname[IFNAMSIZ + 1];
  if (argc < 1 || get_string(env, argv[0], ifname, sizeof ifname, "ifname")) return NULL;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { hafw_throw_errno(env, "socket", errno); return NULL; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, strlen(ifname));
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) { int e = errno; close(fd); hafw_throw_errno(env, "SIOCGIFHWADDR", e); return NULL; }
  close(fd);
  napi_value out, mac, ab;
  void *p;
  napi_create_arraybuffer(env, 6, &p, &ab);
  memcpy(p, ifr.ifr_hwaddr.sa_data, 6);
  napi_create_typedarray(env, napi_uint8_array, 6, ab, 0, &mac);
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "index", int_value(env, (int)if_nametoindex(ifname)));
  napi_set_named_property(env, out, "mac", mac);
  return out;
}

/* setRealtime(priority) -> true, or throws: the calling thread gets SCHED_RR at `priority`
 * (1-99). For the thread that runs VRRP's timers: under full load, ordinary scheduling can
 * delay a 10 ms advertisement past Master_Down_Interval (keepalived does the same). */
#include <sched.h>
napi_value hafw_set_realtime(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int prio;
  if (argc < 1 || hafw_get_int(env, argv[0], "priority", &prio)) return NULL;
  struct sched_param sp;
  memset(&sp, 0, sizeof sp);
  sp.sched_priority = prio;
  if (sched_setscheduler(0, SCHED_RR, &sp) < 0) { hafw_throw_errno(env, "sched_setscheduler(SCHED_RR)", errno); return NULL; }
  napi_value t;
  napi_get_boolean(env, true, &t);
  return t;
}
