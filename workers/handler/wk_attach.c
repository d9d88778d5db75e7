/* mailroom-handler attachment ID N --out FILE: one of a message's files,
 * once the scanner found it clean, read in pieces under the wire limit and
 * checked against its SHA-256 before it is kept. */
#include "wk_cli.h"
#include "pb_err.h"
#include "pb_ftype.h"
#include "pb_id.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int wk_cmd_attachment(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__AttachmentReq q = MAILROOM__ATTACHMENT_REQ__INIT;
	crypto_hash_sha256_state sha;
	uint8_t id[PB_ID_LEN], got[32], want[32];
	char hex[65], *end;
	char type[64] = "";
	uint64_t size = 0;
	unsigned long n;
	int fd, rc = WK_EXIT_OK, last = 0;

	if (pb_id_from_text(x->o.args[0], id) != PB_OK)
		return wk_fail(WK_EXIT_INVALID, "invalid_id", "not a message id: %s", x->o.args[0]);
	errno = 0;
	n = strtoul(x->o.args[1], &end, 10);
	if (errno || *end || end == x->o.args[1] || n > 63)
		return wk_fail(WK_EXIT_INVALID, "invalid_field", "N: the file's number, from 0");
	if (!x->o.out)
		return wk_fail(WK_EXIT_USAGE, "usage", "attachment needs --out FILE");
	q.message_id.data = id;
	q.message_id.len = sizeof(id);
	q.n = (uint32_t)n;
	req.op_case = MAILROOM__REQUEST__OP_ATTACHMENT;
	req.attachment = &q;
	if ((fd = open(x->o.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return wk_fail(WK_EXIT_OTHER, "io_error", "cannot write %s: %s", x->o.out,
		               strerror(errno));
	crypto_hash_sha256_init(&sha);
	while (!last && rc == WK_EXIT_OK) {
		Mailroom__Response *r;
		const Mailroom__AttachmentResp *a;

		if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_ATTACHMENT, &r)))
			break;
		a = r->attachment;
		if (!a || !a->info || a->offset != q.offset || a->info->sha256.len != 32) {
			rc = wk_fail(WK_EXIT_OTHER, "bad_response", "the router's answer is malformed");
		} else if (write_all(fd, a->data.data, a->data.len) != 0) {
			rc = wk_fail(WK_EXIT_OTHER, "io_error", "cannot write %s", x->o.out);
		} else {
			crypto_hash_sha256_update(&sha, a->data.data, a->data.len);
			memcpy(want, a->info->sha256.data, 32);
			snprintf(type, sizeof(type), "%s", a->info->type ? a->info->type : "");
			size = a->info->size;
			q.offset += a->data.len;
			last = a->last;
			if (!last && a->data.len == 0)
				rc = wk_fail(WK_EXIT_OTHER, "bad_response", "the router sent an empty piece");
		}
		mailroom__response__free_unpacked(r, NULL);
	}
	if (close(fd) != 0 && rc == WK_EXIT_OK)
		rc = wk_fail(WK_EXIT_OTHER, "io_error", "cannot write %s", x->o.out);
	if (rc == WK_EXIT_OK) {
		crypto_hash_sha256_final(&sha, got);
		if (q.offset != size || sodium_memcmp(got, want, 32) != 0)
			rc = wk_fail(WK_EXIT_OTHER, "damaged", "the file received does not match its hash");
	}
	if (rc != WK_EXIT_OK) {
		unlink(x->o.out);
		return rc;
	}
	pb_hex(got, sizeof(got), hex);
	return wk_emit(json_pack("{s:s, s:i, s:s, s:I, s:s, s:s}", "id", x->o.args[0], "n", (int)n,
	                         "type", type, "size", (json_int_t)size, "sha256", hex, "out",
	                         x->o.out));
}

/* One --attach FILE: read whole (at most 64 MiB; the router holds to
 * [attachments] max_bytes), judged by content here too, then sent in
 * pieces under the wire limit. */
static int upload_one(struct wk_ctx *x, const char *path, char handle[65])
{
	enum { PIECE = 512 << 10 };
	struct stat sb;
	uint8_t id[16], *data;
	size_t len, off = 0;
	uint32_t seq = 0;
	FILE *f = fopen(path, "rb");
	int rc = WK_EXIT_OK;

	if (!f)
		return wk_fail(WK_EXIT_INVALID, "invalid_file", "cannot read %s: %s", path,
		               strerror(errno));
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    sb.st_size > (64 << 20)) {
		fclose(f);
		return wk_fail(WK_EXIT_INVALID, "invalid_file", "%s: not a regular file of 1 byte to 64 MiB",
		               path);
	}
	len = (size_t)sb.st_size;
	if (!(data = malloc(len)) || fread(data, 1, len, f) != len) {
		fclose(f);
		free(data);
		return wk_fail(WK_EXIT_OTHER, "io_error", "cannot read %s", path);
	}
	fclose(f);
	if (!pb_ftype_sniff(data, len)) {
		free(data);
		return wk_fail(WK_EXIT_INVALID, "unsupported_type",
		               "%s is not a JPEG, PNG or PDF (judged by its content)", path);
	}
	randombytes_buf(id, sizeof(id));
	while (rc == WK_EXIT_OK && off < len) {
		Mailroom__Request req = MAILROOM__REQUEST__INIT;
		Mailroom__UploadReq up = MAILROOM__UPLOAD_REQ__INIT;
		Mailroom__Response *r;
		size_t n = len - off > PIECE ? PIECE : len - off;

		up.upload_id.data = id;
		up.upload_id.len = sizeof(id);
		up.seq = seq++;
		up.data.data = data + off;
		up.data.len = n;
		up.final = off + n == len;
		req.op_case = MAILROOM__REQUEST__OP_UPLOAD;
		req.upload = &up;
		if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_UPLOAD, &r)))
			break;
		if (up.final) {
			if (r->upload && r->upload->handle && strlen(r->upload->handle) == 64)
				memcpy(handle, r->upload->handle, 65);
			else
				rc = wk_fail(WK_EXIT_OTHER, "bad_response", "the router gave no handle");
		}
		mailroom__response__free_unpacked(r, NULL);
		off += n;
	}
	free(data);
	return rc;
}

int wk_upload_files(struct wk_ctx *x, char (*handles)[65])
{
	int rc = WK_EXIT_OK;

	for (int i = 0; rc == WK_EXIT_OK && i < x->o.nattach; i++)
		rc = upload_one(x, x->o.attach[i], handles[i]);
	return rc;
}
