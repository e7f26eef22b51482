/* Opening a TUN device with the virtio-net header and offloads.
 *
 * With IFF_VNET_HDR every packet is preceded by a struct virtio_net_hdr. Announcing
 * TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 tells the kernel we can take packets whose
 * checksum is still to be completed and TCP super-packets (up to 64 KB) that it will
 * segment only when they leave through a device that cannot: the filter reads one header
 * for dozens of wire packets. Writing the packet back with its header unchanged keeps
 * those properties on the way out. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "common.h"

napi_value hafw_tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) { hafw_throw(env, "tunOpen(name, offloads) needs 2 arguments"); return NULL; }

  char name[IFNAMSIZ];
  size_t name_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok ||
      name_len == 0 || name_len >= IFNAMSIZ - 1) {
    napi_throw_type_error(env, NULL, "TUN device name must be a string of 1-14 characters");
    return NULL;
  }
  bool offloads = false;
  napi_get_value_bool(env, argv[1], &offloads);

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) { hafw_throw_errno(env, "open /dev/net/tun", errno); return NULL; }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
  memcpy(ifr.ifr_name, name, name_len);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno; close(fd);
    hafw_throw_errno(env, "ioctl TUNSETIFF", e); return NULL;
  }
  /* The plain 10-byte header: we never use mergeable receive buffers. */
  int hdr_len = 10;
  if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
    int e = errno; close(fd);
    hafw_throw_errno(env, "ioctl TUNSETVNETHDRSZ", e); return NULL;
  }
  unsigned int off = offloads ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) : 0;
  if (ioctl(fd, TUNSETOFFLOAD, off) < 0) {
    int e = errno; close(fd);
    hafw_throw_errno(env, "ioctl TUNSETOFFLOAD", e); return NULL;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int e = errno; close(fd);
    hafw_throw_errno(env, "fcntl O_NONBLOCK", e); return NULL;
  }

  napi_value result, v;
  napi_create_object(env, &result);
  napi_create_int32(env, fd, &v);
  napi_set_named_property(env, result, "fd", v);
  napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "name", v);
  napi_create_int32(env, hdr_len, &v);
  napi_set_named_property(env, result, "vnetHdrLen", v);
  return result;
}

napi_value hafw_fd_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 1 || hafw_get_int(env, argv[0], "fd", &fd)) return NULL;
  if (close(fd) < 0) hafw_throw_errno(env, "close", errno);
  return NULL;
}
