#include "pb_id.h"
#include "pb_err.h"

#include <sodium.h>
#include <string.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void pb_id_new(int64_t now_ms, uint8_t id[PB_ID_LEN])
{
	uint64_t t = (uint64_t)now_ms;

	for (int i = 5; i >= 0; i--) {
		id[i] = (uint8_t)(t & 0xff);
		t >>= 8;
	}
	randombytes_buf(id + 6, PB_ID_LEN - 6);
}

int64_t pb_id_time_ms(const uint8_t id[PB_ID_LEN])
{
	uint64_t t = 0;

	for (int i = 0; i < 6; i++)
		t = (t << 8) | id[i];
	return (int64_t)t;
}

/* 128 bits in 26 five-bit groups: the first group carries 3 bits. */
void pb_id_to_text(const uint8_t id[PB_ID_LEN], char *buf)
{
	for (int c = 0; c < PB_ID_TEXT_LEN; c++) {
		int bit = c == 0 ? 0 : 3 + (c - 1) * 5;   /* bits before this group's low end */
		int width = c == 0 ? 3 : 5;
		unsigned v = 0;
		for (int b = 0; b < width; b++) {
			int pos = bit + b;   /* 0 = most significant bit of id */
			v = (v << 1) | ((id[pos / 8] >> (7 - pos % 8)) & 1);
		}
		buf[c] = crockford[v];
	}
	buf[PB_ID_TEXT_LEN] = '\0';
}

static int crockford_val(char ch)
{
	if (ch >= 'a' && ch <= 'z')
		ch = (char)(ch - 'a' + 'A');
	if (ch == 'O')
		ch = '0';
	if (ch == 'I' || ch == 'L')
		ch = '1';
	const char *p = ch ? strchr(crockford, ch) : NULL;
	return p ? (int)(p - crockford) : -1;
}

int pb_id_from_text(const char *s, uint8_t id[PB_ID_LEN])
{
	if (strlen(s) != PB_ID_TEXT_LEN)
		return PB_EINVAL;
	memset(id, 0, PB_ID_LEN);
	for (int c = 0; c < PB_ID_TEXT_LEN; c++) {
		int v = crockford_val(s[c]);
		int bit = c == 0 ? 0 : 3 + (c - 1) * 5;
		int width = c == 0 ? 3 : 5;
		if (v < 0 || (c == 0 && v > 7))
			return PB_EINVAL;
		for (int b = 0; b < width; b++) {
			int pos = bit + b;
			if ((v >> (width - 1 - b)) & 1)
				id[pos / 8] |= (uint8_t)(1 << (7 - pos % 8));
		}
	}
	return PB_OK;
}

static const uint8_t damm[10][10] = {
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2}, {7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9}, {1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8}, {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4}, {8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5}, {2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
};

static int damm_digit(const char *digits, int n)
{
	int interim = 0;

	for (int i = 0; i < n; i++)
		interim = damm[interim][digits[i] - '0'];
	return interim;
}

static void track_format(const char *d, char *buf)
{
	memcpy(buf, d, 4);
	buf[4] = '-';
	memcpy(buf + 5, d + 4, 4);
	buf[9] = '-';
	memcpy(buf + 10, d + 8, 4);
	buf[14] = '\0';
}

void pb_track_new(char *buf)
{
	char d[PB_TRACK_DIGITS];
	uint8_t rnd[32];
	size_t r = 0;
	int n = 0;

	/* One draw for all digits; bytes >= 250 are skipped so each digit
	 * stays uniform. A leading zero is easy to drop when read aloud. */
	while (n < PB_TRACK_DIGITS - 1) {
		if (r == 0 || r == sizeof(rnd)) {
			randombytes_buf(rnd, sizeof(rnd));
			r = 0;
		}
		uint8_t b = rnd[r++];
		if (b >= 250 || (n == 0 && b % 10 == 0))
			continue;
		d[n++] = (char)('0' + b % 10);
	}
	d[PB_TRACK_DIGITS - 1] = (char)('0' + damm_digit(d, PB_TRACK_DIGITS - 1));
	track_format(d, buf);
}

/* The codes with no leading zero, [10^10, 10^11), are 300000^2 numbers:
 * a balanced Feistel network over Z_300000 x Z_300000 permutes them with
 * no cycle walking. Ten rounds as in FF1 (NIST SP 800-38G), each a keyed
 * BLAKE2b of the round number and the right half, reduced mod 300000
 * (a 64-bit value: the bias is below 2^-45). */
#define FE_HALF 300000u
#define FE_ROUNDS 10
#define FE_BASE 10000000000ULL

static uint32_t fe_round(const uint8_t key[PB_TRACK_KEY_LEN], int round, uint32_t half)
{
	uint8_t in[5] = {(uint8_t)round, (uint8_t)(half >> 24), (uint8_t)(half >> 16),
	                 (uint8_t)(half >> 8), (uint8_t)half};
	uint8_t out[8];
	uint64_t v = 0;

	crypto_generichash(out, sizeof(out), in, sizeof(in), key, PB_TRACK_KEY_LEN);
	for (int i = 0; i < 8; i++)
		v = v << 8 | out[i];
	return (uint32_t)(v % FE_HALF);
}

int pb_track_from_seq(const uint8_t key[PB_TRACK_KEY_LEN], uint64_t seq, char *buf)
{
	char d[PB_TRACK_DIGITS];
	uint32_t l, r, t;
	uint64_t v;

	if (seq >= PB_TRACK_SEQ_MAX)
		return PB_EINVAL;
	l = (uint32_t)(seq / FE_HALF);
	r = (uint32_t)(seq % FE_HALF);
	for (int i = 0; i < FE_ROUNDS; i++) {
		t = (uint32_t)((l + fe_round(key, i, r)) % FE_HALF);
		l = r;
		r = t;
	}
	v = FE_BASE + (uint64_t)l * FE_HALF + r;
	for (int i = PB_TRACK_DIGITS - 2; i >= 0; i--, v /= 10)
		d[i] = (char)('0' + v % 10);
	d[PB_TRACK_DIGITS - 1] = (char)('0' + damm_digit(d, PB_TRACK_DIGITS - 1));
	track_format(d, buf);
	return PB_OK;
}

int pb_track_to_seq(const uint8_t key[PB_TRACK_KEY_LEN], const char *code, uint64_t *seq)
{
	char canon[PB_TRACK_TEXT_LEN + 1];
	uint64_t v = 0;
	uint32_t l, r, t;
	int rc;

	if ((rc = pb_track_normalize(code, canon, sizeof(canon))))
		return rc;
	for (int i = 0; i < PB_TRACK_TEXT_LEN - 1; i++)   /* the check digit is last */
		if (canon[i] != '-')
			v = v * 10 + (uint64_t)(canon[i] - '0');
	if (v < FE_BASE)
		return PB_ENOTFOUND;   /* a leading zero: never issued from a seq */
	v -= FE_BASE;
	l = (uint32_t)(v / FE_HALF);
	r = (uint32_t)(v % FE_HALF);
	for (int i = FE_ROUNDS - 1; i >= 0; i--) {
		t = (uint32_t)((r + FE_HALF - fe_round(key, i, l)) % FE_HALF);
		r = l;
		l = t;
	}
	*seq = (uint64_t)l * FE_HALF + r;
	return PB_OK;
}

int pb_track_normalize(const char *in, char *out, size_t outlen)
{
	char d[PB_TRACK_DIGITS];
	int n = 0;

	if (outlen < PB_TRACK_TEXT_LEN + 1)
		return PB_EINVAL;
	for (size_t i = 0; in[i]; i++) {
		if (i > 64)
			return PB_EINVAL;
		if (in[i] == '-' || in[i] == ' ')
			continue;
		if (in[i] < '0' || in[i] > '9' || n == PB_TRACK_DIGITS)
			return PB_EINVAL;
		d[n++] = in[i];
	}
	if (n != PB_TRACK_DIGITS || damm_digit(d, PB_TRACK_DIGITS) != 0)
		return PB_EINVAL;
	track_format(d, out);
	return PB_OK;
}

void pb_akey_new(char *buf)
{
	uint8_t raw[24];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(buf, PB_AKEY_TEXT_LEN + 1, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

int pb_akey_hash(const char *key, size_t len, uint8_t out[PB_AKEY_HASH_LEN])
{
	static const uint8_t domain[] = "mailroom/access-key/v1";

	if (len > 256)
		return PB_EINVAL;
	/* Keys carry 192 random bits, so a fast keyed hash suffices: nothing
	 * to brute-force that a slow hash would protect. */
	crypto_generichash(out, PB_AKEY_HASH_LEN, (const uint8_t *)key, len, domain,
	                   sizeof(domain) - 1);
	return PB_OK;
}

void pb_hex(const uint8_t *in, size_t n, char *buf)
{
	sodium_bin2hex(buf, 2 * n + 1, in, n);
}

int pb_unhex(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (strlen(s) != 2 * n)
		return PB_EINVAL;
	if (sodium_hex2bin(out, n, s, 2 * n, NULL, &got, &end) != 0 || got != n)
		return PB_EINVAL;
	return PB_OK;
}

void pb_actor_id(const uint8_t pk[32], char out[PB_ACTOR_ID_TEXT])
{
	static const char tag[] = "mailroom/actor/v1\n";
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)tag, sizeof(tag) - 1);
	crypto_hash_sha256_update(&st, pk, 32);
	crypto_hash_sha256_final(&st, h);
	pb_hex(h, PB_ACTOR_ID_LEN, out);
}
