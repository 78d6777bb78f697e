/* ipc_internal.h: what ipc_host.c, ipc_nic.c and ipc_common.c share. */
#ifndef BT_IPC_INTERNAL_H
#define BT_IPC_INTERNAL_H

#include "ipc_chan.h"
#include "ipc_proto.h"

#define IPC_MAX_REGIONS 1024u
#define IPC_MAX_SEGS 256u
#define IPC_MAX_SEG_BYTES (1ull << 40)
#define IPC_HELLO_WAIT_MS 500

extern const struct chan_ops ipc_host_ops;
extern const struct chan_ops ipc_nic_ops;

int ipc_sock_send(int fd, const struct ipc_sock_msg *m, int pass_fd);
/* One message; *fd_out the first descriptor passed with it (others are
 * closed), or -1. 0, or -1 with errno (ETIMEDOUT, ECONNRESET, EPROTO). */
int ipc_sock_recv(int fd, struct ipc_sock_msg *m, int *fd_out, int timeout_ms);
/* 1 if the peer hung up (one poll(2) with timeout 0). */
int ipc_sock_hung_up(int fd);
/* A random non-zero 32-bit key. */
uint32_t ipc_random_key(void);

int ipc_host_stats(const struct chan *ch, struct ipc_chan_stats *out);
int ipc_nic_stats(const struct chan *ch, struct ipc_chan_stats *out);
int ipc_host_check(struct chan *ch);
int ipc_host_broken(const struct chan *ch);
int ipc_nic_broken(const struct chan *ch);
int ipc_nic_check(struct chan *ch);


#endif
