/* What the auditor is handed: key lines, checkpoint notes and the JSON
 * documents the gateway serves (proofs, receipts), parsed strictly; and
 * the one-line verdict every transparency command prints on failure. */
#include "au_tlog.h"
#include "pb_err.h"
#include "pb_id.h"
#include "sn.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX (1u << 20)

/* The note module owns the format; these keep the auditor's name bound. */
void au_vkey_format(const char *name, uint8_t type, const uint8_t pk[32], char *buf, size_t len)
{
	sn_vkey_format(name, type, pk, buf, len);
}

int au_vkey_parse(const char *s, size_t len, uint8_t type, char name[AU_KEYNAME_MAX],
                  uint8_t pk[32])
{
	return sn_vkey_parse(s, len, type, name, AU_KEYNAME_MAX, pk);
}

int au_pubkey(const char *path, int json, char name[AU_KEYNAME_MAX], uint8_t pk[32])
{
	int rc = st_pubkey_load(path, name, AU_KEYNAME_MAX, pk);

	if (rc == PB_ENOTFOUND || rc == PB_EIO)
		return au_fail(json, AU_EXIT_OPEN, "cannot_open", "cannot read %s", path);
	if (rc)
		return au_fail(json, AU_EXIT_INVALID, "bad_pubkey", "%s: not a public key file (%s)",
		               path, pb_err_str(rc));
	return AU_EXIT_OK;
}

static int note_open(struct au_note *n, const char *name, const uint8_t pk[32], int checked,
                     char *why, size_t wlen)
{
	struct sn_checkpoint cp;
	const char *body;
	size_t blen;
	int rc = checked ? sn_open_checked_key(n->text, n->len, name, pk, &body, &blen)
	                 : sn_open(n->text, n->len, name, pk, &body, &blen);

	if (rc == PB_EAUTH) {
		snprintf(why, wlen, "no valid signature by %s", name);
		return AU_EXIT_CHECKPOINT;
	}
	if (rc == PB_OK)
		rc = sn_checkpoint_parse(body, blen, &cp);
	if (rc) {
		snprintf(why, wlen, "not a signed checkpoint (%s)", pb_err_str(rc));
		return AU_EXIT_CHECKPOINT;
	}
	if (cp.origin_len != strlen(name) || memcmp(cp.origin, name, cp.origin_len) != 0) {
		snprintf(why, wlen, "origin is not %s", name);
		return AU_EXIT_CHECKPOINT;
	}
	n->blen = blen;
	n->size = cp.size;
	memcpy(n->root, cp.root, sizeof(n->root));
	return AU_EXIT_OK;
}

int au_note_open(struct au_note *n, const char *name, const uint8_t pk[32], char *why,
                 size_t wlen)
{
	return note_open(n, name, pk, 0, why, wlen);
}

int au_note_open_checked(struct au_note *n, const char *name, const uint8_t pk[32], char *why,
                         size_t wlen)
{
	return note_open(n, name, pk, 1, why, wlen);
}

int au_note_peek(struct au_note *n, const char *origin, char *why, size_t wlen)
{
	struct sn_checkpoint cp;
	size_t i;

	/* The body ends at the last blank line (signed-note); the signature
	 * lines are judged when a key is known. */
	for (i = n->len; i > 1; i--)
		if (n->text[i - 1] == '\n' && n->text[i - 2] == '\n')
			break;
	if (i <= 1 || sn_checkpoint_parse(n->text, i - 1, &cp) != PB_OK) {
		snprintf(why, wlen, "not a signed checkpoint");
		return AU_EXIT_CHECKPOINT;
	}
	if (cp.origin_len != strlen(origin) || memcmp(cp.origin, origin, cp.origin_len) != 0) {
		snprintf(why, wlen, "origin is not %s", origin);
		return AU_EXIT_CHECKPOINT;
	}
	n->blen = i - 1;
	n->size = cp.size;
	memcpy(n->root, cp.root, sizeof(n->root));
	return AU_EXIT_OK;
}

int au_note_open_keys(struct au_note *n, const struct au_keyring *kr, char *why, size_t wlen)
{
	const struct au_key *k = au_keyring_at(kr, n->size);
	/* room for any reason au_note_open gives, though this one is unread */
	char a[AU_LABEL_MAX], b[AU_LABEL_MAX], dummy[AU_KEYNAME_MAX + 64];
	int cls;

	if (!k) {
		snprintf(why, wlen, "no key of the log signs size %llu", (unsigned long long)n->size);
		return AU_EXIT_CHECKPOINT;
	}
	if ((cls = au_note_open(n, k->name, k->pk, why, wlen)) == AU_EXIT_OK)
		return AU_EXIT_OK;
	/* After a rotation the retired key alone is not enough. */
	for (size_t i = 0; i < kr->n && &kr->k[i] != k; i++)
		if (au_note_open(n, kr->k[i].name, kr->k[i].pk, dummy, sizeof(dummy)) == AU_EXIT_OK) {
			st_key_label(kr->k[i].name, kr->k[i].pk, a, sizeof(a));
			st_key_label(k->name, k->pk, b, sizeof(b));
			snprintf(why, wlen,
			         "signed only by the retired key %s; checkpoints of size %llu and more "
			         "need %s",
			         a, (unsigned long long)k->from, b);
			return AU_EXIT_CHECKPOINT;
		}
	return cls;
}

int au_note_read(const char *path, int json, const char *origin, struct au_note *n)
{
	char why[256];
	int rc, cls;

	memset(n, 0, sizeof(*n));
	if ((rc = au_read_all(path, AU_NOTE_MAX, &n->text, &n->len)))
		return au_file_fail(json, rc, path);
	if ((cls = au_note_peek(n, origin, why, sizeof(why)))) {
		free(n->text);
		n->text = NULL;
		return au_report_fail(json, cls, "checkpoint", 0, "%s: %s", path, why);
	}
	return AU_EXIT_OK;
}

int au_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n)
{
	const char *end;

	if (sodium_base642bin(out, cap, s, len, NULL, n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + len)
		return PB_EINVAL;
	return PB_OK;
}

int au_json_hashes(json_t *a, uint8_t (*out)[MT_HASH_LEN], size_t cap, size_t *n)
{
	size_t i, got;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) > cap)
		return PB_EINVAL;
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || au_b64_decode(s, strlen(s), out[i], MT_HASH_LEN, &got) || got != MT_HASH_LEN)
			return PB_EINVAL;
	}
	*n = json_array_size(a);
	return PB_OK;
}

int au_inclusion_json(json_t *doc, struct au_inclusion *p)
{
	json_t *leaf = json_object_get(doc, "leaf_hash"), *entry = json_object_get(doc, "entry");
	json_t *cp = json_object_get(doc, "checkpoint");
	const char *s;
	size_t n, got;

	memset(p, 0, sizeof(*p));
	if (au_json_u64(doc, "index", &p->index) || au_json_u64(doc, "size", &p->size) ||
	    au_json_hashes(json_object_get(doc, "proof"), p->path, MT_PROOF_MAX, &p->len))
		return PB_EINVAL;
	if (leaf) {
		if (!(s = json_string_value(leaf)) ||
		    au_b64_decode(s, strlen(s), p->leaf, MT_HASH_LEN, &got) || got != MT_HASH_LEN)
			return PB_EINVAL;
		p->has_leaf = 1;
	}
	if (entry) {
		if (!(s = json_string_value(entry)) || !(n = strlen(s)))
			return PB_EINVAL;
		if (!(p->entry = malloc(n / 4 * 3 + 3)))
			return PB_ENOMEM;
		if (au_b64_decode(s, n, p->entry, n / 4 * 3 + 3, &p->elen) || p->elen == 0) {
			au_inclusion_free(p);
			return PB_EINVAL;
		}
	}
	if (cp) {
		if (!(s = json_string_value(cp)) || !(n = strlen(s)) || n > AU_NOTE_MAX) {
			au_inclusion_free(p);
			return PB_EINVAL;
		}
		if (!(p->note = strdup(s))) {
			au_inclusion_free(p);
			return PB_ENOMEM;
		}
		p->nlen = n;
	}
	return PB_OK;
}

void au_inclusion_free(struct au_inclusion *p)
{
	free(p->entry);
	free(p->note);
	p->entry = NULL;
	p->note = NULL;
	p->elen = p->nlen = 0;
}

int au_json_u64(json_t *j, const char *key, uint64_t *v)
{
	json_t *x = json_object_get(j, key);

	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return PB_EINVAL;
	*v = (uint64_t)json_integer_value(x);
	return PB_OK;
}

int au_json_file(const char *path, int json, json_t **out)
{
	json_error_t e;
	size_t len;
	char *text;
	int rc;

	if ((rc = au_read_all(path, JSON_MAX, &text, &len)))
		return au_file_fail(json, rc, path);
	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	free(text);
	if (!*out || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return au_fail(json, AU_EXIT_INVALID, "invalid_json", "%s: not a JSON object (%s)",
		               path, e.text);
	}
	return AU_EXIT_OK;
}

int au_report_fail(int json, int cls, const char *where, uint64_t at, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (json) {
		int rc = au_emit(json_pack("{s:b, s:s, s:s, s:s, s:I}", "ok", 0, "fail",
		                           au_class_name(cls), "message", text, "where", where,
		                           "at", (json_int_t)at));
		return rc ? rc : cls;
	}
	printf("FAIL %s: %s %llu: ", au_class_name(cls), where, (unsigned long long)at);
	au_put_clean(text);
	putchar('\n');
	fflush(stdout);
	return cls;
}
