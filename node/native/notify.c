/* One datagram to a unix datagram socket: sd_notify(3)'s transport (READY=1, WATCHDOG=1
 * to $NOTIFY_SOCKET). Node's dgram module has no AF_UNIX datagrams and net.Socket is
 * stream-only; this is the one missing syscall, with no libsystemd dependency. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "common.h"

/* unixDgramSend(path, bytes) -> bytes sent. A path starting with '@' names an abstract
 * socket (a leading NUL byte, not a file), as systemd writes them in $NOTIFY_SOCKET. One
 * socket per call: the callers send a few datagrams a minute. */
napi_value hafw_unix_dgram_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) { hafw_throw(env, "unixDgramSend(path, bytes)"); return NULL; }
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  size_t len = 0;
  /* sun_path holds 108 bytes; no NUL terminator is needed with an explicit address length. */
  char path[sizeof sun.sun_path + 1];
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len > sizeof sun.sun_path) {
    napi_throw_type_error(env, NULL, "argument path must be a string of 1 to 108 bytes");
    return NULL;
  }
  if (len < 2 && path[0] == '@') { napi_throw_type_error(env, NULL, "argument path: an abstract name needs a name after '@'"); return NULL; }
  memcpy(sun.sun_path, path, len);
  if (path[0] == '@') sun.sun_path[0] = '\0';
  socklen_t addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  void *data;
  size_t n;
  if (hafw_get_bytes(env, argv[1], "bytes", &data, &n)) return NULL;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { hafw_throw_errno(env, "socket(AF_UNIX)", errno); return NULL; }
  ssize_t sent = sendto(fd, data, n, MSG_NOSIGNAL, (struct sockaddr *)&sun, addrlen);
  int e = errno;
  close(fd);
  if (sent < 0) { hafw_throw_errno(env, "sendto(NOTIFY_SOCKET)", e); return NULL; }
  napi_value out;
  napi_create_int64(env, (int64_t)sent, &out);
  return out;
}
