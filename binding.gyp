{
  "targets": [
    {
      "target_name": "hafw_native",
      "sources": ["node/native/addon.c", "node/native/tun.c", "node/native/batch-io.c", "node/native/sockets.c", "node/native/notify.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"]
    }
  ]
}
