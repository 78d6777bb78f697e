/* rxe_channels.h: the verbs channel factory behind `bluetas run --backend rxe`. */
#ifndef BT_CLI_RXE_CHANNELS_H
#define BT_CLI_RXE_CHANNELS_H

#include <stddef.h>

#include "../../sim/scenario.h"

struct rxe_channels;
/* NULL with a message when no RDMA device is present or on failure. */
const struct scn_chan_factory *rxe_channels_create(struct rxe_channels **out, char *err, size_t err_len);
void rxe_channels_destroy(struct rxe_channels *rc);

#endif
