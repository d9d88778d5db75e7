/* The demo's sender: each notice becomes a file under [notify] folder,
 * named by its event id, written whole (a temporary file renamed), so a
 * notice handled twice is still one file. Nothing leaves the machine. */
#include "nt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void nt_folder_write(const struct pb_conf *c, const Mailroom__NoticeEntry *e,
                     const struct nt_msg *m, struct nt_result *r)
{
	char path[PB_PATH_MAX + 160], tmp[PB_PATH_MAX + 170];
	FILE *f;
	int ok;

	r->outcome = NT_RETRY;
	r->why[0] = '\0';
	if (mkdir(c->notify_folder, 0700) != 0 && errno != EEXIST) {
		snprintf(r->why, sizeof(r->why), "folder: cannot create: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/%s.txt", c->notify_folder, e->event_id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		snprintf(r->why, sizeof(r->why), "folder: cannot write: %s", strerror(errno));
		return;
	}
	fprintf(f, "To: %s\nMedium: %s\n", e->to, e->medium);
	if (*m->subject)
		fprintf(f, "Subject: %s\n", m->subject);
	if (*m->template_id)
		fprintf(f, "TemplateId: %s\n", m->template_id);
	fprintf(f, "\n%s\n", m->text);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		snprintf(r->why, sizeof(r->why), "folder: cannot write: %s", strerror(errno));
		return;
	}
	r->outcome = NT_SENT;
}
