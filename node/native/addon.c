/* Module entry: registers the functions that node/native/index.ts wraps. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "common.h"

static const char *errno_code(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENODEV: return "ENODEV";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EIO: return "EIO";
    default: return "EUNKNOWN";
  }
}

void hafw_throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error, errnum;
  napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
}

void hafw_throw(napi_env env, const char *msg) { napi_throw_error(env, NULL, msg); }

int hafw_get_int(napi_env env, napi_value v, const char *name, int *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "argument %s must be an integer", name);
    napi_throw_type_error(env, NULL, msg);
    return -1;
  }
  return 0;
}

/* Accepts an ArrayBuffer, SharedArrayBuffer or any TypedArray/Buffer view. */
int hafw_get_bytes(napi_env env, napi_value v, const char *name, void **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset);
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    *len = length * elem;
    return 0;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    napi_get_arraybuffer_info(env, v, data, len);
    return 0;
  }
  char msg[128];
  snprintf(msg, sizeof msg, "argument %s must be an ArrayBuffer or typed array", name);
  napi_throw_type_error(env, NULL, msg);
  return -1;
}

static void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  export_fn(env, exports, "tunOpen", hafw_tun_open);
  export_fn(env, exports, "fdClose", hafw_fd_close);
  export_fn(env, exports, "writePacket", hafw_write_packet);
  export_fn(env, exports, "readerCreate", hafw_reader_create);
  export_fn(env, exports, "packetOpen", hafw_packet_open);
  export_fn(env, exports, "rawIpOpen", hafw_raw_ip_open);
  export_fn(env, exports, "sendTo", hafw_send_to);
  export_fn(env, exports, "recvFrom", hafw_recv_from);
  export_fn(env, exports, "watchReadable", hafw_watch_readable);
  export_fn(env, exports, "interfaceInfo", hafw_interface_info);
  export_fn(env, exports, "setRealtime", hafw_set_realtime);
  export_fn(env, exports, "unixDgramSend", hafw_unix_dgram_send);
  return exports;
}
