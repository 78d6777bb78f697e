#include "channel.h"

const char *chan_err_name(int err)
{
	switch (err) {
	case CHAN_OK:
		return "CHAN_OK (success)";
	case CHAN_EAGAIN:
		return "CHAN_EAGAIN (no send-queue slot or message credit now)";
	case CHAN_EINVAL:
		return "CHAN_EINVAL (bad argument)";
	case CHAN_EACCESS:
		return "CHAN_EACCESS (remote access refused: key, bounds or permission)";
	case CHAN_ELOCAL:
		return "CHAN_ELOCAL (local region key or bounds refused)";
	case CHAN_ENOMEM:
		return "CHAN_ENOMEM (out of resources)";
	case CHAN_EDISCONNECTED:
		return "CHAN_EDISCONNECTED (link broken or peer gone)";
	case CHAN_EFLUSHED:
		return "CHAN_EFLUSHED (cancelled: link broke)";
	case CHAN_ETOOBIG:
		return "CHAN_ETOOBIG (message longer than CHAN_MSG_MAX_BYTES)";
	case CHAN_EIO:
		return "CHAN_EIO (error completion: transport failure)";
	case CHAN_EINTR:
		return "CHAN_EINTR (wait interrupted by a signal handler)";
	default:
		return "unknown";
	}
}
