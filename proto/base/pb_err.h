/* Error codes shared by every module and carried in Response.code.
 * Functions return 0 on success or one of these (never errno values). */
#ifndef PB_ERR_H
#define PB_ERR_H

enum pb_err {
	PB_OK = 0,
	PB_EINVAL,      /* bad argument or malformed input */
	PB_ENOMEM,
	PB_EIO,         /* storage or system call failed */
	PB_ENOTFOUND,
	PB_EEXIST,
	PB_EAUTH,       /* unknown key, bad signature or MAC */
	PB_ESTALE,      /* timestamp outside the allowed skew */
	PB_EREPLAY,     /* nonce already seen */
	PB_EFORBIDDEN,  /* authenticated, but not allowed this */
	PB_ELEASE,      /* lease token wrong or expired */
	PB_ESTATE,      /* operation illegal in the current state */
	PB_EFULL,       /* store map full or queue limit reached */
	PB_EUNAVAIL,    /* peer unreachable or timed out */
	PB_ECORRUPT,    /* stored data failed a check */
	PB_ETOOBIG,
	PB_ELIMIT,      /* over a configured cap (extensions, sizes) */
	PB_ERR_COUNT
};

/* Stable lower-case name, e.g. "not_found". */
const char *pb_err_name(int err);
/* Short human description. */
const char *pb_err_str(int err);

#endif
