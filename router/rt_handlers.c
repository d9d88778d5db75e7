/* The handlers in force. mailroom.ini's [handler.NAME] sections are read
 * at start; mailroom-admin handler add/remove changes a list the store
 * keeps (meta "handlers", a HandlerList), written by the writer in the
 * transaction of its audit record. The store's entry for a name wins over
 * the ini's, and a removed entry (a tombstone) hides the ini's handler of
 * that name, so no configuration file is ever rewritten and a change
 * survives restarts.
 *
 * Lookups read an immutable set through one atomic pointer. After a change
 * commits, the set is rebuilt from the store and swapped in; old sets are
 * kept until shutdown, because a request in flight may point into them. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_NAME "handlers"
#define LIST_MAX (1u << 20)

struct rt_hset {
	struct rt_hset *older;
	int n, from_store;
	struct pb_handler h[];
};

static pthread_mutex_t swap_mu = PTHREAD_MUTEX_INITIALIZER;

/* The stored list, or an empty one. Free with free_unpacked (NULL-safe). */
static int list_load(st_txn *t, Mailroom__HandlerList **out)
{
	size_t len = 0;
	uint8_t *buf = malloc(LIST_MAX);
	int rc;

	*out = NULL;
	if (!buf)
		return PB_ENOMEM;
	rc = st_meta_get(t, META_NAME, buf, LIST_MAX, &len);
	if (rc == PB_ENOTFOUND) {
		free(buf);
		return PB_OK;
	}
	if (rc == PB_OK && !(*out = mailroom__handler_list__unpack(NULL, len, buf)))
		rc = PB_ECORRUPT;
	free(buf);
	return rc;
}

static const Mailroom__HandlerEntry *stored_entry(const Mailroom__HandlerList *l, const char *name)
{
	for (size_t i = 0; l && i < l->n_entries; i++)
		if (strcmp(l->entries[i]->name, name) == 0)
			return l->entries[i];
	return NULL;
}

static void entry_to_handler(const Mailroom__HandlerEntry *e, struct pb_handler *h)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", e->name);
	if (e->key.len == 32)
		memcpy(h->pubkey, e->key.data, 32);
	for (size_t i = 0; i < e->n_queues && h->nqueues < PB_MAX_QUEUES; i++)
		snprintf(h->queues[h->nqueues++], PB_NAME_MAX, "%s", e->queues[i]);
	h->may_supervise = e->supervise;
}

/* The ini's handlers that the store does not override, then the store's. */
static struct rt_hset *build(const struct pb_conf *c, const Mailroom__HandlerList *l)
{
	size_t max = (size_t)c->nhandlers + (l ? l->n_entries : 0);
	struct rt_hset *s = calloc(1, sizeof(*s) + max * sizeof(s->h[0]));

	if (!s)
		return NULL;
	for (int i = 0; i < c->nhandlers; i++)
		if (!stored_entry(l, c->handlers[i].name))
			s->h[s->n++] = c->handlers[i];
	for (size_t i = 0; l && i < l->n_entries; i++)
		if (!l->entries[i]->removed) {
			entry_to_handler(l->entries[i], &s->h[s->n++]);
			s->from_store++;
		}
	return s;
}

int rt_handlers_reload(struct rt_core *core)
{
	Mailroom__HandlerList *l = NULL;
	struct rt_hset *s;
	st_txn *t;
	int rc;

	if ((rc = st_txn_begin(core->store, NULL, 1, &t)))
		return rc;
	rc = list_load(t, &l);
	st_txn_abort(t);
	if (rc)
		return rc;
	s = build(core->conf, l);
	if (l)
		mailroom__handler_list__free_unpacked(l, NULL);
	if (!s)
		return PB_ENOMEM;
	pthread_mutex_lock(&swap_mu);
	s->older = atomic_load(&core->handlers);
	atomic_store(&core->handlers, s);
	pthread_mutex_unlock(&swap_mu);
	pb_info("handlers in force: %d (%d from the store)", s->n, s->from_store);
	return PB_OK;
}

const struct pb_handler *rt_handler_by_key(struct rt_core *core, const uint8_t pubkey[32])
{
	const struct rt_hset *s = atomic_load(&core->handlers);

	for (int i = 0; s && i < s->n; i++)
		if (sodium_memcmp(s->h[i].pubkey, pubkey, 32) == 0)
			return &s->h[i];
	return NULL;
}

void rt_handlers_free(struct rt_core *core)
{
	struct rt_hset *s = atomic_exchange(&core->handlers, NULL);

	while (s) {
		struct rt_hset *older = s->older;
		free(s);
		s = older;
	}
}

/* ------------------------------------------------------ the admin op -- */

static int valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= PB_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

static const struct pb_handler *in_force_by_name(struct rt_core *core, const char *name)
{
	const struct rt_hset *s = atomic_load(&core->handlers);

	for (int i = 0; s && i < s->n; i++)
		if (strcmp(s->h[i].name, name) == 0)
			return &s->h[i];
	return NULL;
}

static int check_add(struct rt_core *core, const Mailroom__HandlerEntry *e, struct rt_result *res)
{
	if (!e || !valid_name(e->name))
		return rt_fail(res, PB_EINVAL, "invalid_name",
		               "name: 1-63 of a-z, 0-9, '-', '_' and '.'");
	if (e->key.len != 32 || !crypto_core_ed25519_is_valid_point(e->key.data))
		return rt_fail(res, PB_EINVAL, "invalid_key", "key: an Ed25519 public key, 64 hex digits");
	if (e->n_queues == 0 || e->n_queues > PB_MAX_QUEUES)
		return rt_fail(res, PB_EINVAL, "invalid_queues", "queues: 1 to 64 queue names");
	for (size_t i = 0; i < e->n_queues; i++)
		if (!valid_name(e->queues[i]) || !pb_conf_queue_known(core->conf, e->queues[i]))
			return rt_fail(res, PB_EINVAL, "unknown_queue",
			               "queues: every one must be a queue mailroom.ini routes to");
	const struct pb_handler *other = rt_handler_by_key(core, e->key.data);
	if (other && strcmp(other->name, e->name) != 0)
		return rt_fail(res, PB_EEXIST, "key_in_use", "that key belongs to another handler");
	return PB_OK;
}

/* The list with e put in place of its name's entry (or appended). The
 * result points into l and e; free only its entries array. */
static int list_with(const Mailroom__HandlerList *l, Mailroom__HandlerEntry *e,
                     Mailroom__HandlerList *out)
{
	size_t n = l ? l->n_entries : 0, k = 0;
	Mailroom__HandlerEntry **v = calloc(n + 1, sizeof(*v));

	if (!v)
		return PB_ENOMEM;
	mailroom__handler_list__init(out);
	for (size_t i = 0; i < n; i++)
		if (strcmp(l->entries[i]->name, e->name) != 0)
			v[k++] = l->entries[i];
	v[k++] = e;
	out->entries = v;
	out->n_entries = k;
	return PB_OK;
}

static int answer_list(struct rt_core *core, st_txn *t, struct rt_result *res, uint64_t index)
{
	Mailroom__HandlerList *l = NULL;
	int rc;

	if ((rc = list_load(t, &l)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the handler list");
	if (!l) {
		l = malloc(sizeof(*l));
		if (!l || !rt_own(res, l, RT_OWN_FREE))
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		mailroom__handler_list__init(l);
	} else if (!rt_own(res, l, RT_OWN_HANDLERS)) {
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	}
	(void)core;
	l->log_index = index;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_HANDLER_ADMIN;
	res->resp.handler_admin = l;
	return PB_OK;
}

int rt_op_handler_admin(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                        const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__HandlerAdminReq *a = req->handler_admin;
	Mailroom__HandlerList *l = NULL, next;
	Mailroom__HandlerEntry tomb = MAILROOM__HANDLER_ENTRY__INIT, *e = a->entry;
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
	struct st_receipt rcpt;
	char actor[PB_NAME_MAX + 80], detail[PB_MAX_QUEUES * PB_NAME_MAX + 32];
	uint8_t *buf = NULL;
	size_t len, n = 0;
	int rc;

	if (a->action == MAILROOM__HANDLER_ACTION__HANDLER_LIST)
		return answer_list(core, t, res, 0);
	if (a->action == MAILROOM__HANDLER_ACTION__HANDLER_ADD) {
		if ((rc = check_add(core, e, res)))
			return rc;
		e->removed = 0;
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_HANDLER_ADDED;
	} else if (a->action == MAILROOM__HANDLER_ACTION__HANDLER_REMOVE) {
		const struct pb_handler *h = e && e->name ? in_force_by_name(core, e->name) : NULL;
		if (!h)
			return rt_fail(res, PB_ENOTFOUND, "not_found", "no handler of that name is in force");
		tomb.name = e->name;
		tomb.key.data = (uint8_t *)h->pubkey;
		tomb.key.len = 32;
		tomb.removed = 1;
		e = &tomb;
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_HANDLER_REMOVED;
	} else {
		return rt_fail(res, PB_EINVAL, "invalid_action", "action: add, remove or list");
	}
	if ((rc = list_load(t, &l)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the handler list");
	if ((rc = list_with(l, e, &next)) == PB_OK) {
		len = mailroom__handler_list__get_packed_size(&next);
		if (len > LIST_MAX)
			rc = PB_ETOOBIG;
		else if (!(buf = malloc(len ? len : 1)))
			rc = PB_ENOMEM;
		else
			mailroom__handler_list__pack(&next, buf);
		if (!rc)
			rc = st_meta_put(t, META_NAME, buf, len);
		free(buf);
		free(next.entries);
	}
	if (l)
		mailroom__handler_list__free_unpacked(l, NULL);
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the handler list");
	/* The record names the key and the queues, never the person. */
	detail[0] = '\0';
	for (size_t i = 0; i < e->n_queues; i++)
		n += (size_t)snprintf(detail + n, sizeof(detail) - n, "%s%s", i ? "," : "queues=",
		                      e->queues[i]);
	if (e->supervise && n < sizeof(detail))
		snprintf(detail + n, sizeof(detail) - n, ";supervise");
	rec.key.data = e->key.data;
	rec.key.len = 32;
	rec.detail = detail;
	if ((rc = rt_audit(core, t, res, &rec, NULL, rt_actor(who, actor, sizeof(actor)), now_ms,
	                   &rcpt)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot write the audit record");
	return answer_list(core, t, res, rcpt.index);
}
