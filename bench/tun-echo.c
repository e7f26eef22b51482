/* The physical limit of a TUN design on this machine: a minimal forwarder that opens the
 * TUN device exactly like hafw (IFF_VNET_HDR, checksum + TSO4/TSO6 offloads) and writes
 * every packet straight back, one blocking read and one write per packet, no inspection.
 * Built and run by bench/datapath-throughput.ts in the node's place. Stops by itself after
 * the number of seconds given (bounded, DESIGN §6). */
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: tun-echo IFNAME MAX_SECONDS\n"); return 2; }
  int fd = open("/dev/net/tun", O_RDWR);
  if (fd < 0) { perror("open /dev/net/tun"); return 1; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); return 1; }
  int hdr = 10;
  if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) { perror("TUNSETVNETHDRSZ"); return 1; }
  if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) { perror("TUNSETOFFLOAD"); return 1; }
  alarm((unsigned)atoi(argv[2]));
  printf("ready\n");
  fflush(stdout);
  static unsigned char buf[65536 + 64];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) continue;
    if (write(fd, buf, (size_t)n) < 0) { /* dropped, like a full queue */ }
  }
}
