/* Strict Ed25519 verification. libsodium's verify already refuses S >= L,
 * small-order R and A and non-canonical A; on top of that both A and R
 * must be canonical points of the prime-order subgroup, so every verifier
 * of ours agrees on one answer and no mixed-order key or R gets through.
 * An honest signer never produces either. */
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
	/* is_valid_point: canonical encoding, not of small order, on the
	 * curve and in the prime-order subgroup. */
	if (!crypto_core_ed25519_is_valid_point(sig) || !scalar_canonical(sig + 32))
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
