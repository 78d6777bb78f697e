/*
 * format.c: error names and text forms of IPv4 / MAC addresses.
 */
#include "core/proto/proto.h"

#include <string.h>

const char *proto_err_name(int err)
{
	switch (err) {
	case PROTO_OK: return "PROTO_OK";
	case PROTO_ETRUNC: return "PROTO_ETRUNC";
	case PROTO_EVERSION: return "PROTO_EVERSION";
	case PROTO_ECHECKSUM: return "PROTO_ECHECKSUM";
	case PROTO_EOPTION: return "PROTO_EOPTION";
	case PROTO_EUNSUPPORTED: return "PROTO_EUNSUPPORTED";
	case PROTO_ELENGTH: return "PROTO_ELENGTH";
	case PROTO_ENOSPACE: return "PROTO_ENOSPACE";
	default: return "PROTO_E?";
	}
}

/* Writes the decimal form of v (0..255), returns chars written. */
static size_t put_u8_dec(char *out, uint8_t v)
{
	size_t n = 0;
	if (v >= 100)
		out[n++] = (char)('0' + v / 100);
	if (v >= 10)
		out[n++] = (char)('0' + (v / 10) % 10);
	out[n++] = (char)('0' + v % 10);
	return n;
}

void ipv4_to_str(uint32_t ip, char out[16])
{
	size_t n = 0;
	for (int shift = 24; shift >= 0; shift -= 8) {
		n += put_u8_dec(out + n, (uint8_t)(ip >> shift));
		if (shift > 0)
			out[n++] = '.';
	}
	out[n] = '\0'; /* at most 15 chars + NUL */
}

/* Strict dotted quad: exactly four decimal octets 0..255, no sign, no
 * whitespace, no leading zeros (as inet_pton), nothing trailing. */
int ipv4_from_str(const char *s, uint32_t *ip_out)
{
	uint32_t ip = 0;

	if (s == NULL || ip_out == NULL)
		return -1;
	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		int digits = 0;
		if (part > 0) {
			if (*s != '.')
				return -1;
			s++;
		}
		while (*s >= '0' && *s <= '9') {
			if (digits == 1 && v == 0)
				return -1; /* leading zero */
			v = v * 10 + (unsigned)(*s - '0');
			if (++digits > 3 || v > 255)
				return -1;
			s++;
		}
		if (digits == 0)
			return -1;
		ip = (ip << 8) | v;
	}
	if (*s != '\0')
		return -1;
	*ip_out = ip;
	return 0;
}

void mac_to_str(const uint8_t mac[6], char out[18])
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (int i = 0; i < ETH_ADDR_BYTES; i++) {
		if (i > 0)
			out[n++] = ':';
		out[n++] = hex[mac[i] >> 4];
		out[n++] = hex[mac[i] & 0x0f];
	}
	out[n] = '\0';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly "xx:xx:xx:xx:xx:xx", hex digits of either case. */
int mac_from_str(const char *s, uint8_t mac_out[6])
{
	uint8_t mac[ETH_ADDR_BYTES];

	if (s == NULL || mac_out == NULL)
		return -1;
	for (int i = 0; i < ETH_ADDR_BYTES; i++) {
		const char *p = s + 3 * i;
		/* Checked left to right, so a short string stops at its NUL
		 * before anything past it is read. */
		int hi = hex_val(p[0]);
		if (hi < 0)
			return -1;
		int lo = hex_val(p[1]);
		if (lo < 0)
			return -1;
		char sep = p[2];
		if (sep != (i < ETH_ADDR_BYTES - 1 ? ':' : '\0'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac_out, mac, sizeof(mac));
	return 0;
}
