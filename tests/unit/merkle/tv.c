#include "tv.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tv_present(const char *rel)
{
	char path[4096];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/%s", TV_DIR, rel);

	return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0;
}

char *tv_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static int is_json(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

long tv_walk(const char *dir, tv_file_fn fn, void *arg)
{
	struct dirent **ents;
	long count = 0;
	int n = scandir(dir, &ents, NULL, alphasort);

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		const char *name = ents[i]->d_name;
		int w = snprintf(path, sizeof(path), "%s/%s", dir, name);

		if (name[0] == '.' || w < 0 || (size_t)w >= sizeof(path) || stat(path, &st) != 0) {
			free(ents[i]);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			long sub = tv_walk(path, fn, arg);
			if (sub > 0)
				count += sub;
		} else if (is_json(name)) {
			char *text = tv_read(path, NULL);
			if (text) {
				fn(path, text, arg);
				free(text);
				count++;
			}
		}
		free(ents[i]);
	}
	free(ents);
	return count;
}

int tv_b64(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	const char *end;

	if (sodium_base642bin(out, cap, s, strlen(s), NULL, len, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 || *end != '\0')
		return -1;
	return 0;
}

int tv_u64(const char *text, const char *key, uint64_t *v)
{
	char pat[64];
	const char *p;
	char *end;
	int n = snprintf(pat, sizeof(pat), "\"%s\"", key);

	if (n < 0 || (size_t)n >= sizeof(pat) || (p = strstr(text, pat)) == NULL)
		return -1;
	p += n;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != ':')
		return -1;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(p, &end, 10);
	if (errno || end == p)
		return -1;
	*v = (uint64_t)x;
	return 0;
}
