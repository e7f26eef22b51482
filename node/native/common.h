/* Shared helpers for the hafw N-API addon. Kept tiny: the addon only opens devices and
 * moves batches of bytes; every decision about packets is made in JavaScript. */
#ifndef HAFW_NATIVE_COMMON_H
#define HAFW_NATIVE_COMMON_H

#define NAPI_VERSION 8
#include <node_api.h>

/* Throw a JS Error whose message names the failing operation and errno text, and whose
 * `code` is the errno symbol (e.g. "ENOENT"), so callers can turn it into advice. */
void hafw_throw_errno(napi_env env, const char *what, int err);
void hafw_throw(napi_env env, const char *msg);

/* Argument helpers: return 0 on success, otherwise a JS exception is pending. */
int hafw_get_int(napi_env env, napi_value v, const char *name, int *out);
int hafw_get_bytes(napi_env env, napi_value v, const char *name, void **data, size_t *len);

napi_value hafw_tun_open(napi_env env, napi_callback_info info);
napi_value hafw_fd_close(napi_env env, napi_callback_info info);
napi_value hafw_write_packet(napi_env env, napi_callback_info info);
napi_value hafw_reader_create(napi_env env, napi_callback_info info);
napi_value hafw_packet_open(napi_env env, napi_callback_info info);
napi_value hafw_raw_ip_open(napi_env env, napi_callback_info info);
napi_value hafw_send_to(napi_env env, napi_callback_info info);
napi_value hafw_recv_from(napi_env env, napi_callback_info info);
napi_value hafw_watch_readable(napi_env env, napi_callback_info info);
napi_value hafw_interface_info(napi_env env, napi_callback_info info);
napi_value hafw_set_realtime(napi_env env, napi_callback_info info);
napi_value hafw_unix_dgram_send(napi_env env, napi_callback_info info);

#endif
