/* Batched packet I/O on a non-blocking fd, driven by uv_poll on the calling thread's loop.
 *
 * Why not fs.read: blocking reads on the libuv thread pool starve fs/dns and hang exit
 * (DESIGN §8). Here the fd is watched with uv_poll; on each wake-up we read() until the
 * batch is full or the fd is drained, straight into slots of one preallocated arena that
 * JavaScript also sees, call JavaScript once with the count, then write back every slot
 * whose verdict byte says so. No allocation and no copy per packet. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "common.h"

/* Indices into the stats Float64Array shared with JavaScript (keep in sync with
 * node/native/index.ts NativeStat). */
enum { ST_WAKEUPS = 0, ST_BATCHES, ST_READ_ERRORS, ST_WRITE_ERRORS, ST_WRITTEN, ST_COUNT };

enum { VERDICT_DROP = 0, VERDICT_FORWARD = 1 };

typedef struct reader {
  napi_env env;
  uv_poll_t poll;
  int fd;
  uint8_t *arena;
  size_t slot_size;
  int slot_count;
  int32_t *lengths;
  uint8_t *verdicts;
  double *stats;
  int max_batches_per_wake;
  napi_ref refs[5]; /* arena, lengths, verdicts, stats, callback: kept alive while we run */
  napi_async_context actx;
  int polling;
  int closed;
} reader_t;

static void on_closed(uv_handle_t *h) { free(h->data); }

static void reader_close(reader_t *r) {
  if (r->closed) return;
  r->closed = 1;
  if (r->polling) uv_poll_stop(&r->poll);
  r->polling = 0;
  for (int i = 0; i < 5; i++) {
    if (r->refs[i]) { napi_delete_reference(r->env, r->refs[i]); r->refs[i] = NULL; }
  }
  napi_async_destroy(r->env, r->actx);
  uv_close((uv_handle_t *)&r->poll, on_closed);
}

static void cleanup_hook(void *arg) {
  reader_t *r = arg;
  if (!r->closed) reader_close(r);
}

static void call_js(reader_t *r, int n) {
  napi_handle_scope scope;
  napi_open_handle_scope(r->env, &scope);
  napi_value cb, global, argv[1], result;
  napi_get_reference_value(r->env, r->refs[4], &cb);
  napi_get_global(r->env, &global);
  napi_create_int32(r->env, n, &argv[0]);
  napi_make_callback(r->env, r->actx, global, cb, 1, argv, &result);
  napi_close_handle_scope(r->env, scope);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  reader_t *r = h->data;
  r->stats[ST_WAKEUPS] += 1;
  if (status < 0) { r->stats[ST_READ_ERRORS] += 1; return; }
  for (int b = 0; b < r->max_batches_per_wake && r->polling; b++) {
    int n = 0;
    while (n < r->slot_count) {
      ssize_t got = read(r->fd, r->arena + (size_t)n * r->slot_size, r->slot_size);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) r->stats[ST_READ_ERRORS] += 1;
        break;
      }
      r->lengths[n] = (int32_t)got;
      r->verdicts[n] = VERDICT_DROP;
      n++;
    }
    if (n == 0) break;
    r->stats[ST_BATCHES] += 1;
    call_js(r, n);
    if (r->closed) return;
    for (int i = 0; i < n; i++) {
      if (r->verdicts[i] != VERDICT_FORWARD) continue;
      int32_t len = r->lengths[i];
      if (len <= 0 || (size_t)len > r->slot_size) { r->stats[ST_WRITE_ERRORS] += 1; continue; }
      ssize_t put;
      do { put = write(r->fd, r->arena + (size_t)i * r->slot_size, (size_t)len); } while (put < 0 && errno == EINTR);
      if (put < 0) r->stats[ST_WRITE_ERRORS] += 1; else r->stats[ST_WRITTEN] += 1;
    }
    if (n < r->slot_count) break; /* drained */
  }
}

static reader_t *reader_from(napi_env env, napi_callback_info info) {
  void *data = NULL;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  return data;
}

static napi_value reader_start(napi_env env, napi_callback_info info) {
  reader_t *r = reader_from(env, info);
  if (r->closed) { hafw_throw(env, "reader is closed"); return NULL; }
  if (!r->polling) {
    int rc = uv_poll_start(&r->poll, UV_READABLE, on_poll);
    if (rc < 0) { hafw_throw_errno(env, "uv_poll_start", -rc); return NULL; }
    r->polling = 1;
  }
  return NULL;
}

static napi_value reader_stop(napi_env env, napi_callback_info info) {
  reader_t *r = reader_from(env, info);
  if (!r->closed && r->polling) { uv_poll_stop(&r->poll); r->polling = 0; }
  return NULL;
}

static napi_value reader_close_js(napi_env env, napi_callback_info info) {
  reader_t *r = reader_from(env, info);
  if (!r->closed) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, r);
    reader_close(r);
  }
  return NULL;
}

/* readerCreate(fd, arena, slotSize, slotCount, lengths Int32Array, verdicts Uint8Array,
 *              stats Float64Array, onBatch(n), maxBatchesPerWake) -> {start, stop, close} */
napi_value hafw_reader_create(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 9) { hafw_throw(env, "readerCreate needs 9 arguments"); return NULL; }
  int fd, slot_size, slot_count, max_batches;
  void *arena, *lengths, *verdicts, *stats;
  size_t arena_len, lengths_len, verdicts_len, stats_len;
  if (hafw_get_int(env, argv[0], "fd", &fd) ||
      hafw_get_bytes(env, argv[1], "arena", &arena, &arena_len) ||
      hafw_get_int(env, argv[2], "slotSize", &slot_size) ||
      hafw_get_int(env, argv[3], "slotCount", &slot_count) ||
      hafw_get_bytes(env, argv[4], "lengths", &lengths, &lengths_len) ||
      hafw_get_bytes(env, argv[5], "verdicts", &verdicts, &verdicts_len) ||
      hafw_get_bytes(env, argv[6], "stats", &stats, &stats_len) ||
      hafw_get_int(env, argv[8], "maxBatchesPerWake", &max_batches))
    return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[7], &t);
  if (t != napi_function) { napi_throw_type_error(env, NULL, "onBatch must be a function"); return NULL; }
  if (slot_size <= 0 || slot_count <= 0 || max_batches <= 0 ||
      arena_len < (size_t)slot_size * (size_t)slot_count ||
      lengths_len < (size_t)slot_count * 4 || verdicts_len < (size_t)slot_count ||
      stats_len < ST_COUNT * sizeof(double)) {
    napi_throw_range_error(env, NULL, "readerCreate: arena, lengths, verdicts or stats too small for slotSize x slotCount");
    return NULL;
  }

  reader_t *r = calloc(1, sizeof *r);
  if (!r) { hafw_throw_errno(env, "calloc", ENOMEM); return NULL; }
  r->env = env;
  r->fd = fd;
  r->arena = arena;
  r->slot_size = (size_t)slot_size;
  r->slot_count = slot_count;
  r->lengths = lengths;
  r->verdicts = verdicts;
  r->stats = stats;
  r->max_batches_per_wake = max_batches;
  int ref_args[5] = {1, 4, 5, 6, 7};
  for (int i = 0; i < 5; i++) napi_create_reference(env, argv[ref_args[i]], 1, &r->refs[i]);
  napi_value name;
  napi_create_string_utf8(env, "hafw.tunReader", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->actx);

  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc < 0) {
    for (int i = 0; i < 5; i++) napi_delete_reference(env, r->refs[i]);
    napi_async_destroy(env, r->actx);
    free(r);
    hafw_throw_errno(env, "uv_poll_init", -rc);
    return NULL;
  }
  r->poll.data = r;
  napi_add_env_cleanup_hook(env, cleanup_hook, r);

  napi_value obj, fn;
  napi_create_object(env, &obj);
  napi_create_function(env, "start", NAPI_AUTO_LENGTH, reader_start, r, &fn);
  napi_set_named_property(env, obj, "start", fn);
  napi_create_function(env, "stop", NAPI_AUTO_LENGTH, reader_stop, r, &fn);
  napi_set_named_property(env, obj, "stop", fn);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, reader_close_js, r, &fn);
  napi_set_named_property(env, obj, "close", fn);
  return obj;
}

/* writePacket(fd, bytes, offset, length) -> bytes written; for packets the datapath
 * makes itself (TCP resets, ICMP errors) rather than forwards from a slot. */
napi_value hafw_write_packet(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) { hafw_throw(env, "writePacket(fd, bytes, offset, length) needs 4 arguments"); return NULL; }
  int fd, offset, length;
  void *data;
  size_t len;
  if (hafw_get_int(env, argv[0], "fd", &fd) || hafw_get_bytes(env, argv[1], "bytes", &data, &len) ||
      hafw_get_int(env, argv[2], "offset", &offset) || hafw_get_int(env, argv[3], "length", &length))
    return NULL;
  if (offset < 0 || length < 0 || (size_t)offset + (size_t)length > len) {
    napi_throw_range_error(env, NULL, "writePacket: offset/length outside the buffer");
    return NULL;
  }
  ssize_t put;
  do { put = write(fd, (uint8_t *)data + offset, (size_t)length); } while (put < 0 && errno == EINTR);
  if (put < 0) { hafw_throw_errno(env, "write", errno); return NULL; }
  napi_value out;
  napi_create_int32(env, (int32_t)put, &out);
  return out;
}
