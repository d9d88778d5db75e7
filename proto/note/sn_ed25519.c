/* Strict Ed25519 verification. libsodium's verify already refuses S >= L,
 * small-order R and A and non-canonical A, and compares R byte for byte
 * with [S]B - [k]A, so a non-canonical R never matches. On top of that A
 * must be a canonical point of the prime-order subgroup: then [S]B - [k]A
 * lies in that subgroup too, and so does any R that verifies, without a
 * subgroup check per signature (the costly part of is_valid_point). Every
 * verifier of ours agrees on one answer; an honest signer never produces
 * a key or an R outside the subgroup. */
#include "sn_int.h"
#include "pb_err.h"

#include <sodium.h>
#include <string.h>

/* S < L, checked here too rather than trusting the library build. */
static int scalar_canonical(const uint8_t s[32])
{
	uint8_t wide[64] = {0}, red[32];

	memcpy(wide, s, 32);
	crypto_core_ed25519_scalar_reduce(red, wide);
	return memcmp(red, s, 32) == 0;
}

int sn_verify_strict_checked_key(const uint8_t sig[SN_SIG_LEN], const uint8_t *msg, size_t len,
                                 const uint8_t pk[SN_PK_LEN])
{
	if (!scalar_canonical(sig + 32))
		return PB_EAUTH;
	if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
		return PB_EAUTH;
	return PB_OK;
}

int sn_verify_strict(const uint8_t sig[SN_SIG_LEN], const uint8_t *msg, size_t len,
                     const uint8_t pk[SN_PK_LEN])
{
	if (!crypto_core_ed25519_is_valid_point(pk))
		return PB_EAUTH;
	return sn_verify_strict_checked_key(sig, msg, len, pk);
}
